"""`make autograde` without bubblewrap: a one-line refusal, unless the instructor says --no-sandbox,
and then every row says so."""
import os
import subprocess
import sys
from pathlib import Path

from autograder import grade, samples
from autograder.sandbox import Limits
from course_helpers import scratch_course


def test_refuses_without_bubblewrap_in_one_line(tmp_path):
    course = scratch_course(tmp_path / "course")
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}  # no bwrap on this PATH
    run = subprocess.run([sys.executable, "-m", "autograder.grade", "--course", str(course)],
                         env=env, capture_output=True, text=True)
    assert run.returncode != 0
    assert run.stderr.strip().count("\n") == 0, run.stderr
    assert "bubblewrap is not installed" in run.stderr and "apt-get install bubblewrap" in run.stderr
    assert "--no-sandbox" in run.stderr
    assert not (course / "grades.csv").exists()


def test_no_sandbox_is_explicit_and_said_on_every_row(tmp_path):
    course = scratch_course(tmp_path / "course")
    samples.build(course / "submitted", only=["complete"])
    rows = grade.grade_all(course, ["01_networks"], jobs=1, sandbox=False, progress=False,
                           limits=Limits(wall_s=150, cell_s=60))
    assert [(r.student, r.score, r.sandbox) for r in rows] == [("complete", 10.0, "none")]
    assert ",none," in (course / "grades.csv").read_text()
