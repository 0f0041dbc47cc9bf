"""The class's real nbgrader round trip through a local exchange: release, fetch, submit, collect,
sandboxed autograde, feedback released and fetched by each student, export."""
import csv
from pathlib import Path

import pytest

from autograder import exchange, samples
from autograder.sandbox import Limits, bwrap_path
from course_helpers import scratch_course


def test_two_students_round_trip(tmp_path):
    assert bwrap_path(), "bubblewrap is required for the grading tests"
    course = scratch_course(tmp_path / "course")
    work = tmp_path / "work"
    samples.build(work, only=["complete", "patches_torch"])
    students = {s: work / s / "01_networks" / "01_networks.ipynb" for s in ("complete", "patches_torch")}
    out = exchange.round_trip(course, students, homes=tmp_path / "homes",
                              limits=Limits(wall_s=90, cell_s=30), progress=False)
    assert {r.student: (r.score, r.status) for r in out["rows"]} == {"complete": (10, "ok"), "patches_torch": (0, "ok")}
    for student, files in out["feedback"].items():
        assert [f.name for f in files] == ["01_networks.html"], student
        assert "Grader:" in files[0].read_text()
    assert (tmp_path / "homes" / "complete" / "01_networks" / "01_networks.ipynb").is_file()
    assert sorted(p.name for p in (course / "submitted").iterdir()) == ["complete", "patches_torch"]
    with (course / "grades_nbgrader.csv").open() as f:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert exported == {"complete": 10.0, "patches_torch": 0.0}


def test_bad_input_is_one_line(tmp_path):
    with pytest.raises(ValueError, match="bad student id"):
        exchange.round_trip(tmp_path, {"a/b": tmp_path})
    with pytest.raises(ValueError, match="does not exist"):
        exchange.round_trip(tmp_path, {"ann": tmp_path / "nope.ipynb"})
