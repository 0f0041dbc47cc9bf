"""The committed student release is exactly what `make release` produces, and gives nothing away."""
import ast
import inspect
import json

import pytest

from autograder import release
from autograder.course import assignments
from solutions import networks
from course_helpers import COURSE, scratch_course


def solution_lines() -> list[str]:
    """Every non-trivial line between BEGIN and END SOLUTION in the reference package."""
    lines, inside = [], False
    for line in inspect.getsource(networks).splitlines():
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and line.strip() and not line.strip().startswith("#") and len(line.strip()) > 12:
            lines.append(line.strip())
    return lines


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    course = scratch_course(tmp_path_factory.mktemp("release") / "course")
    for assignment in assignments(course):
        release.generate(course, assignment)
    return course / "release"


@pytest.mark.parametrize("assignment", assignments())
def test_committed_release_equals_a_fresh_release(assignment, fresh_release):
    fresh = sorted(p.name for p in (fresh_release / assignment).iterdir())
    committed = sorted(p.name for p in (COURSE / "release" / assignment).iterdir())
    assert committed == fresh, "run 'make release' and commit course/release"
    for name in fresh:
        assert json.loads((COURSE / "release" / assignment / name).read_text()) == \
            json.loads((fresh_release / assignment / name).read_text()), f"{name} is stale: run 'make release'"


@pytest.mark.parametrize("assignment", assignments())
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    answers = solution_lines()
    assert len(answers) > 10  # the audit really looks for the reference's lines
    assert release.audit(COURSE / "release" / assignment, answers) == []


def test_audit_catches_a_leak(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": "### BEGIN HIDDEN TESTS\nx\n", "outputs": [], "metadata": {},
                     "execution_count": 3}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb))
    problems = release.audit(tmp_path, ["x"])
    assert any("BEGIN HIDDEN TESTS" in p for p in problems)
    assert any("outputs or an execution count" in p for p in problems)


def test_release_code_cells_still_parse_as_python():
    from IPython.core.inputtransformer2 import TransformerManager
    ipython = TransformerManager()  # turns %magics into Python, as the kernel does
    for path in (COURSE / "release").rglob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                ast.parse(ipython.transform_cell("".join(cell["source"])))
