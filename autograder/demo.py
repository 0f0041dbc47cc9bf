"""The course's main job on built-in data: ``make demo``.

1. regenerate the student release (``course/release``) from the instructor notebooks (refusing to
   overwrite a release notebook someone has worked in);
2. execute every source notebook end to end (executed copies go to ``build/demo/executed``);
3. autograde the sample submissions (``autograder.samples``: honest work and one hostile notebook
   per known attack) in a scratch copy of the course (``build/demo/course``), each in a bubblewrap
   sandbox, with the comparator deciding the points, feedback and a grades CSV;
4. print the gradebook;
5. the class's real nbgrader round trip (``autograder.exchange``) for two students, one honest and one
   hostile, in ``build/demo/exchange-course``: release, fetch, submit, collect, sandboxed autograde,
   feedback released and fetched by each student, export.
"""
from __future__ import annotations

import sys
from pathlib import Path

from . import release, samples
from .course import COURSE, REPO, assignments, scratch_course
from .execute import run_notebook
from .grade import grade_all, print_gradebook
from .sandbox import Limits, bwrap_path

BUILD = REPO / "build" / "demo"


def main() -> None:
    print("1/5 release", flush=True)
    release.main([])
    print("2/5 executing every source notebook", flush=True)
    for assignment in assignments(COURSE):
        for nb in sorted((COURSE / "source" / assignment).glob("*.ipynb")):
            seconds = run_notebook(nb, BUILD / "executed" / assignment / nb.name)
            print(f"    {assignment}/{nb.name}: ran in {seconds:.1f} s", flush=True)
    sandbox = bool(bwrap_path())
    if not sandbox:
        print("\n" + "!" * 78 + "\n!! bubblewrap is not installed: the demo grades the samples UNSANDBOXED.\n"
              "!! Hostile samples then run with your user's rights. Install it: sudo apt-get install bubblewrap\n"
              + "!" * 78 + "\n", flush=True)
    print("3/5 autograding the sample submissions" + ("" if sandbox else " (NO SANDBOX)"), flush=True)
    course = scratch_course(BUILD / "course")
    expected = samples.build(course / "submitted")
    # Short limits: the `hangs` sample would otherwise hold a slot for the default 10 minutes.
    rows = grade_all(course, [samples.ASSIGNMENT], sandbox=sandbox, force=True, limits=Limits(wall_s=120, cell_s=60))
    print("4/5 gradebook", end="")
    print_gradebook(rows)
    print(f"\ngrades CSV: {(course / 'grades.csv').relative_to(REPO)}; "
          f"feedback: {(course / 'feedback').relative_to(REPO)}/<student>/<assignment>/*.html")
    wrong = [f"{r.student}: {r.score:g} {r.status} (expected {expected[r.student][0]:g} {expected[r.student][1]})"
             for r in rows if r.student in expected and (r.score, r.status) != expected[r.student]]
    if wrong:
        sys.exit("samples graded unexpectedly:\n  " + "\n  ".join(wrong))
    print(f"every sample got the score and status it must get ({len(expected)} samples, "
          f"{sum(1 for s in expected if s not in ('complete', 'blank', 'task1_only', 'honest_habits', 'deleted_tests'))} hostile)")
    round_trip_demo(sandbox)


def round_trip_demo(sandbox: bool) -> None:
    """Two students through nbgrader's exchange: ``complete`` (10) and ``patches_torch`` (hostile, 0)."""
    from .exchange import round_trip
    print("5/5 the nbgrader round trip: release -> fetch -> submit -> collect -> autograde -> feedback", flush=True)
    course = scratch_course(BUILD / "exchange-course")
    work = BUILD / "exchange-work"
    want = samples.build(work, only=["complete", "patches_torch"])
    out = round_trip(course, {s: work / s / samples.ASSIGNMENT / samples.RELEASE.name for s in want},
                     homes=BUILD / "exchange-homes", sandbox=sandbox, force=True, progress=False)
    for row in out["rows"]:
        files = [str(f.relative_to(REPO)) for f in out["feedback"][row.student]]
        print(f"    {row.student}: {row.score:g} / {row.max_score:g} {row.status}; fetched feedback: {', '.join(files) or 'none'}")
    wrong = [r.student for r in out["rows"] if (r.score, r.status) != want[r.student] or not out["feedback"][r.student]]
    if wrong:
        sys.exit(f"round trip graded unexpectedly: {', '.join(wrong)}")


if __name__ == "__main__":
    main()
