"""Autograde every submission in batch: ``make autograde`` (``python -m autograder.grade``).

For each submitted notebook of ``course/submitted/<student>/<assignment>/``:

1. **sanitize** (in this process): nbgrader's own preprocessors put the instructor's test cells back
   (hidden tests included, deleted ones restored) and clear outputs; a notebook that cannot be read
   or whose cells were tampered with is ``invalid``;
2. **execute** in a bubblewrap sandbox (``autograder.sandbox``), up to ``--jobs`` at once: test cells
   record what the student's code produces;
3. **judge** with the comparator (``autograder.comparator``): points come from the records and the
   hidden expected values, never from the notebook's own process;
4. **stage** the result under ``course/grading/`` and rewrite ``course/grades.csv`` at once, so a
   crash of this driver loses nothing finished and a re-run resumes (``--force`` grades again).

Then one ``nbgrader autograde`` per assignment writes the verdicts into the gradebook (one writer),
``generate_feedback`` makes the HTML and ``export`` nbgrader's CSV. Submissions are only read.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.modules.setdefault("rfc3987_syntax", None)  # 2 s of imports for nothing: see autograder/nbgrader_run.py

import nbformat  # noqa: E402
from traitlets.config import Config

from .bundle import grader_env
from .comparator import judge
from .course import COURSE, graded_assignments, nbgrader
from .integrity import scan_notebook
from .plugins import staged_path
from .sandbox import INSTALL_HINT, Execution, Limits, bwrap_path, execute

STAGING = "grading"


@dataclass
class Row:
    student: str
    assignment: str
    score: float = 0.0
    max_score: float = 0.0
    status: str = "ok"
    detail: str = ""
    sandbox: str = "bwrap"
    review: str = ""
    seconds: float = 0.0
    tests: dict[str, float] = field(default_factory=dict)


def students(course: Path) -> list[str]:
    submitted = course / "submitted"
    return sorted(p.name for p in submitted.iterdir() if p.is_dir()) if submitted.is_dir() else []


def source_notebooks(course: Path, assignment: str) -> list[Path]:
    return sorted((course / "source" / assignment).glob("*.ipynb"))


def test_points(course: Path, assignment: str) -> dict[str, float]:
    """grade_id -> points of every test cell of the assignment's source notebooks."""
    points = {}
    for path in source_notebooks(course, assignment):
        for cell in json.loads(path.read_text())["cells"]:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and not meta.get("solution"):
                points[meta["grade_id"]] = float(meta.get("points", 0))
    return points


def sanitize(course: Path, assignment: str, student: str, path: Path) -> bytes:
    """The submitted notebook with the instructor's locked and test cells put back, as nbgrader's
    autograde would; raises ValueError with a one-line reason when it cannot be graded."""
    from nbgrader.preprocessors import CheckCellMetadata, ClearOutput, DeduplicateIds, OverwriteKernelspec
    from .overwrite import RestoringOverwriteCells
    try:
        nb = nbformat.read(str(path), as_version=4)
    except Exception as err:  # any unreadable file is one kind of problem for the instructor
        raise ValueError(f"{path.name} is not a readable notebook ({type(err).__name__})") from None
    config = Config({"OverwriteCells": {"add_missing_cells": True}})
    resources = {"nbgrader": {"db_url": f"sqlite:///{course / 'gradebook.db'}", "assignment": assignment,
                              "notebook": path.stem, "student": student}}
    try:
        for pp in (ClearOutput, DeduplicateIds, OverwriteKernelspec, RestoringOverwriteCells, CheckCellMetadata):
            nb, resources = pp(config=config).preprocess(nb, resources)
    except Exception as err:
        raise ValueError(f"{path.name}: cells cannot be matched with the assignment ({type(err).__name__}: {str(err)[:150]})") from None
    return nbformat.writes(nb).encode()


@dataclass
class Job:
    assignment: str
    student: str
    notebooks: dict[str, bytes | str] = field(default_factory=dict)  # name -> sanitized bytes, or why it is invalid


