"""How fast the sandboxed batch grades, against plain serial ``nbgrader autograde`` on the same batch.

    .venv/bin/python benchmarks/grading.py [-n 100] [--jobs 2] [--include-slow] [--skip-baseline] [--baseline-n 20]

Builds N submissions of assignment 01 by cycling through the samples of ``autograder.samples``
(honest and hostile; ``hangs``, ``memory_hog`` and ``kills_its_runner`` only with ``--include-slow``,
since they run to a limit by design), grades them with ``grade_all(jobs=...)`` in a scratch course
and prints a markdown table: wall seconds, submissions per minute and CPU seconds per submission
(this process and every child it waited for: ``getrusage``). Then the baseline: ``nbgrader
autograde`` with nbgrader's own preprocessors (``Execute``, ``SaveAutoGrades``: unsandboxed, one
notebook after another) on a copy of the same batch. The baseline leaves out the samples that
attack the machine they run on (they would, unsandboxed); ``--baseline-hostile`` keeps them (only
in a throwaway machine). Target: 100 submissions in <= 5 minutes on 2 cores, <= 5 s CPU each.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

from autograder import grade, samples
from autograder.course import REPO, nbgrader, scratch_course
from autograder.sandbox import Limits, bwrap_path

ASSIGNMENT = samples.ASSIGNMENT
SLOW = ("hangs", "memory_hog", "kills_its_runner")
# Unsandboxed, these write outside their folder, reach the network, leave processes or read the answers.
UNSAFE_UNSANDBOXED = ("breaks_out", "network_and_child", "reads_solutions", "kills_its_runner", "memory_hog", "hangs")
NBGRADER_DEFAULT = ["nbgrader.preprocessors.Execute", "nbgrader.preprocessors.IgnorePattern",
                    "nbconvert.preprocessors.ClearMetadataPreprocessor", "nbgrader.preprocessors.LimitOutput",
                    "nbgrader.preprocessors.SaveAutoGrades", "nbgrader.preprocessors.AssignLatePenalties",
                    "nbgrader.preprocessors.CheckCellMetadata"]


def cpu_seconds() -> float:
    """CPU time of this process plus every child (and grandchild) already waited for."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


# RUSAGE_CHILDREN does not see inside bwrap (its PID namespace's init reaps the runner), so each
# sandboxed runner is started under a tiny wrapper, inside the sandbox, that writes its children's
# CPU seconds to /submission/cpu.txt; the benchmark adds them up from the run folders.
CPU_WRAPPER = ("import resource, subprocess, sys; code = subprocess.call(sys.argv[1:]); "
               "r = resource.getrusage(resource.RUSAGE_CHILDREN); "
               "open('cpu.txt', 'w').write(str(r.ru_utime + r.ru_stime)); sys.exit(code)")


def measure_sandbox_cpu() -> None:
    from autograder import sandbox
    original = sandbox.bwrap_command

    def wrapped(env, work, limits, slot):
        cmd = original(env, work, limits, slot)
        i = cmd.index("prlimit")
        return cmd[:i] + [str(env / "bin" / "python"), "-c", CPU_WRAPPER] + cmd[i:]
    sandbox.bwrap_command = wrapped


def sandbox_cpu(course: Path) -> float:
    return sum(float(p.read_text() or 0) for p in (course / grade.STAGING / "runs").rglob("submission/cpu.txt"))


def build_batch(dest: Path, n: int, include_slow: bool) -> dict[str, str]:
    """``n`` submissions under ``dest`` (nbgrader's submitted layout); returns student -> sample."""
    names = [s for s in samples.EXPECTED if include_slow or s not in SLOW]
    with tempfile.TemporaryDirectory() as tmp:
        samples.build(Path(tmp), only=names)
        batch = {}
        for i in range(n):
            sample = names[i % len(names)]
            student = f"s{i:03d}_{sample}"
            shutil.copytree(Path(tmp) / sample, dest / student)
            batch[student] = sample
    return batch


