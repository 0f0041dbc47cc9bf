"""HTML made from notebooks renders maths with no internet: exports use the installed MathJax, and
the student bundle installs the same nbconvert configuration."""
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat

from autograder import bundle


def test_exported_notebook_uses_the_installed_mathjax(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(r"$P(w_t = i \mid U, C)$")])
    nbformat.write(nb, str(tmp_path / "maths.ipynb"))
    jupyter = Path(sys.executable).parent / "jupyter"
    subprocess.run([str(jupyter), "nbconvert", "--to", "html", "maths.ipynb"], cwd=tmp_path, check=True,
                   capture_output=True)
    html = (tmp_path / "maths.html").read_text()
    assert "cdnjs.cloudflare.com/ajax/libs/mathjax" not in html
    local = html.split('src="file://', 1)[1].split("?", 1)[0]
    assert local.endswith("MathJax.js") and Path(local).is_file()


def test_the_bundle_installs_the_same_configuration(tmp_path):
    names = zipfile.ZipFile(bundle.build_wheel(tmp_path)).namelist()
    assert any(n.endswith(".data/data/etc/jupyter/jupyter_nbconvert_config.py") for n in names)