def prepare(course: Path, job: Job) -> Job:
    """Fill ``job.notebooks``: every notebook of the assignment, sanitized, or why it cannot be graded."""
    folder = course / "submitted" / job.student / job.assignment
    for src in source_notebooks(course, job.assignment):
        path = folder / src.name
        try:
            job.notebooks[src.stem] = sanitize(course, job.assignment, job.student, path) if path.is_file() \
                else f"{src.name} is missing from the submission"
        except ValueError as err:
            job.notebooks[src.stem] = str(err)
    return job


def run_job(job: Job, env: Path, run_root: Path, limits: Limits, sandbox: bool, slot: int) -> dict[str, dict]:
    """Execute every notebook of one submission and judge it: notebook name -> staged result."""
    results = {}
    for name, data in job.notebooks.items():
        if isinstance(data, str):
            results[name] = {"status": "invalid", "detail": data, "sandbox": "bwrap" if sandbox else "none",
                             "seconds": 0.0, "verdicts": {}, "notebook": None}
            continue
        run = execute(data, run_root / job.assignment / job.student / name, env, limits, sandbox=sandbox, slot=slot)
        verdicts = judge(job.assignment, run.records)
        results[name] = {"status": run.status, "detail": run.detail, "sandbox": run.sandbox,
                         "seconds": round(run.seconds, 2), "notebook": run.notebook,
                         "verdicts": {g: {"passed": v.passed, "lines": v.lines} for g, v in verdicts.items()}}
    return results


def make_row(course: Path, job_assignment: str, student: str, results: dict[str, dict], review: str) -> Row:
    points = test_points(course, job_assignment)
    row = Row(student, job_assignment, max_score=sum(points.values()), review=review)
    statuses = [r["status"] for r in results.values()]
    failures = [s for s in statuses if s != "ok"]
    row.status = failures[0] if failures else "ok"
    row.detail = next((r["detail"] for r in results.values() if r["status"] != "ok"), "")
    row.sandbox = next(iter(results.values()))["sandbox"] if results else "none"
    row.seconds = round(sum(r["seconds"] for r in results.values()), 2)
    verdicts = {g: v for r in results.values() for g, v in r["verdicts"].items()}
    row.tests = {g: (p if verdicts.get(g, {}).get("passed") else 0.0) for g, p in points.items()}
    row.score = sum(row.tests.values())
    return row


def write_csv(rows: list[Row], path: Path) -> None:
    """grades.csv, replaced atomically: a reader never sees half a file."""
    tests = sorted({t for r in rows for t in r.tests})
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student_id", "assignment", "score", "max_score", "status", "detail", "sandbox",
                         "review", "seconds", *tests])
        for r in sorted(rows, key=lambda r: (r.assignment, r.student)):
            writer.writerow([r.student, r.assignment, r.score, r.max_score, r.status, r.detail, r.sandbox,
                             r.review, r.seconds, *[r.tests.get(t, "") for t in tests]])
    tmp.replace(path)


def _load_row(path: Path) -> Row | None:
    try:
        return Row(**json.loads(path.read_text()))
    except (OSError, ValueError, TypeError):
        return None


def _write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data))
    tmp.replace(path)


CDN_MATHJAX = re.compile(r"https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/[^\"']*")


def offline_mathjax(feedback: Path) -> None:
    """Make the feedback HTML render maths with no internet: copy MathJax (from the installed
    jupyter-server-mathjax) to ``feedback/_mathjax/`` once, and point every feedback page at it.
    (nbgrader's feedback template hard-codes a CDN address, whatever ``HTMLExporter.mathjax_url`` says.)"""
    import jupyter_server_mathjax
    if not feedback.is_dir():
        return
    target = feedback / "_mathjax"
    if not (target / "MathJax.js").is_file():
        shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static", target, dirs_exist_ok=True)
    for page in feedback.rglob("*.html"):
        if "_mathjax" in page.parts:
            continue
        html = page.read_text()
        local = os.path.relpath(target / "MathJax.js", page.parent) + "?config=TeX-AMS-MML_HTMLorMML-full,Safe"
        fixed = CDN_MATHJAX.sub(local, html)
        if fixed != html:
            page.chmod(0o644)
            page.write_text(fixed)


