"""Run one submission's notebook in a bubblewrap sandbox and collect what it left behind.

What the notebook sees: a read-only system (``/usr``, ``/etc``, the Python it runs on), the student
bundle's environment (``autograder.bundle.grader_env``: ``ytdnn`` and the checks, no ``solutions``,
no hidden expectations, no instructor tooling), and one private writable folder, ``/submission``,
holding a copy of that one notebook. No network (its own network namespace, loopback only), its own
PID namespace (every process it starts dies with it), an unprivileged user (uid ``61000 + slot`` when
the grader runs as root, so parallel sandboxes do not share a process count), and limits: address
space (memory), process count, file size, a per-cell timeout and a wall-clock limit for the whole run.

The driver reads the results back as untrusted data: the executed notebook and status through
:func:`autograder.comparator.read_untrusted` (no symlinks, size-capped), the records through the
comparator. Statuses: ``ok``, ``timeout``, ``memory``, ``crashed``, ``invalid``; the first failure
seen is the one kept.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass, field
from pathlib import Path

from .comparator import read_record_files, read_untrusted

RUNNER = Path(__file__).resolve().parent / "sandbox_runner.py"
SKIP_TAG = "skip-when-grading"
INSIDE_RUNNER = "/opt/grader/runner.py"
MAX_NOTEBOOK_BYTES = 16 * 2**20
SANDBOX_UID = 61000
INSTALL_HINT = "bubblewrap is not installed: run 'sudo apt-get install bubblewrap' (Debian/Ubuntu), or pass --no-sandbox to grade without one"


@dataclass(frozen=True)
class Limits:
    wall_s: float = 600.0  # the whole run, Python start included
    cell_s: int = 120  # one cell
    memory_mb: int = 6144  # address space of every process in the sandbox (torch reserves some)
    nproc: int = 256
    fsize_mb: int = 256


@dataclass
class Execution:
    """What one sandboxed run produced (``notebook`` is the executed notebook as a dict)."""
    status: str
    detail: str = ""
    notebook: dict | None = None
    seconds: float = 0.0
    sandbox: str = "bwrap"
    records: dict = field(default_factory=dict)  # case id -> raw record bytes (parsed by the comparator)
    extra: dict = field(default_factory=dict)


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _parents(path: Path) -> list[Path]:
    return [p for p in reversed(path.parents) if p != Path("/")]


def bwrap_command(env: Path, work: Path, limits: Limits, slot: int) -> list[str]:
    """The bwrap command line that runs the runner on ``work/notebook.ipynb`` inside ``env``."""
    base = Path(sys.base_prefix)
    deps = Path(sysconfig.get_paths()["purelib"])  # third-party packages of the course venv
    binds = [base, deps, env]
    cmd = [bwrap_path() or "bwrap", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
           "--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    for system in ("/usr", "/etc"):
        cmd += ["--ro-bind", system, system]
    for link in ("/lib", "/lib64", "/bin", "/sbin"):
        cmd += ["--ro-bind-try", link, link]
    # A private /tmp first: mounted after the binds, it would hide any of them that live under /tmp
    # (a course checked out there).
    cmd += ["--perms", "01777", "--tmpfs", "/tmp"]
    made: list[Path] = [Path("/tmp")]
    for target in [*binds, Path(INSIDE_RUNNER)]:  # bwrap creates missing parents 0700: make them traversable
        for parent in _parents(target):
            if parent not in made:
                made.append(parent)
                cmd += ["--perms", "0755", "--dir", str(parent)]
    for target in binds:
        cmd += ["--ro-bind", str(target), str(target)]
    cmd += ["--ro-bind", str(RUNNER), INSIDE_RUNNER, "--bind", str(work), "/submission",
            "--proc", "/proc", "--dev", "/dev", "--chdir", "/submission", "--clearenv"]
    for key, value in _environment(env).items():
        cmd += ["--setenv", key, value]
    uid = SANDBOX_UID + slot
    if os.geteuid() == 0:
        # Namespaces are set up as root; the notebook then runs as a uid of its own, with no capabilities.
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all"]
    else:
        cmd += ["--unshare-user", "--uid", str(uid), "--gid", str(uid), "--"]
    cmd += ["prlimit", f"--as={limits.memory_mb * 2**20}", f"--nproc={limits.nproc}",
            f"--fsize={limits.fsize_mb * 2**20}", "--core=0", "--",
            str(env / "bin" / "python"), INSIDE_RUNNER, "notebook.ipynb", "executed.ipynb",
            "status.json", str(limits.cell_s), SKIP_TAG]
    return cmd


def _environment(env: Path) -> dict[str, str]:
    return {"HOME": "/submission", "PATH": f"{env / 'bin'}:/usr/bin:/bin", "USER": "student", "LANG": "C.UTF-8",
            "YTDNN_RECORDS": "/submission/records", "IPYTHONDIR": "/tmp/ipython", "MPLCONFIGDIR": "/tmp/mpl",
            "MPLBACKEND": "module://matplotlib_inline.backend_inline", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def execute(notebook: bytes, run_dir: Path, env: Path, limits: Limits = Limits(), *, sandbox: bool = True,
            slot: int = 0) -> Execution:
    """Execute ``notebook`` (the sanitized submission, as bytes) in ``run_dir/submission``."""
    if run_dir.exists():
        shutil.rmtree(run_dir)
    work = run_dir / "submission"
    work.mkdir(parents=True)
    (work / "notebook.ipynb").write_bytes(notebook)
    if sandbox:
        if not bwrap_path():
            raise RuntimeError(INSTALL_HINT)
        if os.geteuid() == 0:
            os.chown(work, SANDBOX_UID + slot, SANDBOX_UID + slot)
            os.chown(work / "notebook.ipynb", SANDBOX_UID + slot, SANDBOX_UID + slot)
        cmd, cwd, env_vars = bwrap_command(env, work, limits, slot), None, None
    else:
        # Unsandboxed (an instructor's explicit choice): same runner and limits, the grader's own user.
        env_vars = {**_environment(env), "YTDNN_RECORDS": str(work / "records"), "HOME": str(work),
                    "IPYTHONDIR": str(run_dir / "ipython"),
                    "MPLCONFIGDIR": str(run_dir / "mpl")}
        cmd = ["prlimit", f"--as={limits.memory_mb * 2**20}", f"--fsize={limits.fsize_mb * 2**20}", "--",
               str(env / "bin" / "python"), str(RUNNER), "notebook.ipynb", "executed.ipynb", "status.json",
               str(limits.cell_s), SKIP_TAG]
        cwd = work
    start = time.perf_counter()
    log = run_dir / "sandbox.log"  # a file, not a pipe: what a notebook writes to fd 1 never fills the driver's memory
    with log.open("wb") as sink:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env_vars, stdin=subprocess.DEVNULL, stdout=sink,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=limits.wall_s)
            killed = False
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # bwrap dies, and with it its PID namespace
            proc.wait()
            killed = True
    with log.open("rb") as f:
        f.seek(max(0, log.stat().st_size - 2000))
        out = f.read()
    result = Execution("ok", seconds=time.perf_counter() - start, sandbox="bwrap" if sandbox else "none",
                       records=read_record_files(work / "records"))
    try:
        result.notebook = json.loads(read_untrusted(work / "executed.ipynb", MAX_NOTEBOOK_BYTES))
    except (OSError, ValueError):
        result.notebook = None
    try:
        status = json.loads(read_untrusted(work / "status.json", 4096))
        reported, detail = str(status.get("status", "crashed")), str(status.get("detail", ""))[:300]
    except (OSError, ValueError, AttributeError):
        reported, detail = "crashed", "the run left no status: " + out.decode(errors="replace").strip()[-300:]
    if killed:
        result.status, result.detail = "timeout", f"the whole run passed its {limits.wall_s:g} s limit and was killed"
    elif reported in {"ok", "timeout", "memory", "crashed"}:
        result.status, result.detail = reported, detail
    else:
        result.status, result.detail = "crashed", f"unknown status {reported[:40]!r}"
    return result
