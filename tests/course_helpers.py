"""Shared helpers for the course tests."""
from pathlib import Path

from autograder.course import COURSE, REPO, scratch_course  # noqa: F401 (re-exported for the tests)


def committed_notebooks() -> list[Path]:
    skip = {".venv", ".ipynb_checkpoints", "build", "submitted", "autograded", "feedback", "workspace", "grading"}
    return sorted(p for p in REPO.rglob("*.ipynb") if not skip & set(p.relative_to(REPO).parts))


def record_and_judge(checks, answers: dict, records, monkeypatch) -> dict:
    """Record every test of an assignment's check module with ``answers`` (exercise name -> object)
    into ``records``, as a graded notebook would, and return the comparator's verdicts."""
    from autograder.comparator import judge, read_record_files
    monkeypatch.setenv("YTDNN_RECORDS", str(records))
    for grade_id, case_ids in checks.TESTS.items():
        checks.record_test(grade_id, answers[checks.CASES[case_ids[0]]["exercise"]], quiet=True)
    return judge(checks.ASSIGNMENT, read_record_files(records))


def failure(check, obj) -> str:
    """The message of the CheckFailed a visible check raises on ``obj``."""
    import pytest
    from autograder.checks.report import CheckFailed
    with pytest.raises(CheckFailed) as err:
        check(obj)
    return str(err.value)


def solution_lines(module) -> list[str]:
    """Every non-trivial line between BEGIN and END SOLUTION in a reference module: what a release
    must never contain."""
    import inspect
    lines, inside = [], False
    for line in inspect.getsource(module).splitlines():
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and line.strip() and not line.strip().startswith("#") and len(line.strip()) > 12:
            lines.append(line.strip())
    return lines
