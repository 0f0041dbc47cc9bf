"""Checks for assignment 07 (modeling expected watch time, paper section 4.2).

Exercises: ``weighted_logistic_loss`` (positives weighted by watch time, negatives by 1; mean over
impressions; its value and its gradient are recorded), ``expected_watch_time`` (the serving
transform e^z) and ``weighted_per_user_loss`` (share of watch time on mis-ranked pairs within each
user). Every expected number comes from the frozen JSON (``python -m solutions.expected``).
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from . import record
from .compare import as_array, mismatch_lines, shape_str
from .report import CheckFailed, passed, call_student

ASSIGNMENT = "07_watch_time"
ATOL = 1e-5

WL, EW, PU = "weighted_logistic_loss", "expected_watch_time", "weighted_per_user_loss"


def _impressions(seed: int, n: int, n_users: int) -> dict:
    rng = np.random.default_rng(seed)
    clicked = (rng.random(n) < 0.35).astype(int)
    watch = np.where(clicked == 1, rng.integers(5, 600, n), 0)
    return dict(user_id=rng.integers(0, n_users, n).tolist(), score=np.round(rng.normal(0, 1, n), 2).tolist(),
                clicked=clicked.tolist(), watch_time=watch.tolist())


CASES: dict[str, dict] = {
    # 1a. the weighted logistic loss (value and gradient)
    "loss.seed": dict(exercise=WL, kind="the example", visible=True,
                      logits=[0.5, -1.0, 2.0, 0.0, -0.3], clicked=[1, 0, 1, 0, 0], watch_time=[120.0, 0.0, 30.0, 0.0, 0.0]),
    "loss.seed_variant": dict(exercise=WL, kind="the example's size with other values",
                              logits=[-0.2, 1.5, 0.7, -2.0, 0.1], clicked=[0, 1, 0, 1, 0], watch_time=[0.0, 45.0, 0.0, 300.0, 0.0]),
    "loss.no_clicks": dict(exercise=WL, kind="no clicked impression", logits=[0.3, -0.4, 1.1], clicked=[0, 0, 0],
                           watch_time=[0.0, 0.0, 0.0]),
    "loss.extreme": dict(exercise=WL, kind="large logits (numerical stability)", logits=[40.0, -40.0, 30.0, -35.0],
                         clicked=[1, 1, 0, 0], watch_time=[10.0, 2.0, 0.0, 0.0], rtol=1e-5),
    "loss.random": dict(exercise=WL, kind="a larger random batch", rtol=1e-5,
                        logits=np.round(np.random.default_rng(3).normal(0, 2, 40), 3).tolist(),
                        clicked=(np.random.default_rng(4).random(40) < 0.3).astype(int).tolist(),
                        watch_time=None),
    # 1b. serving transform
    "serve.seed": dict(exercise=EW, kind="the example", visible=True, logits=[0.0, 1.0, 3.5, -2.0]),
    "serve.seed_variant": dict(exercise=EW, kind="other logits", logits=[2.0, -0.5, 4.25, 0.1, 6.0], rtol=1e-5),
    # 2. weighted per-user loss
    "pairs.seed": dict(exercise=PU, kind="the example", visible=True,
                       user_id=[1, 1, 1, 1, 2, 2, 2, 3, 3], score=[0.9, 0.2, 0.5, 0.1, 0.3, 0.8, 0.3, 0.4, 0.6],
                       clicked=[1, 0, 1, 0, 1, 0, 0, 1, 1], watch_time=[100, 0, 50, 0, 30, 0, 0, 20, 10]),
    "pairs.seed_variant": dict(exercise=PU, kind="the example's size with other values",
                               user_id=[5, 5, 5, 7, 7, 7, 7, 9, 9], score=[0.8, 0.7, 0.4, 0.6, 0.9, 0.2, 0.5, 0.1, 0.1],
                               clicked=[1, 0, 0, 1, 0, 1, 0, 0, 1], watch_time=[60, 0, 0, 40, 0, 200, 0, 0, 15]),
    "pairs.unsorted_users": dict(exercise=PU, kind="users interleaved in any order",
                                 user_id=[3, 1, 3, 2, 1, 2, 3, 1], score=[0.5, 0.1, 0.2, 0.9, 0.8, 0.4, 0.7, 0.3],
                                 clicked=[1, 1, 0, 0, 0, 1, 0, 0], watch_time=[10, 90, 0, 0, 0, 25, 0, 0]),
    "pairs.random": dict(exercise=PU, kind="a larger random log", **_impressions(11, 300, 25)),
    "pairs.all_tied": dict(exercise=PU, kind="all scores tied", user_id=[0, 0, 0, 1, 1],
                           score=[1.0, 1.0, 1.0, 2.0, 2.0], clicked=[1, 0, 0, 0, 1], watch_time=[5, 0, 0, 0, 50]),
}
CASES["loss.random"]["watch_time"] = np.where(np.array(CASES["loss.random"]["clicked"]) == 1,
                                              np.random.default_rng(5).integers(1, 900, 40), 0).astype(float).tolist()

TESTS: dict[str, list[str]] = {
    "test_loss_seed": ["loss.seed_variant"],
    "test_loss_hidden": ["loss.no_clicks", "loss.extreme", "loss.random"],
    "test_serve_seed": ["serve.seed_variant"],
    "test_pairs_seed": ["pairs.seed_variant"],
    "test_pairs_hidden": ["pairs.unsorted_users", "pairs.random", "pairs.all_tied"],
}


def _loss_inputs(case: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.tensor(case["logits"], dtype=torch.float64, requires_grad=True),
            torch.tensor(case["clicked"], dtype=torch.float64), torch.tensor(case["watch_time"], dtype=torch.float64))


def _pair_inputs(case: dict) -> tuple[np.ndarray, ...]:
    return (np.array(case["user_id"], dtype=np.int64), np.array(case["score"], dtype=np.float64),
            np.array(case["clicked"], dtype=np.int64), np.array(case["watch_time"], dtype=np.float64))


def run_case(obj, case: dict) -> dict[str, np.ndarray]:
    """What a case records: the loss and d loss / d logits; the served values; the metric."""
    ex = case["exercise"]
    if ex == WL:
        logits, clicked, watch = _loss_inputs(case)
        loss = obj(logits, clicked, watch)
        if not isinstance(loss, torch.Tensor) or loss.numel() != 1:
            raise TypeError("the loss must be a scalar torch.Tensor")
        loss.backward()
        if logits.grad is None:
            raise ValueError("no gradient reached the logits (did you detach or use numpy?)")
        return {"loss": loss.detach().reshape(()).numpy(), "grad": logits.grad.numpy()}
    if ex == EW:
        out = obj(torch.tensor(case["logits"], dtype=torch.float64))
        return {"watch_time": torch.as_tensor(out).detach().double().numpy()}
    return {"loss": np.asarray(float(obj(*_pair_inputs(case))))}


def record_test(grade_id: str, obj, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, obj, quiet)



def _visible(case_id: str) -> tuple[dict, dict]:
    frozen = record.visible(ASSIGNMENT)[case_id]
    return CASES[case_id], {k: as_array(v) for k, v in frozen["arrays"].items()}


def _bce(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return np.logaddexp(0, z) - y * z


def check_weighted_logistic_loss(fn) -> None:
    """Visible check of the weighted logistic loss (value and gradient); records the graded variant."""
    record_test("test_loss_seed", fn, quiet=True)
    case, want = _visible("loss.seed")
    logits, clicked, watch = _loss_inputs(case)
    loss = call_student("weighted_logistic_loss", fn, logits, clicked, watch)
    where = f"logits = {case['logits']}, clicked = {case['clicked']}, watch_time = {case['watch_time']}"
    if not isinstance(loss, torch.Tensor):
        raise CheckFailed(f"weighted_logistic_loss returned {type(loss).__name__}, expected a torch.Tensor.",
                          hint="compute with torch operations so the loss can be backpropagated.")
    if loss.numel() != 1:
        raise CheckFailed(f"weighted_logistic_loss returned shape {shape_str(loss.shape)}, expected a scalar.",
                          hint="average the N weighted per-impression losses: .mean().")
    got = float(loss.detach())
    w = float(want["loss"])
    z, y, t = np.array(case["logits"]), np.array(case["clicked"], float), np.array(case["watch_time"])
    ce = _bce(z, y)
    if abs(got - w) > ATOL:
        if abs(got - ce.mean()) < ATOL:
            hint = "that is the unweighted logistic loss: weight each clicked impression by its watch time."
        elif abs(got - (t * ce).mean()) < ATOL:
            hint = "negatives got weight 0 (their watch time): the paper weights every unclicked impression by 1."
        elif abs(got - w * len(z)) < 1e-3:
            hint = "that is the sum: take the mean over the N impressions."
        elif abs(got - (np.where(y > 0, t, 1) * ce).sum() / np.where(y > 0, t, 1).sum()) < ATOL:
            hint = "divide by the number of impressions N, not by the total weight."
        else:
            hint = "mean over impressions of w_i · CE_i, w_i = watch time if clicked else 1, CE_i the logistic loss of the logit."
        raise CheckFailed(f"weighted_logistic_loss: the value differs for {where}.",
                          [f"expected {w:.6f}, got {got:.6f}"], hint=hint)
    call_student("loss.backward()", loss.backward)
    if logits.grad is None:
        raise CheckFailed("no gradient reached the logits.", hint="stay in torch (no .numpy(), .item() or .detach()).")
    details = mismatch_lines(logits.grad.numpy(), want["grad"], ATOL)
    if details:
        raise CheckFailed("weighted_logistic_loss: right value, wrong gradient.", details,
                          hint="are the weights computed from the logits? They must depend on clicked and watch_time only.")
    passed(f"weighted_logistic_loss check passed: loss {w:.4f} and its gradient with respect to the 5 logits match. "
           "When graded, this check's points come from other values; hidden tests also try a batch without clicks, "
           "logits of ±40 (use a numerically stable form) and a larger random batch.")


def check_expected_watch_time(fn) -> None:
    """Visible check of the serving transform; records the graded variant."""
    record_test("test_serve_seed", fn, quiet=True)
    case, want = _visible("serve.seed")
    out = call_student("expected_watch_time", fn, torch.tensor(case["logits"], dtype=torch.float64))
    got = torch.as_tensor(out).detach().double().numpy()
    w = want["watch_time"]
    if got.shape != w.shape:
        raise CheckFailed("expected_watch_time: wrong shape.", [f"expected {shape_str(w.shape)}, got {shape_str(got.shape)}"],
                          hint="one value per logit: (N,).")
    details = mismatch_lines(got, w, ATOL, rtol=1e-6)
    if details:
        z = np.array(case["logits"])
        hint = "serve e^z: the odds of the weighted model estimate expected watch time."
        if np.allclose(got, 1 / (1 + np.exp(-z))):
            hint = "that is the sigmoid (a click probability); serve the odds e^z instead."
        raise CheckFailed(f"expected_watch_time: values differ for logits = {case['logits']}.", details, hint=hint)
    passed("expected_watch_time check passed: e^z for the 4 logits. When graded, this check's points come from other logits.")


def check_weighted_per_user_loss(fn) -> None:
    """Visible check of the weighted per-user loss; records the graded variant."""
    record_test("test_pairs_seed", fn, quiet=True)
    case, want = _visible("pairs.seed")
    got = call_student("weighted_per_user_loss", fn, *_pair_inputs(case))
    try:
        got = float(got)
    except (TypeError, ValueError):
        raise CheckFailed(f"weighted_per_user_loss returned {type(got).__name__}, expected a float.",
                          hint="return the ratio as a Python float.") from None
    w = float(want["loss"])
    if abs(got - w) > ATOL:
        # Users: 1 has positives 0.9 (100 s), 0.5 (50 s) and negatives 0.2, 0.1 (no pair mis-ranked);
        # 2 has a positive at 0.3 tied with one negative and below another; 3 has no negative.
        if abs(got - 125 / 840) < ATOL:
            hint = ("you pooled all users: pairs are formed WITHIN each user only (user 2's negative 0.8 must not "
                    "be compared with user 1's positives).")
        elif abs(got - 30 / 360) < ATOL or abs(got - 1 / 6) < ATOL:
            hint = "a tie (negative score == positive score) counts half the positive's watch time."
        elif abs(got - 1.5 / 6) < ATOL:
            hint = "weight each pair by the positive's watch time, not 1."
        elif abs(got - 0.375) < ATOL:
            hint = "pool the watch time of all users (sum of mis-ranked over sum of all pairs), not a mean of per-user ratios."
        else:
            hint = ("Σ over users and (positive i, negative j) pairs of T_i·[s_j > s_i] (+ T_i/2 on ties), divided by "
                    "Σ T_i over the same pairs.")
        raise CheckFailed("weighted_per_user_loss: the value differs for the example above.",
                          [f"expected {w:.6f}, got {got:.6f}"], hint=hint)
    passed(f"weighted_per_user_loss check passed: {w:.4f} on the 3-user example (ranked users, a tie, a user without "
           "negatives). When graded, this check's points come from other values; hidden tests also try users in any "
           "order, a larger random log and all scores tied.")
