"""Batch autograding with nbgrader: the sample submissions get the scores they must get, and a
broken or malicious submission neither crashes the batch nor fakes a score."""
import csv
import shutil

import pytest

from autograder import grade
from course_helpers import REPO, scratch_course

SAMPLES = REPO / "tests" / "submissions"
ADVERSARIAL = REPO / "tests" / "submissions_adversarial"
WALL_LIMIT_S = 60


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    import os
    os.environ["YTDNN_CELL_TIMEOUT"] = "10"  # read by course/nbgrader_config.py in the nbgrader processes
    course = scratch_course(tmp_path_factory.mktemp("grading") / "course", SAMPLES)
    shutil.copytree(ADVERSARIAL, course / "submitted", dirs_exist_ok=True)
    corrupt = course / "submitted" / "corrupt" / "01_networks"
    corrupt.mkdir(parents=True)
    (corrupt / "01_networks.ipynb").write_text('{"cells": [{"cell_type": "code", "source": "trunc')
    (course / "submitted" / "absent").mkdir()  # a student folder without this assignment
    rows = grade.grade_all(course, timeout=WALL_LIMIT_S)
    return course, {r.student: r for r in rows}


def test_sample_scores(graded):
    _, rows = graded
    assert (rows["complete"].score, rows["complete"].max_score, rows["complete"].status) == (10, 10, "ok")
    assert (rows["blank"].score, rows["blank"].status) == (0, "ok")
    assert (rows["task1_only"].score, rows["task1_only"].status) == (5, "ok")


def test_partial_credit_is_per_test(graded):
    _, rows = graded
    tests = rows["task1_only"].tests
    assert tests["test_task1_seed"] == 2 and tests["test_task1_gradients"] == 1
    assert tests["test_task2_seed"] == 0 and tests["test_task2_gradients"] == 0


def test_deleted_test_cells_come_back(graded):
    course, rows = graded
    assert rows["deleted_tests"].score == 10 and len(rows["deleted_tests"].tests) == 8
    autograded = (course / "autograded" / "deleted_tests" / "01_networks" / "01_networks.ipynb").read_text()
    assert "was missing from the submission" in autograded


def test_borrowing_the_reference_scores_nothing(graded):
    _, rows = graded
    assert rows["borrowed"].score == 0
    assert "flagged for review" in rows["borrowed"].status and "solutions" in rows["borrowed"].status


def test_patching_the_checks_cannot_fake_a_score(graded):
    _, rows = graded
    row = rows["patches_checks"]
    assert row.raw_score == 10  # nbgrader alone is fooled by a blank notebook that patches the checks ...
    assert row.score == 0 and "sys.modules" in row.status  # ... the report is not


def test_swallowing_errors_scores_nothing(graded):
    _, rows = graded
    assert rows["swallows_errors"].score == 0 and "set_custom_exc" in rows["swallows_errors"].status


def test_a_cell_that_hangs_through_interrupts_fails_that_submission_only(graded):
    _, rows = graded
    # Either nbgrader gives up on the cell (per-cell limit, then a failed interrupt) or our wall
    # clock kills the run first: both mark it, and the batch goes on.
    assert "timed out" in rows["hangs"].status
    assert rows["hangs"].score == 0
    assert rows["complete"].score == 10


def test_a_submission_past_the_wall_clock_limit_is_killed(graded):
    course, _ = graded
    row = grade.grade_one(course, "01_networks", "complete", timeout=1)
    assert row.status == "timed out after 1 s (killed)"


def test_corrupt_and_missing_submissions_are_reported(graded):
    _, rows = graded
    assert rows["corrupt"].status.startswith(("autograde failed", "flagged for review"))
    assert "not a readable notebook" in rows["corrupt"].status or "autograde failed" in rows["corrupt"].status
    assert rows["corrupt"].score == 0
    assert rows["absent"].status == "not submitted"


def test_only_assignments_with_tests_are_graded(graded):
    from autograder.course import assignments, graded_assignments
    course, rows = graded
    assert "00_data" in assignments(course) and graded_assignments(course) == ["01_networks"]
    assert {r.assignment for r in rows.values()} == {"01_networks"}


def test_grades_csv(graded):
    course, rows = graded
    with (course / "grades.csv").open() as f:
        table = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(table) == set(rows)
    assert float(table["complete"]["score"]) == 10 and float(table["task1_only"]["test_task1_seed"]) == 2
    assert (course / "grades_nbgrader.csv").exists()


def test_feedback_shows_messages_but_no_hidden_test_source(graded):
    course, _ = graded
    html = (course / "feedback" / "task1_only" / "01_networks" / "01_networks.html").read_text()
    assert "the output values differ from the reference" in html
    for secret in ["BEGIN HIDDEN TESTS", "check_ranking_case", "check_candidate_generation_gradients"]:
        assert secret not in html
