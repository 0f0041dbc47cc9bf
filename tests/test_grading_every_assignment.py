"""Every graded assignment grades end to end in the sandbox: its reference answers earn full marks
and a blank notebook that patches numpy, torch and every check function earns nothing. (Assignment
01 has its full set of honest and hostile samples in test_grading.py.)"""
import pytest

from autograder import grade, samples
from autograder.course import graded_assignments
from autograder.sandbox import Limits, bwrap_path
from course_helpers import COURSE, scratch_course

OTHERS = [a for a in graded_assignments(COURSE) if a != "01_networks"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    assert bwrap_path(), "bubblewrap is required for the grading tests (.ci/run installs it)"
    course = scratch_course(tmp_path_factory.mktemp("every") / "course")
    expected = {}
    for assignment in OTHERS:
        built = samples.build_generic(course / "submitted", assignment)
        expected[assignment] = {s: built[s] for s in ("complete", "patches_checks")}
    for student in ["blank"]:  # only complete and patches_checks are graded here (blank is 0 by construction)
        import shutil
        shutil.rmtree(course / "submitted" / student, ignore_errors=True)
    rows = grade.grade_all(course, OTHERS, jobs=2, limits=Limits(wall_s=240, cell_s=120), progress=False)
    return {(r.assignment, r.student): r for r in rows}, expected


def test_there_are_other_graded_assignments():
    assert len(OTHERS) >= 1


@pytest.mark.parametrize("assignment", OTHERS)
def test_reference_scores_full_marks_and_a_patched_blank_scores_nothing(graded, assignment):
    rows, expected = graded
    for student, (score, status) in expected[assignment].items():
        row = rows[(assignment, student)]
        assert (row.score, row.status) == (score, status), f"{assignment}/{student}: {row.detail} {row.tests}"
    assert expected[assignment]["complete"][0] > 0
