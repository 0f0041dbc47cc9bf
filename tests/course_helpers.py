"""Shared helpers for the course tests."""
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COURSE = REPO / "course"


def scratch_course(tmp: Path) -> Path:
    """A copy of the course's sources and config in ``tmp``; the real course stays untouched."""
    course = tmp / "course"
    course.mkdir()
    shutil.copy2(COURSE / "nbgrader_config.py", course)
    shutil.copytree(COURSE / "source", course / "source")
    return course


def cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def committed_notebooks() -> list[Path]:
    skip = {".venv", ".ipynb_checkpoints", "build", "submitted", "autograded", "feedback"}
    return sorted(p for p in REPO.rglob("*.ipynb") if not skip & set(p.relative_to(REPO).parts))
