"""Autograde every submission in batch: ``make autograde``.

For each student folder of ``course/submitted/`` and each assignment: ``nbgrader autograde`` in
its own process with a wall-clock limit (a submission that hangs, even through interrupts, is
killed and marked, and the batch goes on), a static integrity scan, feedback HTML without
hidden-test source, nbgrader's own ``export``, and ``course/grades.csv`` with a status and the
points of every test.
"""
from __future__ import annotations

import argparse
import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.api import Gradebook, MissingEntry

from .course import COURSE, graded_assignments, nbgrader
from .integrity import scan_notebook
from .release import generate


@dataclass
class Row:
    student: str
    assignment: str
    score: float = 0.0
    raw_score: float = 0.0
    max_score: float = 0.0
    status: str = "ok"
    tests: dict[str, float] = field(default_factory=dict)


def students(course: Path) -> list[str]:
    submitted = course / "submitted"
    return sorted(p.name for p in submitted.iterdir() if p.is_dir()) if submitted.is_dir() else []


def _last_error(output: str) -> str:
    """The most telling line of a failed nbgrader run: its last exception, else its last line."""
    lines = [l.strip() for l in output.splitlines() if l.strip()]
    raised = [l for l in lines if re.match(r"^[\w.]*(Error|Exception)\b[^|]*:", l)]
    return (raised[-1] if raised else lines[-1] if lines else "no output")[:200]


def grade_one(course: Path, assignment: str, student: str, timeout: float) -> Row:
    row = Row(student, assignment)
    folder = course / "submitted" / student / assignment
    if not folder.is_dir():
        row.status = "not submitted"
        return row
    result = nbgrader(course, "autograde", assignment, "--student", student, "--create", "--force",
                      timeout=timeout, grading=True)
    if result.returncode is None:
        row.status = f"timed out after {timeout:g} s (killed)"
    elif result.returncode != 0:
        row.status = f"autograde failed: {_last_error(result.output)}"
    reasons = [r for nb in sorted(folder.glob("*.ipynb")) for r in scan_notebook(nb)]
    if reasons:
        row.status = "flagged for review: " + "; ".join(reasons[:3])
    return row


def fill_scores(row: Row, db_url: str) -> None:
    with Gradebook(db_url) as gb:
        try:
            submission = gb.find_submission(row.assignment, row.student)
        except MissingEntry:
            row.max_score = gb.find_assignment(row.assignment).max_score
            return
        row.max_score = submission.max_score
        if row.status.startswith(("timed out", "autograde failed")):
            return  # a killed or failed run may leave a half-written entry: nothing of it counts
        # Flagged submissions keep their raw points for the instructor's review, but score 0.
        row.raw_score = submission.score
        row.score = row.raw_score if row.status == "ok" else 0.0
        for nb in submission.notebooks:
            for grade in nb.grades:
                row.tests[grade.name] = grade.score


def write_csv(rows: list[Row], path: Path) -> None:
    tests = sorted({t for r in rows for t in r.tests})
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", "raw_score", "status", *tests])
        for r in rows:
            writer.writerow([r.student, r.assignment, r.score, r.max_score, r.raw_score, r.status,
                             *[r.tests.get(t, "") for t in tests]])


def print_gradebook(rows: list[Row]) -> None:
    width = max([len(r.student) for r in rows] + [7])
    print(f"\n{'student':<{width}}  {'assignment':<14} {'score':>11}  status")
    for r in rows:
        print(f"{r.student:<{width}}  {r.assignment:<14} {r.score:>5g} / {r.max_score:<3g}  {r.status}")


def grade_all(course: Path = COURSE, only: list[str] | None = None, timeout: float = 600.0) -> list[Row]:
    db_url = f"sqlite:///{course / 'gradebook.db'}"
    rows = []
    for assignment in only or graded_assignments(course):
        generate(course, assignment)  # puts the source cells, hidden tests included, in the gradebook
        for student in students(course):
            row = grade_one(course, assignment, student, timeout)
            fill_scores(row, db_url)
            rows.append(row)
        nbgrader(course, "generate_feedback", assignment, "--force")
    nbgrader(course, "export", "--to", str(course / "grades_nbgrader.csv"))
    write_csv(rows, course / "grades.csv")
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=COURSE)
    parser.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per submission before it is killed")
    args = parser.parse_args(argv)
    rows = grade_all(args.course.resolve(), args.assignment, args.timeout)
    print_gradebook(rows)
    print(f"\ngrades: {args.course / 'grades.csv'}   feedback: {args.course / 'feedback'}/<student>/<assignment>/")


if __name__ == "__main__":
    main()
