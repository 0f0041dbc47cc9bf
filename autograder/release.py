"""Generate the student release from the instructor notebooks: ``make release``.

Runs ``nbgrader generate_assignment`` for every assignment of ``course/source`` and then audits
the result: a release must hold no solution code, no hidden test and no output.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .course import COURSE, assignments, nbgrader

FORBIDDEN = ["BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "import solutions",
             "from solutions"]


def generate(course: Path, assignment: str) -> None:
    result = nbgrader(course, "generate_assignment", assignment, "--force")
    if result.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment {assignment} failed:\n{result.output}")


def audit(release_dir: Path, answers: list[str] = ()) -> list[str]:
    """Problems found in a release folder; ``answers`` are source lines that must not appear."""
    problems = []
    for path in sorted(release_dir.rglob("*.ipynb")):
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=COURSE, help="the nbgrader course folder")
    args = parser.parse_args(argv)
    for assignment in assignments(args.course):
        generate(args.course, assignment)
        problems = audit(args.course / "release" / assignment)
        if problems:
            sys.exit("release audit failed:\n  " + "\n  ".join(problems))
        print(f"released {assignment} -> {(args.course / 'release' / assignment).relative_to(args.course.parent)}")


if __name__ == "__main__":
    main()