def generate(course: Path, assignment: str) -> None:
    """Put the assignment's source cells (hidden tests included) in the gradebook, without touching
    ``course/release`` (the committed student release)."""
    result = nbgrader(course, "generate_assignment", assignment, "--force",
                      f"--CourseDirectory.release_directory={STAGING}/release")
    if result.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment {assignment} failed:\n{result.output[-2000:]}")


def generate_feedback(course: Path, assignment: str, names: list[str], jobs: int) -> None:
    """nbgrader's feedback HTML for ``names``, in up to ``jobs`` nbgrader processes at once (each
    leaves out the others' students): it only reads the gradebook, and rendering HTML is most of
    its time. Results are the same as one ``nbgrader generate_feedback``."""
    parts = [names[i::jobs] for i in range(jobs)] if jobs > 1 and len(names) >= 2 * jobs else [names]

    def one(part: list[str]) -> None:
        others = sorted(set(names) - set(part))
        exclude = [f"--CourseDirectory.student_id_exclude={','.join(others)}"] if others else []
        nbgrader(course, "generate_feedback", assignment, "--force", *exclude)
    with ThreadPoolExecutor(max_workers=len(parts)) as pool:
        list(pool.map(one, parts))


def stage_notebook_now(staging: Path, assignment: str, student: str, notebook: str, nb) -> None:
    """Used when ``nbgrader autograde`` is run by hand: execute and judge one sanitized notebook now."""
    sandbox = bool(bwrap_path())
    job = Job(assignment, student, {notebook: nbformat.writes(nb).encode()})
    result = run_job(job, grader_env(), staging / "runs", Limits(), sandbox, slot=0)[notebook]
    _write_json(staged_path(staging, assignment, student, notebook), result)


def grade_all(course: Path = COURSE, only: list[str] | None = None, *, jobs: int | None = None,
              limits: Limits = Limits(), sandbox: bool = True, force: bool = False,
              progress: bool = True, scheduler: str | None = None) -> list[Row]:
    """Grade every submission of the graded assignments; returns one row per (student, assignment)."""
    if sandbox and not bwrap_path():
        raise SystemExit(INSTALL_HINT)
    jobs = jobs or os.cpu_count() or 1
    staging = course / STAGING
    env = grader_env()
    rows: dict[tuple[str, str], Row] = {}
    start = time.perf_counter()
    n_graded = 0
    for assignment in only or graded_assignments(course):
        generate(course, assignment)
        pending: list[Job] = []
        for student in students(course):
            row_path = staging / assignment / student / "row.json"
            folder = course / "submitted" / student / assignment
            if not folder.is_dir():
                rows[(assignment, student)] = Row(student, assignment, max_score=sum(test_points(course, assignment).values()),
                                                  status="not submitted", sandbox="-")
                continue
            old = None if force else _load_row(row_path)
            if old is not None:
                rows[(assignment, student)] = old
                continue
            pending.append(Job(assignment, student))  # sanitized by a worker, beside the other runs
        write_csv(list(rows.values()), course / "grades.csv")
        n_graded += _run_pending(course, pending, env, staging, limits, sandbox, jobs, rows, progress, scheduler)
        # One writer for the SQLite gradebook: nbgrader loads the staged results and verdicts.
        result = nbgrader(course, "autograde", assignment, "--force", f"--LoadSandboxResult.staging={staging}")
        failed = set(re.findall(r"error processing assignment '[^']*' for student '([^']*)'", result.output))
        expected_failures = {s for (a, s), r in rows.items() if a == assignment and r.status == "invalid"}
        if result.returncode != 0 and not failed <= expected_failures:
            print(f"warning: nbgrader autograde {assignment} reported a problem:\n{result.output[-1500:]}", file=sys.stderr)
        generate_feedback(course, assignment, students(course), jobs)
        offline_mathjax(course / "feedback")
    nbgrader(course, "export", "--to", str(course / "grades_nbgrader.csv"))
    write_csv(list(rows.values()), course / "grades.csv")
    seconds = time.perf_counter() - start
    failed = sum(r.status not in ("ok", "not submitted") for r in rows.values())
    print(f"graded {n_graded} submission(s) ({failed} not ok) in {seconds:.1f} s: "
          f"{60 * n_graded / max(seconds, 1e-9):.1f} submissions per minute; sandbox: {'bwrap' if sandbox else 'NONE'}")
    return list(rows.values())


