"""The comparator: decides every test's points from recorded arrays, outside the student's process.

A graded notebook's test cells only write ``records/<case>.npz`` (see ``autograder.checks.record``).
After the notebook has run, the grader calls :func:`judge`, which reads those files as plain arrays
(``allow_pickle=False``, size-capped, no symlinks followed), compares them with the hidden expected
values of ``autograder/hidden/<assignment>.json`` and returns one verdict per test cell. It never
imports or runs anything the student wrote, so nothing a notebook patches in its own kernel (torch,
numpy, the checks) can change a verdict. Feedback names the kind of case and what differed (shape,
values, gradient rows), never a graded case's expected values.
"""
from __future__ import annotations

import io
import json
import os
import stat
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from .checks.compare import as_array, mismatch_lines, shape_str
from .checks.record import CASE_ID

HIDDEN_DIR = Path(__file__).resolve().parent / "hidden"
MAX_RECORD_BYTES = 32 * 2**20  # per file, packed and unpacked


@dataclass
class Verdict:
    """One test cell's result: passed when every graded case matched."""
    grade_id: str
    passed: bool
    lines: list[str] = field(default_factory=list)

    def message(self) -> str:
        head = "passed" if self.passed else "failed"
        return "\n".join([f"{self.grade_id}: {head}", *("  " + line for line in self.lines)])


@lru_cache(maxsize=None)
def hidden(assignment: str, folder: Path = HIDDEN_DIR) -> dict:
    """The instructor's expectations of ``assignment``: ``{"tests": {...}, "cases": {...}}``."""
    path = folder / f"{assignment}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: hidden expectations are missing; run 'make expected'") from None


def _open_no_follow(name: str, dir_fd: int | None = None) -> int:
    flags = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
    return os.open(name, flags, dir_fd=dir_fd)


def read_untrusted(path: Path, max_bytes: int) -> bytes:
    """A regular file's bytes, refusing symlinks (at the last component) and anything larger than ``max_bytes``."""
    fd = _open_no_follow(str(path))
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path.name}: not a regular file")
        if info.st_size > max_bytes:
            raise ValueError(f"{path.name}: {info.st_size} bytes, more than the {max_bytes} allowed")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(max_bytes + 1)[:max_bytes]
    finally:
        os.close(fd)


def _load_npz(data: bytes) -> dict[str, np.ndarray]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:  # refuse a zip bomb before numpy unpacks it
        if sum(i.file_size for i in z.infolist()) > MAX_RECORD_BYTES:
            raise ValueError("unpacks to more than the size allowed")
    with np.load(io.BytesIO(data), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def read_record_files(folder: Path) -> dict[str, bytes | str]:
    """``{case_id: raw bytes or "unreadable: why"}`` of a run's records folder (may be absent).

    Safe on a folder the student's code controlled: no symlinks followed, only regular files of an
    allowed size, only names that are case ids."""
    try:
        dir_fd = os.open(str(folder), os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError:
        return {}
    out: dict[str, bytes | str] = {}
    try:
        for name in os.listdir(dir_fd):
            case_id = name[:-4] if name.endswith(".npz") else None
            if not case_id or not CASE_ID.match(case_id):
                continue
            try:
                fd = _open_no_follow(name, dir_fd)
                try:
                    info = os.fstat(fd)
                    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_RECORD_BYTES:
                        raise ValueError("not a regular file of an allowed size")
                    with os.fdopen(fd, "rb", closefd=False) as f:
                        out[case_id] = f.read(MAX_RECORD_BYTES + 1)
                finally:
                    os.close(fd)
            except (OSError, ValueError) as err:
                out[case_id] = f"unreadable record ({type(err).__name__})"
    finally:
        os.close(dir_fd)
    return out


def parse_records(raw: dict[str, bytes | str]) -> dict[str, dict | str]:
    """Raw record files as arrays: ``{case_id: {name: array} or "unreadable: why"}``."""
    out: dict[str, dict | str] = {}
    for case_id, data in raw.items():
        if isinstance(data, str):
            out[case_id] = data
            continue
        try:
            out[case_id] = _load_npz(data)
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as err:
            out[case_id] = f"unreadable record ({type(err).__name__})"
    return out


def compare_case(expected: dict, record: dict | str | None) -> list[str]:
    """Why a case failed (no expected values in the words), or [] when it matched."""
    if record is None:
        return ["not recorded: the test cell did not run this case (an earlier error, a timeout, or a crash)"]
    if isinstance(record, str):
        return [record]
    if "error" in record:
        return [f"your code raised {str(record['error'])[:300]}"]
    problems = []
    for name, frozen in expected["arrays"].items():
        want = as_array(frozen)
        got = record.get(f"a_{name}")
        what = "gradient rows" if want.dtype == bool else name
        if got is None:
            problems.append(f"{what}: nothing recorded")
        elif got.dtype.kind not in "biuf":
            problems.append(f"{what}: recorded {got.dtype} values, not numbers")
        elif got.shape != want.shape:
            problems.append(f"{what}: shape differs (got {shape_str(got.shape)}, expected {shape_str(want.shape)})")
        elif want.dtype == bool:
            wrong = int((got.astype(bool) != want).sum())
            if wrong:
                problems.append(f"gradient rows: {wrong} of {want.size} embedding rows got a gradient where they "
                                "should not, or none where they should")
        else:
            problems += [f"{what}: {line}" for line in mismatch_lines(got, want, expected["atol"], expected["rtol"],
                                                                       show_values=False)]
    return problems


def judge(assignment: str, raw_records: dict[str, bytes | str], hidden_dir: Path = HIDDEN_DIR) -> dict[str, Verdict]:
    """One verdict per test cell of ``assignment`` from a run's raw records (:func:`read_record_files`)."""
    spec = hidden(assignment, hidden_dir)
    records = parse_records(raw_records)
    verdicts = {}
    for grade_id, case_ids in spec["tests"].items():
        lines, ok = [], True
        for case_id in case_ids:
            expected = spec["cases"][case_id]
            problems = compare_case(expected, records.get(case_id))
            ok &= not problems
            lines.append(f"{expected['kind']}: " + ("matched" if not problems else "; ".join(problems)))
        verdicts[grade_id] = Verdict(grade_id, ok, lines)
    return verdicts
