"""Shared helpers for the course tests."""
from pathlib import Path

from autograder.course import COURSE, REPO, scratch_course  # noqa: F401 (re-exported for the tests)


def committed_notebooks() -> list[Path]:
    skip = {".venv", ".ipynb_checkpoints", "build", "submitted", "autograded", "feedback", "workspace", "grading"}
    return sorted(p for p in REPO.rglob("*.ipynb") if not skip & set(p.relative_to(REPO).parts))
