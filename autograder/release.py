"""Generate the student release from the instructor notebooks: ``make release``.

Runs ``nbgrader generate_assignment`` for every assignment of ``course/source`` into a scratch
folder, audits the result (no solution code, no hidden test, no output), and only then copies the
notebooks over ``course/release/<assignment>/``. It never overwrites a notebook someone has worked
in: a release notebook with outputs, or whose answer cells differ from the blank ones nbgrader
wrote (their checksums say so), makes it stop with a one-line message naming the file. Files it did
not write there (``.ipynb_checkpoints``, say) are left alone.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from nbgrader import utils
import nbformat

from .course import COURSE, assignments, nbgrader

FORBIDDEN = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "import solutions",
             "from solutions"]


class EditedNotebook(Exception):
    """A release notebook holds someone's work; regenerating it would lose that work."""


def edited(path: Path) -> str | None:
    """Why ``path`` looks like a notebook someone worked in, or None when it is a pristine release."""
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception:
        return "it is not a readable notebook"
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            return f"cell {i} has outputs (the notebook was run)"
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if "checksum" in meta and (utils.is_solution(cell) or utils.is_locked(cell)) \
                and utils.compute_checksum(cell) != meta["checksum"]:
            return f"cell {i} ({meta.get('grade_id')}) was edited"
    return None


def generate(course: Path, assignment: str, release_dir: Path) -> None:
    """``nbgrader generate_assignment`` into ``release_dir`` (not the course's own release folder)."""
    result = nbgrader(course, "generate_assignment", assignment, "--force",
                      f"--CourseDirectory.release_directory={release_dir}")
    if result.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment {assignment} failed:\n{result.output[-2000:]}")


def audit(release_dir: Path, answers: list[str] = ()) -> list[str]:
    """Problems found in a release folder; ``answers`` are source lines that must not appear."""
    problems = []
    for path in sorted(release_dir.rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        nb = json.loads(path.read_text())
        for i, cell in enumerate(nb["cells"]):
            source = "".join(cell["source"])
            for marker in FORBIDDEN:
                if marker in source:
                    problems.append(f"{path.name} cell {i}: contains '{marker}'")
            for line in answers:
                if line in source:
                    problems.append(f"{path.name} cell {i}: contains answer line {line!r}")
            if cell["cell_type"] == "code" and (cell.get("outputs") or cell.get("execution_count")):
                problems.append(f"{path.name} cell {i}: has outputs or an execution count")
    return problems


def release(course: Path, assignment: str) -> list[Path]:
    """Regenerate ``course/release/<assignment>``; returns the notebooks written."""
    target = course / "release" / assignment
    for path in sorted(target.glob("*.ipynb")):
        why = edited(path)
        if why:
            raise EditedNotebook(f"{path}: {why}; refusing to overwrite it (copy your work elsewhere, "
                                 f"e.g. 'make start' keeps a workspace, then restore it with git checkout)")
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        generate(course, assignment, Path(tmp))
        fresh = Path(tmp) / assignment
        problems = audit(fresh)
        if problems:
            raise SystemExit("release audit failed:\n  " + "\n  ".join(problems))
        target.mkdir(parents=True, exist_ok=True)
        written = []
        for path in sorted(fresh.iterdir()):
            if path.is_file():
                shutil.copy2(path, target / path.name)
                written.append(target / path.name)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=COURSE, help="the nbgrader course folder")
    args = parser.parse_args(argv)
    for assignment in assignments(args.course):
        try:
            release(args.course.resolve(), assignment)
        except EditedNotebook as err:
            sys.exit(f"error: {err}")
        print(f"released {assignment} -> {(args.course / 'release' / assignment)}")


if __name__ == "__main__":
    main()
