"""The frozen expectations equal what the reference computes today, and the hidden ones are never shipped."""
import json
from pathlib import Path

import pytest

from autograder.checks import module_for
from solutions import expected as freeze

REPO = Path(__file__).resolve().parent.parent
ASSIGNMENTS = freeze.graded_assignments()


def assert_close(frozen, fresh, where=""):
    if isinstance(frozen, dict):
        assert frozen.keys() == fresh.keys(), where
        for k in frozen:
            if k != "torch_version":
                assert_close(frozen[k], fresh[k], f"{where}.{k}")
    elif isinstance(frozen, list):
        assert len(frozen) == len(fresh), where
        for i, (x, y) in enumerate(zip(frozen, fresh)):
            assert_close(x, y, f"{where}[{i}]")
    elif isinstance(frozen, float):
        assert abs(frozen - fresh) <= 1e-7, f"{where}: frozen {frozen} vs reference {fresh}"
    else:
        assert frozen == fresh, f"{where}: frozen {frozen!r} vs reference {fresh!r}"


def test_every_graded_assignment_has_frozen_expectations():
    assert "01_networks" in ASSIGNMENTS


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_frozen_files_match_the_reference(assignment):
    visible, hidden = freeze.build(assignment)
    assert_close(json.loads((freeze.VISIBLE_DIR / f"{assignment}.json").read_text()), json.loads(freeze.dumps(visible)))
    assert_close(json.loads((freeze.HIDDEN_DIR / f"{assignment}.json").read_text()), json.loads(freeze.dumps(hidden)))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_visible_and_hidden_cases_are_apart(assignment):
    visible = json.loads((freeze.VISIBLE_DIR / f"{assignment}.json").read_text())["cases"]
    hidden = json.loads((freeze.HIDDEN_DIR / f"{assignment}.json").read_text())
    assert visible and hidden["cases"] and not set(visible) & set(hidden["cases"])
    checks = module_for(assignment)
    assert hidden["tests"] == checks.TESTS
    # Every test earns its points on cases whose expected values no student holds.
    assert all(case in hidden["cases"] for cases in hidden["tests"].values() for case in cases)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_test_cell_of_the_notebook_is_judged(assignment):
    cells = json.loads(next((REPO / "course" / "source" / assignment).glob("*.ipynb")).read_text())["cells"]
    test_ids = {c["metadata"]["nbgrader"]["grade_id"] for c in cells
                if c["metadata"].get("nbgrader", {}).get("grade") and not c["metadata"]["nbgrader"].get("solution")}
    assert test_ids == set(module_for(assignment).TESTS)
