"""The student bundle installs into a fresh virtual environment, holds neither the answers, nor the
hidden expectations, nor the instructor tooling, and every release notebook runs against it up to
its first exercise."""
import subprocess

import nbformat
import pytest

from autograder.bundle import grader_env
from autograder.sandbox import Limits, execute
from course_helpers import COURSE

RELEASE_NOTEBOOKS = sorted((COURSE / "release").glob("*/*.ipynb"))


@pytest.fixture(scope="module")
def env():
    return grader_env()  # the wheel, pip-installed into a fresh venv


@pytest.mark.parametrize("module, present", [
    ("ytdnn.examples", True), ("autograder.checks.networks", True), ("autograder.checks.record", True),
    ("solutions", False), ("autograder.comparator", False), ("autograder.grade", False), ("autograder.hidden", False),
])
def test_what_the_bundle_holds(env, module, present, tmp_path):
    code = f"import importlib.util as u; print(u.find_spec({module!r}) is not None)"
    out = subprocess.run([str(env / "bin" / "python"), "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert out.stdout.strip() == str(present), out.stderr


def test_no_hidden_expectations_in_the_environment(env):
    assert not [p for p in env.rglob("*.json") if "hidden" in p.parts]
    assert (next(env.rglob("checks/expected/01_networks.json"))).is_file()


@pytest.mark.parametrize("path", RELEASE_NOTEBOOKS, ids=lambda p: p.parent.name)
def test_release_notebook_runs_on_the_bundle_up_to_its_first_exercise(env, path, tmp_path):
    nb = nbformat.read(str(path), as_version=4)
    first = next((i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("solution")),
                 len(nb.cells))
    nb.cells = [c for c in nb.cells[:first] if "skip-when-grading" not in c.get("metadata", {}).get("tags", [])]
    run = execute(nbformat.writes(nb).encode(), tmp_path / "run", env, Limits(wall_s=300, cell_s=240), sandbox=False)
    errors = [f"{o['ename']}: {o['evalue']}" for c in (run.notebook or {}).get("cells", [])
              for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert (run.status, errors) == ("ok", []), run.detail
