"""Notebooks exported to HTML (File > Save and Export As > HTML, or jupyter nbconvert) render maths
without the internet: MathJax comes from the installed jupyter-server-mathjax package, not a CDN.
Installed into <environment>/etc/jupyter/ by `make venv` and by the student bundle."""
from pathlib import Path

try:
    import jupyter_server_mathjax

    _mathjax = Path(jupyter_server_mathjax.__file__).parent / "static" / "MathJax.js"
    c = get_config()  # noqa: F821 (injected by traitlets)
    c.HTMLExporter.mathjax_url = _mathjax.as_uri() + "?config=TeX-AMS-MML_HTMLorMML-full,Safe"
except ImportError:  # without the package nbconvert keeps its default
    pass
