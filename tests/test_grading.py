"""Batch autograding: every sample submission, honest and hostile, gets the score and status it must
get in one sandboxed batch, and no submission can touch the grader, the course or another student."""
import csv
import hashlib
import json
import socket
import subprocess

import pytest

from autograder import grade, samples
from autograder.sandbox import Limits, bwrap_path
from course_helpers import scratch_course

# Generous: a loaded CI machine must not turn an honest notebook into a timeout; `hangs` costs one wall limit.
LIMITS = Limits(wall_s=150, cell_s=60, memory_mb=6144)


def tree_digest(folder):
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(folder)).encode() + path.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    assert bwrap_path(), "bubblewrap is required for the grading tests (.ci/run installs it)"
    course = scratch_course(tmp_path_factory.mktemp("grading") / "course")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    listener.settimeout(0)
    expected = samples.build(course / "submitted", port=listener.getsockname()[1])
    (course / "submitted" / "absent").mkdir()  # a student folder without this assignment
    before = {"submitted": tree_digest(course / "submitted"), "source": tree_digest(course / "source")}
    rows = grade.grade_all(course, ["01_networks"], jobs=2, limits=LIMITS, progress=False)
    try:
        listener.accept()
        reached = True
    except BlockingIOError:
        reached = False
    return course, {r.student: r for r in rows}, expected, before, reached


def test_every_sample_gets_its_score_and_status(graded):
    _, rows, expected, _, _ = graded
    got = {s: (rows[s].score, rows[s].status) for s in expected}
    assert got == expected


def test_partial_credit_is_per_test(graded):
    _, rows, _, _, _ = graded
    tests = rows["task1_only"].tests
    assert tests["test_task1_seed"] == 2 and tests["test_task1_gradients"] == 1
    assert tests["test_task2_seed"] == 0 and tests["test_task2_gradients"] == 0


def test_cheats_inside_the_kernel_pass_their_own_visible_checks_but_score_nothing(graded):
    course, rows, _, _, _ = graded
    for student in ["rebinds_globals", "exec_base64"]:  # they rebind the checks' comparison
        executed = (course / "autograded" / student / "01_networks" / "01_networks.ipynb").read_text()
        assert "Task 1 check passed" in executed or "Task 2 check passed" in executed, student
    for student in ["patches_torch", "rebinds_globals", "exec_base64", "lying_tensor", "locks_answer_cell"]:
        assert rows[student].score == 0, student
    assert rows["lookup_table"].score == 0 and rows["lookup_table"].tests["test_task1_seed"] == 0


def test_failure_statuses_keep_the_points_earned_before(graded):
    _, rows, _, _, _ = graded
    for student in ["hangs", "kills_its_runner"]:  # nothing after the failure ran
        assert rows[student].tests["test_task1_gradients"] == 1 and rows[student].tests["test_task2_seed"] == 0
    # A failed allocation does not kill the kernel: the tests after it still run and count.
    assert rows["memory_hog"].tests["test_task2_seed"] == 2 and "MemoryError" in rows["memory_hog"].detail
    assert "limit" in rows["hangs"].detail or "KeyboardInterrupt" in rows["hangs"].detail


def test_the_sandbox_contains_hostile_code(graded):
    course, rows, _, before, reached = graded
    assert not reached, "a submission reached a port on the grader's machine"
    assert tree_digest(course / "submitted") == before["submitted"], "a submission was modified"
    assert tree_digest(course / "source") == before["source"], "the course source was modified"
    assert not (course / "source" / "01_networks" / "autograder").exists()
    assert rows["breaks_out"].score == 10 and rows["complete"].score == 10
    leftovers = subprocess.run(["pgrep", "-f", "sleep 7919"], capture_output=True, text=True).stdout
    assert leftovers == "", "a process started by a submission outlived grading"
    executed = json.loads((course / "grading" / "01_networks" / "reads_solutions" / "01_networks.json").read_text())
    outputs = json.dumps(executed["notebook"])
    assert "found: []" in outputs  # neither solutions/ nor the hidden expectations are in the sandbox


def test_deleted_test_cells_come_back(graded):
    course, rows, _, _, _ = graded
    assert rows["deleted_tests"].score == 10 and len(rows["deleted_tests"].tests) == 8
    autograded = (course / "autograded" / "deleted_tests" / "01_networks" / "01_networks.ipynb").read_text()
    assert "was missing from the submission" in autograded


def test_corrupt_and_missing_submissions_are_reported(graded):
    _, rows, _, _, _ = graded
    assert (rows["corrupt"].status, rows["corrupt"].score) == ("invalid", 0)
    assert "not a readable notebook" in rows["corrupt"].detail
    assert rows["absent"].status == "not submitted"


def test_integrity_notes_are_advice_only(graded):
    _, rows, _, _, _ = graded
    assert "torch" in rows["patches_torch"].review
    assert rows["honest_habits"].review == "" and rows["honest_habits"].score == 10


def test_grades_csv_and_nbgrader_agree(graded):
    course, rows, _, _, _ = graded
    with (course / "grades.csv").open() as f:
        table = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(table) == set(rows)
    assert float(table["complete"]["score"]) == 10 and float(table["task1_only"]["test_task1_seed"]) == 2
    assert table["complete"]["sandbox"] == "bwrap"
    with (course / "grades_nbgrader.csv").open() as f:
        exported = {r["student_id"]: float(r["score"]) for r in csv.DictReader(f)}
    for student in ["complete", "task1_only", "patches_torch", "lookup_table", "hangs"]:
        assert exported[student] == rows[student].score, student


def test_feedback_shows_verdicts_but_no_hidden_test_source_or_values(graded):
    course, _, _, _, _ = graded
    html = (course / "feedback" / "task1_only" / "01_networks" / "01_networks.html").read_text()
    assert "Grader: 0 / 2 points for test_task2_seed" in html and "Grader: 2 / 2 points for test_task1_seed" in html
    assert "Task 1 check passed" in html  # the student's own outputs, from the sandboxed run
    for secret in ["BEGIN HIDDEN TESTS", "record_test(&quot;test_task1_sizes", "record_test(\"test_task1_sizes"]:
        assert secret not in html
    assert "cdnjs" not in html and "../../_mathjax/MathJax.js" in html  # maths render offline
    assert (course / "feedback" / "_mathjax" / "MathJax.js").is_file()
    flood = (course / "feedback" / "floods_output" / "01_networks" / "01_networks.html")
    assert flood.stat().st_size < 2_000_000


def test_every_graded_student_gets_feedback_from_the_parallel_feedback_runs(graded):
    course, rows, _, _, _ = graded
    have = {p.parts[-3] for p in (course / "feedback").glob("*/01_networks/01_networks.html")}
    assert have == {s for s, r in rows.items() if r.status not in ("invalid", "not submitted")}


def test_a_rerun_resumes_and_force_grades_again(graded):
    course, rows, _, _, _ = graded
    again = {r.student: r for r in grade.grade_all(course, ["01_networks"], jobs=2, limits=LIMITS, progress=False)}
    assert {s: r.score for s, r in again.items()} == {s: r.score for s, r in rows.items()}
    assert again["complete"].seconds == rows["complete"].seconds  # staged, not run again
