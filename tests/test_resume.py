"""A batch can be stopped at any moment: SIGKILL the driver mid-batch, and what finished is on disk;
a re-run grades only the rest, loses nothing and leaves the submissions byte-identical."""
import csv
import hashlib
import json
import os
import signal
import subprocess
import sys
import time

from autograder import grade, samples
from autograder.course import REPO
from autograder.sandbox import Limits, bwrap_path
from course_helpers import scratch_course

ONLY = ["complete", "blank", "task1_only", "patches_torch"]
LIMITS = Limits(wall_s=60, cell_s=15)


def digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def graded_rows(course):
    try:
        with (course / "grades.csv").open() as f:
            return {r["student_id"]: r for r in csv.DictReader(f) if r["status"] != "not submitted"}
    except (OSError, csv.Error):
        return {}


def test_a_killed_batch_resumes_without_losing_or_redoing_work(tmp_path):
    assert bwrap_path(), "bubblewrap is required for the grading tests"
    course = scratch_course(tmp_path / "course")
    expected = samples.build(course / "submitted", only=ONLY)
    before = digest(course / "submitted")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    driver = subprocess.Popen(
        [sys.executable, "-m", "autograder.grade", "--course", str(course), "--jobs", "1",
         "--timeout", str(LIMITS.wall_s), "--cell-timeout", str(LIMITS.cell_s)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 150
        while not graded_rows(course):
            assert driver.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "no submission was graded in time"
            time.sleep(0.2)
    finally:
        os.killpg(driver.pid, signal.SIGKILL)  # the driver and everything in its process group
        driver.wait()
    finished = graded_rows(course)
    assert 1 <= len(finished) < len(ONLY), "kill it mid-batch, not after"
    staged = {}
    for student in finished:
        row = json.loads((course / "grading" / "01_networks" / student / "row.json").read_text())
        assert (row["score"], row["status"]) == expected[student]
        assert float(finished[student]["score"]) == row["score"]
        staged[student] = row["seconds"]

    rows = {r.student: r for r in grade.grade_all(course, ["01_networks"], jobs=2, limits=LIMITS, progress=False)}
    assert {s: (r.score, r.status) for s, r in rows.items()} == expected  # everything graded, nothing lost
    for student, seconds in staged.items():
        assert rows[student].seconds == seconds, f"{student} was executed again"
    assert set(graded_rows(course)) == set(ONLY)
    assert digest(course / "submitted") == before, "a submission was modified"
