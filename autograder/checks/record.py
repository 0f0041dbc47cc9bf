"""Recording what a student's code produces on a case, for the comparator to judge.

A test cell only *records*: ``record_test`` runs each graded case of the test on the student's
class or function and writes the resulting arrays to ``$YTDNN_RECORDS/<case>.npz`` (the grader sets
that variable to a folder of the submission's sandbox). The comparator, a separate process that
never runs student code, compares those files with the hidden expected values and decides the
points. Whatever a notebook patches in its own process can change what it records, never the verdict.

Outside grading (no ``$YTDNN_RECORDS``) the cases still run, so a crash shows up at once.
"""
from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from types import ModuleType

import numpy as np

from .compare import as_array

RECORDS_ENV = "YTDNN_RECORDS"
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
CASE_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
MAX_ERROR_CHARS = 500


def write_record(case_id: str, arrays: dict | None = None, error: str | None = None) -> bool:
    """Write one case's arrays (or the error it raised); False when not grading."""
    folder = os.environ.get(RECORDS_ENV)
    if not folder:
        return False
    if not CASE_ID.match(case_id):
        raise ValueError(f"{case_id!r}: case ids are letters, digits, '_', '.', '-'")
    payload = {f"a_{k}": np.asarray(v) for k, v in (arrays or {}).items()}
    if error is not None:
        payload["error"] = np.array(error[:MAX_ERROR_CHARS])
    Path(folder).mkdir(parents=True, exist_ok=True)
    np.savez(Path(folder) / f"{case_id}.npz", **payload)
    return True


def record_test(module: ModuleType, grade_id: str, obj, quiet: bool = False) -> None:
    """Run every graded case of test ``grade_id`` on ``obj`` and record the results.

    ``module`` is the assignment's check module: ``module.TESTS[grade_id]`` lists the case ids,
    ``module.CASES[case_id]`` holds a case's inputs and ``module.run_case(obj, case)`` returns the
    arrays to record. A case that raises is recorded as that error; the next case still runs.
    ``quiet`` (the visible checks) prints only when a case raised.
    """
    cases = module.TESTS[grade_id]
    errors = []
    for case_id in cases:
        try:
            arrays = module.run_case(obj, module.CASES[case_id])
        except Exception as err:  # the student's code may raise anything; the comparator reports it
            errors.append(f"{module.CASES[case_id]['kind']}: {type(err).__name__}: {err}")
            write_record(case_id, error=f"{type(err).__name__}: {err}")
        else:
            write_record(case_id, arrays)
    if quiet and not errors:
        return
    verb = "recorded" if os.environ.get(RECORDS_ENV) else "ran"
    print(f"{verb} {len(cases)} graded case(s) of {grade_id}; the grader compares them after the notebook has run"
          + (f"\n  {len(errors)} raised an error: " + "; ".join(errors) if errors else ""))


@lru_cache(maxsize=None)
def visible(assignment: str) -> dict:
    """The visible cases of ``assignment``: ``{case_id: {"arrays": {name: frozen}, ...extras}}``."""
    path = EXPECTED_DIR / f"{assignment}.json"
    try:
        return json.loads(path.read_text())["cases"]
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: visible expectations are missing; an instructor runs 'make expected'") from None
    except (ValueError, KeyError) as err:
        raise ValueError(f"{path}: visible expectations are not valid ({err})") from None


def visible_array(assignment: str, case_id: str, name: str) -> np.ndarray:
    return as_array(visible(assignment)[case_id]["arrays"][name])
