"""The course's main job on built-in data: ``make demo``.

1. regenerate the student release (``course/release``) from the instructor notebooks;
2. execute every source notebook end to end (executed copies go to ``build/demo/executed``);
3. autograde the sample submissions of ``tests/submissions`` in a scratch copy of the course
   (``build/demo/course``), with feedback and a grades CSV;
4. print the gradebook.
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import release
from .course import COURSE, REPO, assignments, scratch_course
from .execute import run_notebook
from .grade import grade_all, print_gradebook

BUILD = REPO / "build" / "demo"
SAMPLES = REPO / "tests" / "submissions"


def main() -> None:
    print("1/4 release", flush=True)
    release.main([])
    print("2/4 executing every source notebook", flush=True)
    for assignment in assignments(COURSE):
        for nb in sorted((COURSE / "source" / assignment).glob("*.ipynb")):
            seconds = run_notebook(nb, BUILD / "executed" / assignment / nb.name)
            print(f"    {assignment}/{nb.name}: ran in {seconds:.1f} s", flush=True)
    print("3/4 autograding the sample submissions", flush=True)
    course = scratch_course(BUILD / "course", SAMPLES)
    rows = grade_all(course)
    print("4/4 gradebook", end="")
    print_gradebook(rows)
    print(f"\ngrades CSV: {(course / 'grades.csv').relative_to(REPO)}; "
          f"feedback: {(course / 'feedback').relative_to(REPO)}/<student>/<assignment>/*.html")
    if any(r.status != "ok" for r in rows if r.student in {"complete", "blank", "task1_only"}):
        sys.exit("a sample submission did not grade cleanly")


if __name__ == "__main__":
    main()
