"""Run the sandboxed executions on a Dask cluster: ``python -m autograder.grade --scheduler ADDRESS``.

The driver (``autograder.grade``) still sanitizes every submission, stages each result, writes
``grades.csv`` and is the one writer of the gradebook; only :func:`autograder.grade.run_job` (execute
in the sandbox, then judge with the comparator) runs on the workers, so the rows and statuses are
the same as a local run's.

**What every worker needs** (an instructor sets this up once per machine):

* this repository installed in the worker's Python environment (``pip install -e .`` of the same
  commit, with ``requirements.txt``), so ``autograder`` imports there and the comparator uses the
  same hidden expectations;
* the grader environment of :func:`autograder.bundle.grader_env` (``build/grader-env``); it is built
  on the worker on first use when missing or stale (a file lock keeps two tasks from building it at
  once);
* bubblewrap (``sudo apt-get install bubblewrap``) unless the batch runs with ``--no-sandbox``.

Start a cluster with ``dask scheduler`` on one machine and ``dask worker tcp://HOST:8786
--nthreads N`` (N = submissions at once on that machine, about its cores) on each grading machine.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .grade import Job, run_job
from .sandbox import Limits

MAX_SLOTS = 256  # distinct sandbox uids per machine (SANDBOX_UID + slot)
_env_lock = threading.Lock()


def _lock_dir() -> Path:
    folder = Path(tempfile.gettempdir()) / "ytdnn-grading"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


@contextmanager
def _machine_slot() -> Iterator[int]:
    """A sandbox slot no other task on this machine holds right now: worker processes and their
    threads share one machine, and two sandboxes with the same uid would share a process count."""
    folder = _lock_dir()
    for slot in range(MAX_SLOTS):
        f = open(folder / f"slot-{slot}.lock", "w")
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.close()
            continue
        try:
            yield slot
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)
            f.close()
        return
    raise RuntimeError(f"more than {MAX_SLOTS} sandboxes at once on this machine")


def _worker_env() -> Path:
    """The grader environment on this worker, built when missing (one builder per machine)."""
    from .bundle import grader_env
    with _env_lock, open(_lock_dir() / "grader-env.lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        return grader_env()


def grade_remotely(job: Job, limits: Limits, sandbox: bool) -> dict[str, dict]:
    """Runs on a worker: execute and judge one submission in a private scratch folder."""
    env = _worker_env()
    run_root = Path(tempfile.mkdtemp(prefix="run-", dir=_lock_dir()))
    try:
        with _machine_slot() as slot:
            return run_job(job, env, run_root, limits, sandbox, slot)
    finally:
        # The executed notebook travels back in the result; nothing stays on the worker.
        shutil.rmtree(run_root, ignore_errors=True)


def run_on_cluster(address: str, jobs: list[Job], limits: Limits, sandbox: bool) -> Iterator[tuple[Job, dict[str, dict]]]:
    """Yield ``(job, results)`` for each job as soon as its worker finishes it (any order).

    A job whose task fails (a lost worker twice, an environment problem on the worker) is not
    staged: the others are yielded first, then a ``RuntimeError`` names the failed ones, so a re-run
    grades exactly those."""
    if not jobs:
        return
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise SystemExit("error: --scheduler needs dask and distributed: pip install -r requirements.txt") from None
    try:
        client = Client(address, timeout="20s", set_as_default=False)
    except (OSError, TimeoutError, ValueError) as err:
        raise SystemExit(f"error: cannot reach the Dask scheduler at {address}: {type(err).__name__}: {err}") from None
    failed: list[str] = []
    try:
        futures = {}
        for job in jobs:
            # pure=False: two identical notebooks (two blank submissions) are still two runs.
            future = client.submit(grade_remotely, job, limits, sandbox, pure=False, retries=1,
                                   key=f"grade-{job.assignment}-{job.student}-{os.urandom(4).hex()}")
            futures[future.key] = (future, job)
        for future in as_completed([f for f, _ in futures.values()], loop=client.loop):
            job = futures[future.key][1]
            try:
                results = future.result()
            except Exception as err:  # one failed task must not lose the finished ones
                failed.append(f"{job.student}/{job.assignment} ({type(err).__name__}: {str(err)[:120]})")
                continue
            finally:
                future.release()
            yield job, results
    finally:
        client.close()
    if failed:
        raise RuntimeError(f"{len(failed)} submission(s) failed on the cluster (re-run to retry): " + "; ".join(failed))