def _run_pending(course, pending, env, staging, limits, sandbox, jobs, rows, progress, scheduler) -> int:
    """Execute the pending jobs in parallel; stage and record each one as soon as it finishes."""
    from tqdm.auto import tqdm

    def finish(job: Job, results: dict[str, dict]) -> None:
        for name, result in results.items():
            _write_json(staged_path(staging, job.assignment, job.student, name), result)
        folder = course / "submitted" / job.student / job.assignment
        review = "; ".join(r for nb in sorted(folder.glob("*.ipynb")) for r in scan_notebook(nb))[:500]
        row = make_row(course, job.assignment, job.student, results, review)
        _write_json(staging / job.assignment / job.student / "row.json", asdict(row))
        rows[(job.assignment, job.student)] = row
        write_csv(list(rows.values()), course / "grades.csv")

    bar = tqdm(total=len(pending), desc="grading", unit="submission", disable=not progress or not pending)
    if scheduler:
        from .cluster import run_on_cluster
        for job, results in run_on_cluster(scheduler, [prepare(course, job) for job in pending], limits, sandbox):
            finish(job, results)
            bar.update()
    else:
        free_slots = list(range(jobs))
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            def task(job: Job):
                slot = free_slots.pop()
                try:
                    return run_job(prepare(course, job), env, staging / "runs", limits, sandbox, slot)
                finally:
                    free_slots.append(slot)
            futures = {pool.submit(task, job): job for job in pending}
            for future in as_completed(futures):
                finish(futures[future], future.result())
                bar.update()
    bar.close()
    return len(pending)


def print_gradebook(rows: list[Row]) -> None:
    width = max([len(r.student) for r in rows] + [7])
    print(f"\n{'student':<{width}}  {'assignment':<14} {'score':>11}  {'status':<13} review")
    for r in rows:
        print(f"{r.student:<{width}}  {r.assignment:<14} {r.score:>5g} / {r.max_score:<3g}  {r.status:<13} {r.review[:60]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--course", type=Path, default=COURSE)
    parser.add_argument("--assignment", action="append", help="grade only this assignment (repeatable)")
    parser.add_argument("--jobs", type=int, default=None, help="submissions graded at once (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=Limits.wall_s, help="wall-clock seconds per submission")
    parser.add_argument("--cell-timeout", type=int, default=Limits.cell_s, help="seconds per cell")
    parser.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="address-space cap per submission")
    parser.add_argument("--force", action="store_true", help="grade again what is already graded")
    parser.add_argument("--no-sandbox", action="store_true", help="run submissions WITHOUT bubblewrap (rows say sandbox: none)")
    parser.add_argument("--scheduler", help="address of a Dask scheduler to run the sandboxed executions on")
    args = parser.parse_args(argv)
    limits = Limits(wall_s=args.timeout, cell_s=args.cell_timeout, memory_mb=args.memory_mb)
    if not args.no_sandbox and not bwrap_path():
        sys.exit(f"error: {INSTALL_HINT}")
    rows = grade_all(args.course.resolve(), args.assignment, jobs=args.jobs, limits=limits,
                     sandbox=not args.no_sandbox, force=args.force, scheduler=args.scheduler)
    print_gradebook(rows)
    print(f"\ngrades: {args.course / 'grades.csv'}   feedback: {args.course / 'feedback'}/<student>/<assignment>/")


if __name__ == "__main__":
    main()