def measure(label: str, n: int, run) -> dict:
    wall, cpu = time.perf_counter(), cpu_seconds()
    run()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return {"how": label, "n": n, "wall": wall, "per_min": 60 * n / wall, "cpu_each": cpu / n}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=100, help="submissions (default 100)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--include-slow", action="store_true", help="also the samples that run to a limit")
    parser.add_argument("--skip-baseline", action="store_true", help="do not run plain nbgrader autograde")
    parser.add_argument("--baseline-n", type=int, default=None,
                        help="plain nbgrader grades only the first N submissions of the batch (it is slow; default: all)")
    parser.add_argument("--baseline-hostile", action="store_true", help="run the machine-attacking samples unsandboxed too")
    parser.add_argument("--dest", type=Path, default=REPO / "build" / "bench-grading")
    args = parser.parse_args(argv)
    if args.n < 1 or args.jobs < 1:
        sys.exit("error: -n and --jobs must be at least 1")
    if not bwrap_path():
        sys.exit("error: bubblewrap is not installed (sudo apt-get install bubblewrap)")
    load = os.getloadavg()
    submitted = args.dest / "submitted"
    shutil.rmtree(args.dest, ignore_errors=True)
    batch = build_batch(submitted, args.n, args.include_slow)

    # Where the time goes: the nbgrader passes the batch makes (generate, autograde, feedback, export).
    spent: dict[str, float] = {}
    real_nbgrader = grade.nbgrader

    def timed(course, *a, **k):
        start = time.perf_counter()
        try:
            return real_nbgrader(course, *a, **k)
        finally:
            spent[a[0]] = spent.get(a[0], 0.0) + time.perf_counter() - start
    grade.nbgrader = timed
    measure_sandbox_cpu()
    course = scratch_course(args.dest / "sandboxed", submitted)
    rows: list = []
    limits = Limits(wall_s=120, cell_s=60)
    results = [measure(f"`grade_all(jobs={args.jobs})`, bwrap sandbox", args.n,
                       lambda: rows.extend(grade.grade_all(course, [ASSIGNMENT], jobs=args.jobs, limits=limits,
                                                           force=True, progress=False)))]
    grade.nbgrader = real_nbgrader
    wrong = [r.student for r in rows if (r.score, r.status) != samples.EXPECTED[batch[r.student]]]
    sandbox_s = sum(r.seconds for r in rows) / max(len(rows), 1)
    inside = sandbox_cpu(course)
    results[0]["cpu_each"] += inside / args.n  # getrusage saw the driver and nbgrader, not the sandboxes

    if not args.skip_baseline:
        keep = sorted(s for s, sample in batch.items() if args.baseline_hostile or sample not in UNSAFE_UNSANDBOXED)
        keep = keep[:args.baseline_n] if args.baseline_n else keep
        plain_sub = args.dest / "plain-submitted"
        for student in sorted(keep):
            shutil.copytree(submitted / student, plain_sub / student)
        plain = scratch_course(args.dest / "plain", plain_sub)
        grade.generate(plain, ASSIGNMENT)
        pps = "[" + ",".join(repr(p) for p in NBGRADER_DEFAULT) + "]"
        out: list = []
        results.append(measure("serial `nbgrader autograde` (Execute, unsandboxed)", len(keep), lambda: out.append(
            nbgrader(plain, "autograde", ASSIGNMENT, "--force", f"--Autograde.autograde_preprocessors={pps}"))))
        if out[0].returncode != 0:
            print(f"warning: the baseline nbgrader autograde failed:\n{out[0].output[-1500:]}", file=sys.stderr)

    print(f"\nmachine: {os.cpu_count()} cores, load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
          f"at end {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n")
    print("| how | submissions | wall s | submissions / min | CPU s / submission |")
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(f"| {r['how']} | {r['n']} | {r['wall']:.1f} | {r['per_min']:.1f} | {r['cpu_each']:.1f} |")
    print(f"\nsandboxed batch: mean sandbox run {sandbox_s:.1f} s wall, {inside / args.n:.1f} s CPU inside the sandbox "
          f"per submission; nbgrader passes "
          + ", ".join(f"{k} {v:.1f} s" for k, v in spent.items()))
    print(f"rows not as expected: {wrong or 'none'}")
    target = args.n >= 100 and results[0]["wall"] <= 300 and results[0]["cpu_each"] <= 5
    print(f"target (100 submissions in <= 5 min on 2 cores, <= 5 s CPU each): {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
