"""Grading on a Dask cluster gives the same rows as grading locally: the sandboxed runs happen on
the workers, the staging, grades.csv and gradebook stay with the driver."""
import csv

import pytest

from autograder import grade, samples
from autograder.sandbox import Limits, bwrap_path
from course_helpers import scratch_course

distributed = pytest.importorskip("distributed")

LIMITS = Limits(wall_s=90, cell_s=30, memory_mb=6144)
ONLY = ["complete", "blank", "patches_torch"]


@pytest.mark.parametrize("processes", [False])
def test_a_cluster_grades_like_the_local_batch(tmp_path, processes):
    assert bwrap_path(), "bubblewrap is required for the grading tests"
    course = scratch_course(tmp_path / "course")
    expected = samples.build(course / "submitted", only=ONLY)
    assert expected == {s: samples.EXPECTED[s] for s in ONLY}
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=processes,
                                  dashboard_address=None) as cluster:
        rows = grade.grade_all(course, ["01_networks"], limits=LIMITS, progress=False,
                               scheduler=cluster.scheduler_address)
    got = {r.student: (r.score, r.status) for r in rows}
    assert got == expected
    assert all(r.sandbox == "bwrap" for r in rows)
    with (course / "grades.csv").open() as f:
        table = {r["student_id"]: (float(r["score"]), r["status"]) for r in csv.DictReader(f)}
    assert table == expected
    with (course / "grades_nbgrader.csv").open() as f:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    assert exported == {s: score for s, (score, _) in expected.items()}
    # Staged like a local run, so a re-run resumes instead of grading again.
    for student in ONLY:
        assert (course / "grading" / "01_networks" / student / "row.json").is_file()


def test_an_unreachable_scheduler_is_one_line():
    from autograder.cluster import run_on_cluster
    job = grade.Job("01_networks", "x", {"01_networks": "missing"})
    with pytest.raises(SystemExit, match="cannot reach the Dask scheduler"):
        list(run_on_cluster("tcp://127.0.0.1:9", [job], LIMITS, True))
