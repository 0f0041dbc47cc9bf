"""nbgrader's exchange on one machine, and a class's whole round trip through it.

``course/exchange`` (git-ignored; ``Exchange.root`` in ``course/nbgrader_config.py``) is the folder
nbgrader's default exchange moves notebooks through: ``<course_id>/outbound`` (released
assignments), ``inbound`` (submissions) and ``feedback``. It must be writable by every student's user
(mode 777, which nbgrader's ``release_assignment`` checks); :func:`setup` makes it so (``python -m autograder.exchange setup``).

:func:`round_trip` runs what a class does, with nbgrader's own commands:

1. instructor: ``nbgrader release_assignment``;
2. each student, in a home of their own: ``nbgrader fetch_assignment``, works (here: their notebook
   replaces the fetched one), ``nbgrader submit``;
3. instructor: ``nbgrader collect``, then our sandboxed ``autograder.grade.grade_all`` on the
   collected submissions (it runs ``autograde``, ``generate_feedback`` and ``export``), then
   ``nbgrader release_feedback``;
4. each student: ``nbgrader fetch_feedback``.

On one machine every "student" is the same OS user, so each command is given ``--student=ID``
(nbgrader's ``CourseDirectory.student_id``; otherwise nbgrader takes the OS user name).
"""
from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from .course import COURSE, Result, nbgrader

COURSE_ID = "ytdnn"  # CourseDirectory.course_id in course/nbgrader_config.py


def exchange_root(course: Path = COURSE) -> Path:
    return course / "exchange"


def setup(course: Path = COURSE) -> Path:
    """Create the exchange folder with the permissions nbgrader's exchange needs; returns it."""
    root = exchange_root(course)
    root.mkdir(parents=True, exist_ok=True)
    # Every student's user writes here (their submissions). nbgrader's release_assignment resets the
    # root to exactly 0o777 (0o2777 with groupshared) when it differs, so that is what we set.
    os.chmod(root, 0o777)
    return root


def _run(cwd: Path, *args: str, home: Path | None = None) -> Result:
    """One nbgrader command in ``cwd``; a failure is one line naming the command."""
    env = {}
    if home is not None:
        # A student's session: their own HOME (no instructor config in ~/.jupyter), their own folder.
        env = {"HOME": str(home), "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
               "JUPYTER_DATA_DIR": str(home / ".local/share/jupyter")}
    result = nbgrader(cwd, *args, env=env)
    if result.returncode != 0:
        last = result.output.strip().splitlines()
        raise RuntimeError(f"nbgrader {args[0]} failed in {cwd}: {last[-1] if last else 'no output'}")
    return result


def _exchange_flags(course: Path) -> list[str]:
    return [f"--Exchange.root={exchange_root(course)}", f"--CourseDirectory.course_id={COURSE_ID}"]


def release(course: Path, assignment: str) -> None:
    """Instructor: put the assignment in the exchange's outbound folder. Uses ``course/release``
    when it holds the assignment (the committed, checked release), else generates one for grading."""
    from .grade import STAGING, generate
    flags = _exchange_flags(course)
    if not any((course / "release" / assignment).glob("*.ipynb")):
        generate(course, assignment)
        flags.append(f"--CourseDirectory.release_directory={STAGING}/release")
    _run(course, "release_assignment", assignment, "--force", *flags)


def round_trip(course: Path, students: dict[str, Path], assignment: str = "01_networks",
               homes: Path | None = None, **grade_options) -> dict:
    """Run the class's round trip for ``students`` (student id -> the notebook they hand in, or a
    folder of notebooks); returns ``{"rows": grade rows, "feedback": student -> fetched HTML files}``.
    ``homes`` holds each student's working folder (default ``course/../students``)."""
    from .grade import grade_all
    if not students:
        raise ValueError("round_trip needs at least one student")
    for student, work in students.items():
        if not student or "/" in student or "*" in student or "+" in student:
            raise ValueError(f"bad student id {student!r}: no '/', '*' or '+'")
        if not Path(work).exists():
            raise ValueError(f"{student}: {work} does not exist")
    course = course.resolve()
    setup(course)
    homes = (homes or course.parent / "students").resolve()
    flags = _exchange_flags(course)
    release(course, assignment)
    for student, work in students.items():
        home = homes / student
        if home.exists():
            shutil.rmtree(home)
        home.mkdir(parents=True)
        _run(home, "fetch_assignment", assignment, f"--student={student}", *flags, home=home)
        fetched = home / assignment
        sources = sorted(Path(work).glob("*.ipynb")) if Path(work).is_dir() else [Path(work)]
        for src in sources:
            # The student's work replaces the notebook of the same name they fetched.
            name = src.name if (fetched / src.name).exists() else next(fetched.glob("*.ipynb")).name
            shutil.copyfile(src, fetched / name)
        _run(home, "submit", assignment, f"--student={student}", *flags, home=home)
    _run(course, "collect", assignment, "--update", *flags)
    rows = grade_all(course, [assignment], **grade_options)  # sandboxed; autograde, feedback, export
    _run(course, "release_feedback", assignment, *flags)
    feedback = {}
    for student in students:
        home = homes / student
        _run(home, "fetch_feedback", assignment, f"--student={student}", *flags, home=home)
        feedback[student] = sorted((home / assignment / "feedback").rglob("*.html"))
    return {"rows": rows, "feedback": feedback}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["setup"], help="setup: create course/exchange for nbgrader")
    parser.add_argument("--course", type=Path, default=COURSE)
    args = parser.parse_args(argv)
    print(f"nbgrader exchange: {setup(args.course.resolve())}")


if __name__ == "__main__":
    main()
