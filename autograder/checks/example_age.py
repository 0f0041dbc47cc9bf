"""Checks for assignment 04 (example age and label selection, paper sections 3.3 and 3.4).

``CASES`` holds every case's inputs; ``TESTS`` maps each test cell (its nbgrader ``grade_id``) to the
graded cases it records; their expected values are the instructor's
(``autograder/hidden/04_example_age.json``) and the comparator decides the points. The visible checks
(``check_example_age_feature``, ``check_select_examples``) compare the example shown in the notebook
with ``autograder/checks/expected/04_example_age.json`` and explain any difference; their points ride
on a graded variant of the same example. Nothing here computes an answer: every expected number is
frozen by ``python -m solutions.expected``.
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from . import record
from .compare import as_array, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed

ASSIGNMENT = "04_example_age"
ATOL = 1e-5  # ages are float32; the reference subtracts in int64 and divides in float64

DAY = 86_400
# Window ends 64 s past a multiple of 128: a Unix time stored as float32 (exact to 128 s) shows.
WINDOW_END = 1_462_000_064
SEED_TIMES = [WINDOW_END - s for s in (0, 5 * 3600 + 17, int(1.5 * DAY) + 301, 10 * DAY + 999, 45 * DAY + 7, 100 * DAY + 12_345)]
VARIANT_END = 1_459_999_936 + 64
VARIANT_TIMES = [VARIANT_END - s for s in (3 * DAY + 11, 59, 70 * DAY + 5000, 2 * DAY + 80_001, 20 * DAY)]


def _watches(n_rows: int, n_users: int, n_times: int, seed: int) -> tuple[list[int], list[int]]:
    """Fixed random watch logs (users and times with ties), written out once as inputs."""
    rng = np.random.default_rng(seed)
    users = rng.integers(100, 100 + n_users, n_rows)
    times = 1_450_000_000 + 60 * rng.integers(0, n_times, n_rows)
    return users.tolist(), times.tolist()


# The seed example of Task 2: three users, rows in no particular order, first watches in the same second.
SEED_USERS = [7, 3, 7, 3, 7, 9, 3, 7, 7, 7, 7, 7, 7, 9]
SEED_STAMPS = [1000, 700, 1300, 400, 1300, 800, 400, 1100, 1200, 1500, 900, 1450, 1600, 800]
LARGE_USERS, LARGE_STAMPS = _watches(200, 15, 60, seed=11)
TIES_USERS, TIES_STAMPS = [5, 5, 5, 8, 8, 8, 8], [100, 100, 100, 20, 30, 30, 10]

A, S = "example_age_feature", "select_examples"
CASES: dict[str, dict] = {
    "age.seed": dict(exercise=A, kind="the example", visible=True, label_time=SEED_TIMES,
                     window_end=WINDOW_END, serving=False),
    "age.seed_variant": dict(exercise=A, kind="the example's kind with other times", label_time=VARIANT_TIMES,
                             window_end=VARIANT_END, serving=False),
    "age.serving": dict(exercise=A, kind="serving time", label_time=SEED_TIMES[::-1], window_end=WINDOW_END, serving=True),
    "age.serving_one": dict(exercise=A, kind="serving time, one example", label_time=[VARIANT_END - 5 * DAY],
                            window_end=VARIANT_END, serving=True),
    "age.future": dict(exercise=A, kind="labels after the window end", label_time=[WINDOW_END + 3600, WINDOW_END - DAY, WINDOW_END + 9 * DAY],
                       window_end=WINDOW_END, serving=False),
    "age.scale": dict(exercise=A, kind="another scale_days", label_time=VARIANT_TIMES, window_end=VARIANT_END,
                      serving=False, scale_days=7.0),
    "age.empty": dict(exercise=A, kind="no examples", label_time=[], window_end=WINDOW_END, serving=False),
    "select.seed": dict(exercise=S, kind="the example", visible=True, user_ids=SEED_USERS, timestamps=SEED_STAMPS,
                        max_per_user=3, seed=0),
    "select.seed_variant": dict(exercise=S, kind="the example's watches with another seed", user_ids=SEED_USERS,
                                timestamps=SEED_STAMPS, max_per_user=3, seed=42),
    "select.all": dict(exercise=S, kind="max_per_user=None (keep every candidate)", user_ids=LARGE_USERS,
                       timestamps=LARGE_STAMPS, max_per_user=None, seed=0),
    "select.large": dict(exercise=S, kind="200 watches of 15 users", user_ids=LARGE_USERS, timestamps=LARGE_STAMPS,
                         max_per_user=5, seed=3),
    "select.cap_one": dict(exercise=S, kind="one example per user", user_ids=LARGE_USERS, timestamps=LARGE_STAMPS,
                           max_per_user=1, seed=8),
    "select.ties": dict(exercise=S, kind="watches in the same second", user_ids=TIES_USERS, timestamps=TIES_STAMPS,
                        max_per_user=10, seed=1),
    "select.single": dict(exercise=S, kind="users with a single watch", user_ids=[4, 2, 9], timestamps=[50, 60, 70],
                          max_per_user=3, seed=0),
    "select.empty": dict(exercise=S, kind="no watches", user_ids=[], timestamps=[], max_per_user=3, seed=0),
}

TESTS: dict[str, list[str]] = {
    "test_age_seed": ["age.seed_variant"],
    "test_age_serving": ["age.serving", "age.serving_one"],
    "test_age_edges": ["age.future", "age.scale", "age.empty"],
    "test_select_seed": ["select.seed_variant"],
    "test_select_sizes": ["select.all", "select.large", "select.cap_one"],
    "test_select_edges": ["select.ties", "select.single", "select.empty"],
}


def _age_output(fn, case: dict):
    kwargs = {"scale_days": case["scale_days"]} if "scale_days" in case else {}
    return fn(torch.tensor(case["label_time"], dtype=torch.int64), case["window_end"], case["serving"], **kwargs)


def _select_output(fn, case: dict):
    return fn(np.array(case["user_ids"], dtype=np.int64), np.array(case["timestamps"], dtype=np.int64),
              case["max_per_user"], case["seed"])


def _as_indices(out) -> np.ndarray:
    if isinstance(out, torch.Tensor):
        out = out.detach().cpu().numpy()
    out = np.asarray(out)
    if out.dtype == bool:
        raise TypeError("returned a boolean mask; expected the row indices (np.flatnonzero of the mask)")
    if out.size and out.dtype.kind not in "iu":
        raise TypeError(f"returned {out.dtype} values; expected integer row indices")
    return out.astype(np.int64)


def run_case(fn, case: dict) -> dict[str, np.ndarray]:
    """What a case records: the (N, 2) features of Task 1, the kept indices of Task 2."""
    if case["exercise"] == A:
        out = _age_output(fn, case)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"returned {type(out).__name__}, expected a torch.Tensor")
        return {"features": out.detach().to(torch.float32).cpu().numpy()}
    return {"indices": _as_indices(_select_output(fn, case))}


def record_test(grade_id: str, fn, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, fn, quiet)


def _call(task: int, what: str, call):
    try:
        return call()
    except NotImplementedError:
        raise CheckFailed(f"Task {task} is not written yet: {what} raised NotImplementedError.",
                          hint="replace `raise NotImplementedError()` with your code, run that cell, then this check.") from None
    except Exception as err:  # the student's code may raise anything; say what and on which input
        raise CheckFailed(f"Task {task}: {what} raised {type(err).__name__}: {err}",
                          hint="run the example cell above and print the intermediate arrays and their shapes.") from None


# --- Task 1 --------------------------------------------------------------------------------------

def _age_hint(got: np.ndarray, want: np.ndarray) -> str:
    g, w = got[:, 0].astype(np.float64), want[:, 0].astype(np.float64)
    close = lambda x, y: np.allclose(x, y, rtol=1e-4, atol=ATOL)
    if close(g, -w):
        return "the ages have the wrong sign: the age is window_end - label_time (older examples are older)."
    if close(g, w * DAY) or close(g, w * DAY * 30):
        return "the age is in seconds: divide by 86400 for days, then by scale_days."
    if close(g, w * 30):
        return "the age is in days: divide by scale_days (30) as well, so the feature is in months."
    if close(g, w * 24):
        return "the age is in hours? Divide seconds by 86400 (seconds per day), then by scale_days."
    if close(g, w):
        if close(got[:, 1], want[:, 0]):
            return "column 1 repeats the age; it should be its square, age ** 2."
        return "column 0 (the age) is right; column 1 should be its square, age ** 2."
    if np.abs(g - w).max() < 1e-3:
        return ("off by a few seconds' worth: a Unix time near 1.46e9 stored as float32 is only exact to 128 s. "
                "Subtract window_end - label_time in int64 first, then convert to float.")
    return "column 0 is max(window_end - label_time, 0) / 86400 / scale_days and column 1 its square."


def check_example_age_feature(fn) -> None:
    """Visible check of Task 1 on the example; records the graded variant first."""
    record_test("test_age_seed", fn, quiet=True)
    case = CASES["age.seed"]
    want = record.visible_array(ASSIGNMENT, "age.seed", "features")
    where = f"example_age_feature(label_time, window_end={case['window_end']}, serving=False) on the {len(want)} example times"
    out = _call(1, where, lambda: _age_output(fn, case))
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"Task 1: {where} returned {type(out).__name__}, expected a torch.Tensor.",
                          hint="build the result with torch (torch.stack([age, age ** 2], dim=1)) or wrap it in torch.as_tensor.")
    got = out.detach().to(torch.float32).cpu().numpy()
    if got.shape != want.shape:
        hint = "the result has one row per example and two columns: [age, age ** 2]."
        if got.shape == want.shape[::-1]:
            hint = "transposed? Stack the columns with dim=1 to get (N, 2)."
        elif got.shape in ((len(want),), (len(want), 1)):
            hint = "only one column: return the age AND its square, shape (N, 2)."
        raise CheckFailed(f"Task 1: wrong output shape for {where}.",
                          [f"expected {shape_str(want.shape)}, got {shape_str(got.shape)}"], hint=hint)
    details = mismatch_lines(got, want, ATOL)
    if details:
        raise CheckFailed(f"Task 1: the features differ from the reference for {where}.", details,
                          hint=_age_hint(got, want))
    passed("Task 1 check passed: example_age_feature gives [age, age²] in units of 30 days for the 6 example times "
           f"(shape (6, 2), max abs error {max_abs_error(got, want):.1e}).\n  When your notebook is graded, this check's "
           "points come from other times and another window end; hidden tests also try serving time (all zeros), labels "
           "after the window end (age 0), another scale_days and no examples at all.")


# --- Task 2 --------------------------------------------------------------------------------------

def _select_details(got: np.ndarray, want: np.ndarray, users: np.ndarray, times: np.ndarray) -> tuple[list[str], str]:
    """What differs between two index lists of the example, and the likely mistake."""
    n = len(users)
    if ((got < 0) | (got >= n)).any():
        return [f"indices outside 0..{n - 1}: {sorted(set(got[(got < 0) | (got >= n)].tolist()))}"], \
            "return row indices into user_ids / timestamps (0-based), not user ids or timestamps."
    if len(set(got.tolist())) < len(got):
        return ["some rows appear more than once"], "each kept row appears once: keep candidates, do not draw with replacement."
    first = {u: times[users == u].min() for u in set(users.tolist())}
    no_history = [int(i) for i in got if times[i] <= first[users[i]]]
    if no_history:
        ties = [i for i in no_history if times[i] == first[users[i]] and (times[users == users[i]] == times[i]).sum() > 1]
        lines = [f"row {i} (user {users[i]}, time {times[i]}) has no strictly earlier watch of its user" for i in no_history]
        hint = ("a watch in the same second as the user's first watch has no history either: compare with <, not <=."
                if ties else "a user's first watch has no earlier watch to predict it from, so it is never a label.")
        return lines, hint
    if got.size and (np.diff(got) < 0).any():
        return [f"got {got.tolist()}"], "return the kept indices sorted in increasing order (np.sort)."
    per_user = lambda idx: {u: int((users[idx] == u).sum()) for u in sorted(set(users.tolist()))}
    g, w = per_user(got), per_user(want)
    if g != w:
        lines = [f"user {u}: expected {w[u]} example(s), got {g[u]}" for u in g if g[u] != w[u]]
        return lines, ("each user keeps min(max_per_user, its number of candidates) examples: the cap is per user, "
                       "not over all rows.")
    return [f"expected {want.tolist()}", f"got      {got.tolist()}"], \
        ("the right number per user, other rows: draw keys = np.random.default_rng(seed).random(n_candidates) once, "
         "one key per candidate in increasing row index, and keep each user's candidates with the smallest keys.")


def check_select_examples(fn) -> None:
    """Visible check of Task 2 on the example; records the graded variant first."""
    record_test("test_select_seed", fn, quiet=True)
    case = CASES["select.seed"]
    want = record.visible_array(ASSIGNMENT, "select.seed", "indices").astype(np.int64)
    where = "select_examples(user_ids, timestamps, max_per_user=3, seed=0) on the example's 14 watches"
    out = _call(2, where, lambda: _select_output(fn, case))
    try:
        got = _as_indices(out)
    except TypeError as err:
        raise CheckFailed(f"Task 2: {where} {err}.", hint="return an int64 numpy array of row indices.") from None
    if got.ndim != 1:
        raise CheckFailed(f"Task 2: {where} returned shape {shape_str(got.shape)}; expected a 1-D array of row indices.",
                          hint="return one flat array of the kept rows' indices.")
    if got.shape != want.shape or (got != want).any():
        users, times = np.array(case["user_ids"]), np.array(case["timestamps"])
        details, hint = _select_details(got, want, users, times)
        if got.shape != want.shape:
            details.insert(0, f"expected {len(want)} indices, got {len(got)}")
        raise CheckFailed(f"Task 2: the kept rows differ from the reference for {where}.", details, hint=hint)
    passed(f"Task 2 check passed: select_examples keeps rows {want.tolist()} of the example: only watches with a strictly "
           "earlier watch of the same user, at most 3 per user, chosen by the seeded keys.\n  When your notebook is "
           "graded, this check's points come from the same watches with another seed; hidden tests also try 200 watches "
           "of 15 users with several caps (None included), watches in the same second, single-watch users and no watches.")
