"""Where the course lives and how to run nbgrader on it (instructor tooling)."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COURSE = REPO / "course"


def assignments(course: Path = COURSE) -> list[str]:
    """Assignment names: the folders of ``course/source`` that hold a notebook, in order."""
    source = course / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb")))


def scratch_course(dest: Path, submissions: Path | None = None) -> Path:
    """A fresh copy of the course's sources and config at ``dest`` (replacing what was there),
    with ``submissions`` as its submitted folder; the real course stays untouched."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    shutil.copy2(COURSE / "nbgrader_config.py", dest)
    shutil.copytree(COURSE / "source", dest / "source")
    if submissions is not None:
        shutil.copytree(submissions, dest / "submitted")
    return dest


def graded_assignments(course: Path = COURSE) -> list[str]:
    """Assignments with at least one test cell worth points (00_data, say, is read, not graded)."""
    def has_tests(path: Path) -> bool:
        cells = json.loads(path.read_text()).get("cells", [])
        return any(c.get("metadata", {}).get("nbgrader", {}).get("grade") for c in cells)
    return [a for a in assignments(course) if any(has_tests(p) for p in (course / "source" / a).glob("*.ipynb"))]


def nbgrader_env() -> dict[str, str]:
    env = dict(os.environ)
    # nbgrader shells out to `alembic` by name, so this interpreter's scripts must be on PATH.
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    return env


@dataclass
class Result:
    returncode: int | None  # None when it was killed for running past its time
    output: str


def nbgrader(course: Path, *args: str, timeout: float | None = None, env: dict[str, str] | None = None) -> Result:
    """Run ``nbgrader ARGS`` in ``course`` (``env``: extra environment variables); a run past
    ``timeout`` seconds is killed with its kernels."""
    cmd = [sys.executable, "-m", "autograder.nbgrader_run", *args]  # nbgrader, minus two wasted costs
    proc = subprocess.Popen(cmd, cwd=course, env={**nbgrader_env(), **(env or {})}, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
        return Result(proc.returncode, out)
    except subprocess.TimeoutExpired:
        # The kernel is a child of nbgrader in the same session: kill the whole group.
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return Result(None, out)
