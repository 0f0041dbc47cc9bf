"""The static scan (advice for a human, never points) notes code that reaches into the grading
machinery, and leaves honest habits alone."""
import json

import pytest

from autograder.integrity import scan_notebook
from course_helpers import COURSE, REPO


def notebook(tmp_path, source, locked=False):
    cell = {"cell_type": "code", "source": source, "outputs": [], "execution_count": None,
            "metadata": {"nbgrader": {"grade_id": "answer", "locked": locked, "solution": not locked}}}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


@pytest.mark.parametrize("source, reason", [
    ("get_ipython().set_custom_exc((Exception,), f)", "changes how errors are reported"),
    ("from solutions import DeepRankingModel", "reference package"),
    ("import os\nos.environ['YTDNN_RECORDS'] = '/tmp'", "grading environment"),
    ("import sys\nsys.modules['autograder.checks.networks'].check_ranking = print", "import system"),
    ("check_ranking = lambda cls: None", "replaces a check function"),
    ("globals()['check_ranking'] = print", "rebinds another function's globals"),
    ("check_ranking.__globals__['passed'] = print", "rebinds another function's globals"),
    ("torch.Tensor.any = lambda self: False", "replaces a torch or numpy function"),
    ("exec(base64.b64decode(b'cHJpbnQ='))", "runs code built at run time"),
    ("def check_candidate_generation(cls):\n    pass", "replaces a check function"),
])
def test_flags_tampering(tmp_path, source, reason):
    reasons = scan_notebook(notebook(tmp_path, source))
    assert any(reason in r for r in reasons), reasons


@pytest.mark.parametrize("source", [
    "from autograder.checks.networks import check_ranking\ncheck_ranking(DeepRankingModel)",
    "# compare with the solutions later\nx = 1",
    "print(globals())",
    "setattr(self, f'layer{i}', nn.Linear(4, 4))",
    "model.eval()\nwith torch.no_grad():\n    scores = model(batch)",
])
def test_honest_habits_are_not_noted(tmp_path, source):
    assert scan_notebook(notebook(tmp_path, source)) == []


def test_locked_cells_are_not_scanned(tmp_path):
    # nbgrader restores locked cells from the gradebook, so what they say does not matter.
    assert scan_notebook(notebook(tmp_path, "import sys\nsys.modules['x'] = 1", locked=True)) == []


def test_an_unreadable_notebook_is_reported(tmp_path):
    path = tmp_path / "bad.ipynb"
    path.write_text('{"cells": [')
    assert scan_notebook(path) == ["bad.ipynb: not a readable notebook (JSONDecodeError)"]


@pytest.mark.parametrize("student", ["complete", "blank", "task1_only", "honest_habits", "deleted_tests"])
def test_honest_samples_are_not_noted(student, tmp_path):
    from autograder import samples
    samples.build(tmp_path, only=[student])
    assert scan_notebook(tmp_path / student / "01_networks" / "01_networks.ipynb") == []


@pytest.mark.parametrize("path", sorted((COURSE / "release").glob("*/*.ipynb")), ids=lambda p: p.name)
def test_release_notebooks_are_not_noted(path):
    assert scan_notebook(path) == []
