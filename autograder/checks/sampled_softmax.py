"""Checks for assignment 03 (sampled softmax with logQ correction, Recall@K and NDCG@K).

``CASES`` holds every case's inputs: for the loss, a seed (user vectors, item vectors, biases and
log q are drawn from it), labels and the shared negative samples; for the metrics, a seed for the
scores plus a few scores set by hand so that a row has a seen item, an OOV target or a high PAD/OOV
column. ``TESTS`` maps each test cell (``grade_id``) to the graded cases it records; the comparator
decides the points against ``autograder/hidden/03_sampled_softmax.json``. The visible checks compare
the notebook's example with ``autograder/checks/expected/03_sampled_softmax.json`` and explain any
difference, row by row. Nothing here computes a loss or a metric of its own: every expected number is
frozen by ``python -m solutions.expected`` from the reference answers.
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from . import record
from .compare import as_array, freeze, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed, student_line

ASSIGNMENT = "03_sampled_softmax"
ATOL = 1e-5

L, R, N = "sampled_softmax_loss", "recall_at_k", "ndcg_at_k"
PAD, OOV = 0, 1

# --- the loss: labels and the batch's shared negatives (ids < n_items); vectors come from the seed --
LOSS_EXAMPLE = dict(B=4, d=3, V=10, labels=[2, 5, 7, 5], samples=[5, 3, 9, 3, 7, 8], bias=True)
LOSS_VARIANT = dict(B=4, d=3, V=10, labels=[4, 8, 3, 9], samples=[3, 6, 2, 6, 8, 5], bias=True)
LOSS_BIG = dict(B=7, d=5, V=30, labels=[2, 29, 11, 11, 17, 5, 23],
                samples=[11, 4, 4, 29, 13, 2, 21, 8, 17, 26, 11, 5], bias=True)
LOSS_PADDED_VOCAB = dict(B=3, d=4, V=12, labels=[2, 6, 11], samples=[6, 3, 6, 10, 2], bias=True, pad_oov=True)


def _loss_case(kind: str, seed: int, shape: dict, logq: bool = True, hits: bool = True, **extra) -> dict:
    return dict(exercise=L, kind=kind, seed=seed, logq_correction=logq, remove_accidental_hits=hits,
                **shape, **extra)


# --- the metrics: (row, column, score) set by hand on top of the seeded scores --------------------
# Visible example, one situation per row (B=5 users, V=8 ids; ids 0/1 are PAD/OOV):
#   row 0 plain; row 1 a seen item scores highest; row 2 the target is OOV and the OOV column scores
#   highest; row 3 the target was already seen; row 4 the PAD column scores highest.
METRIC_EXAMPLE = dict(
    seed=3, B=5, V=8, ks=[1, 2, 3, 5],
    set=[(0, 4, 3.0), (0, 6, 2.5),
         (1, 7, 4.0), (1, 3, 3.0), (1, 2, 2.8),
         (2, OOV, 5.0),
         (3, 5, 6.0),
         (4, PAD, 5.0), (4, 2, 3.5), (4, 6, 3.2)],
    targets=[6, 2, OOV, 5, 6], seen=[[3], [7, 4], [2], [5, 3], [2, 7]])
METRIC_VARIANT = dict(  # the same situations, other ranks: its values differ from the example's
    seed=11, B=5, V=8, ks=[1, 2, 3, 5],
    set=[(0, 7, 3.0), (0, 4, 2.7), (0, 3, 2.5),
         (1, 2, 4.0), (1, 5, 3.0), (1, 6, 2.8),
         (2, OOV, 5.0),
         (3, 4, 6.0),
         (4, PAD, 5.0), (4, 7, 3.5), (4, 2, 3.3), (4, 3, 3.2)],
    targets=[3, 6, OOV, 4, 3], seen=[[5], [2, 7], [6], [4, 2], [7, 5]])
METRIC_BIG = dict(
    seed=21, B=9, V=40, ks=[1, 5, 10, 20],
    set=[(0, OOV, 9.0), (1, PAD, 9.0), (2, 17, 9.0), (3, OOV, 9.0), (5, 30, 9.0), (6, 8, 9.0), (6, OOV, 8.5)],
    targets=[12, 25, 17, OOV, 3, 30, 8, PAD, 39], seen=[[4, 9], [], [17, 2], [], [3, 11, 12], [30], [], [5], [38]])
METRIC_NO_SEEN = dict(seed=5, B=6, V=25, ks=[1, 3, 10], set=[(0, OOV, 7.0), (2, PAD, 7.0)],
                      targets=[2, 14, 24, 9, OOV, 7], seen=None)
METRIC_LONG_SEEN = dict(  # the target, seen, also scores highest: it must not count
    seed=8, B=4, V=15, ks=[1, 2, 4, 8], set=[(0, 9, 8.0), (1, 3, 8.0), (2, 14, 8.0), (3, 6, 8.0)],
    targets=[9, 4, 13, 6], seen=[[9, 10, 11, 12], [3, 5, 7, 8, 11], [14, 2, 4], [6, 1]])


def _metric_case(exercise: str, kind: str, inputs: dict, **extra) -> dict:
    return dict(exercise=exercise, kind=kind, **inputs, **extra)


# Each case: the exercise it runs, what kind of case it is (feedback names it), its inputs.
CASES: dict[str, dict] = {
    "loss.example": _loss_case("the notebook's example", 1234, LOSS_EXAMPLE, visible=True),
    "loss.example_variant": _loss_case("the example's shapes with other vectors, labels and samples", 4321, LOSS_VARIANT),
    "loss.bigger": _loss_case("a bigger batch with repeated labels and samples", 77, LOSS_BIG),
    "loss.no_bias": _loss_case("no item bias (item_bias=None)", 5, {**LOSS_BIG, "bias": False}),
    "loss.pad_oov": _loss_case("log_q = -inf for PAD and OOV (never sampled)", 9, LOSS_PADDED_VOCAB),
    "loss.no_logq": _loss_case("logq_correction=False", 31, LOSS_BIG, logq=False),
    "loss.keep_hits": _loss_case("remove_accidental_hits=False", 32, LOSS_BIG, hits=False),
    "loss.plain": _loss_case("both options off", 33, LOSS_VARIANT, logq=False, hits=False),
    "recall.example": _metric_case(R, "the notebook's example", METRIC_EXAMPLE, visible=True),
    "recall.example_variant": _metric_case(R, "the example's situations with other scores and ids", METRIC_VARIANT),
    "recall.bigger": _metric_case(R, "more users and items, a PAD target", METRIC_BIG),
    "recall.seen_mask": _metric_case(R, "seen given as a (B, V) bool mask", METRIC_BIG, seen_as_mask=True),
    "recall.no_seen": _metric_case(R, "seen=None", METRIC_NO_SEEN),
    "recall.seen_target": _metric_case(R, "seen targets that score highest", METRIC_LONG_SEEN),
    "ndcg.example": _metric_case(N, "the notebook's example", METRIC_EXAMPLE, visible=True),
    "ndcg.example_variant": _metric_case(N, "the example's situations with other scores and ids", METRIC_VARIANT),
    "ndcg.bigger": _metric_case(N, "more users and items, a PAD target", METRIC_BIG),
    "ndcg.seen_mask": _metric_case(N, "seen given as a (B, V) bool mask", METRIC_BIG, seen_as_mask=True),
    "ndcg.no_seen": _metric_case(N, "seen=None", METRIC_NO_SEEN),
    "ndcg.seen_target": _metric_case(N, "seen targets that score highest", METRIC_LONG_SEEN),
}

# Test cell (grade_id) -> the graded cases it records.
TESTS: dict[str, list[str]] = {
    "test_loss_example": ["loss.example_variant"],
    "test_loss_shapes": ["loss.bigger", "loss.no_bias", "loss.pad_oov"],
    "test_loss_options": ["loss.no_logq", "loss.keep_hits", "loss.plain"],
    "test_recall_example": ["recall.example_variant"],
    "test_recall_masking": ["recall.bigger", "recall.seen_mask", "recall.no_seen", "recall.seen_target"],
    "test_ndcg_example": ["ndcg.example_variant"],
    "test_ndcg_masking": ["ndcg.bigger", "ndcg.seen_mask", "ndcg.no_seen", "ndcg.seen_target"],
}


# ------------------------------------------------------------------------------------------------
# inputs


def loss_inputs(case: dict) -> dict:
    """The tensors a loss case passes: user (B, d), item_vectors (V, d), item_bias (V,) or None,
    labels (B,), samples (S,), log_q (V,); the float ones are drawn from the case's seed."""
    g = torch.Generator().manual_seed(case["seed"])
    B, d, V = case["B"], case["d"], case["V"]
    user = torch.randn(B, d, generator=g)
    items = 0.5 * torch.randn(V, d, generator=g)
    bias = 0.1 * torch.randn(V, generator=g)
    log_q = torch.log_softmax(1.5 * torch.randn(V, generator=g), dim=0)
    if case.get("pad_oov"):  # as ytdnn's sampling distribution: PAD and OOV are never drawn
        q = log_q.exp()
        q[:2] = 0.0
        log_q = torch.log(q / q.sum())
    return dict(user=user, item_vectors=items, item_bias=bias if case["bias"] else None,
                labels=torch.tensor(case["labels"]), samples=torch.tensor(case["samples"]), log_q=log_q)


def metric_inputs(case: dict) -> dict:
    """scores (B, V) drawn from the seed with the case's hand-set entries; targets (B,);
    seen (B, L) padded with PAD, a (B, V) bool mask, or None."""
    g = torch.Generator().manual_seed(case["seed"])
    scores = torch.randn(case["B"], case["V"], generator=g)
    for r, c, v in case["set"]:
        scores[r, c] = v
    seen = None
    if case["seen"] is not None:
        width = max(1, max(len(s) for s in case["seen"]))
        seen = torch.tensor([s + [PAD] * (width - len(s)) for s in case["seen"]])
        if case.get("seen_as_mask"):
            mask = torch.zeros(case["B"], case["V"], dtype=torch.bool)
            mask.scatter_(1, seen, True)
            mask[:, PAD] = False
            seen = mask
    return dict(scores=scores, targets=torch.tensor(case["targets"]), seen=seen)


# ------------------------------------------------------------------------------------------------
# measuring


def _call_loss(fn, x: dict, case: dict):
    return fn(x["user"], x["item_vectors"], x["item_bias"], x["labels"], x["samples"], x["log_q"],
              logq_correction=case["logq_correction"], remove_accidental_hits=case["remove_accidental_hits"])


def _measure_loss(fn, case: dict) -> dict[str, np.ndarray]:
    x = loss_inputs(case)
    leaves = {"user": x["user"], "item_vectors": x["item_vectors"]}
    if x["item_bias"] is not None:
        leaves["item_bias"] = x["item_bias"]
    for t in leaves.values():
        t.requires_grad_(True)
    loss = _call_loss(fn, x, case)
    if not isinstance(loss, torch.Tensor):
        raise TypeError(f"the loss is a {type(loss).__name__}, expected a torch.Tensor (keep it a tensor: no .item())")
    if loss.numel() != 1:
        raise ValueError(f"the loss has shape {shape_str(loss.shape)}, expected a scalar (the mean over the batch)")
    if not loss.requires_grad:
        raise ValueError("the loss carries no gradient: compute it with torch operations on the inputs "
                         "(no .detach(), .item(), numpy or torch.no_grad())")
    loss.backward()
    out = {"loss": loss.detach().float().reshape(())}
    for name, t in leaves.items():
        if t.grad is None:
            raise ValueError(f"no gradient reached {name}")
        out[f"grad_{name}"] = t.grad.float()
    return {k: v.numpy() for k, v in out.items()}


def _measure_metric(fn, case: dict) -> dict[str, np.ndarray]:
    x = metric_inputs(case)
    values = []
    for k in case["ks"]:
        seen = None if x["seen"] is None else x["seen"].clone()
        v = fn(x["scores"].clone(), x["targets"].clone(), k, seen)
        if isinstance(v, torch.Tensor):
            if v.numel() != 1:
                raise ValueError(f"returned a tensor of shape {shape_str(v.shape)} for k={k}; expected one number "
                                 "(the mean over users: add .mean().item())")
            v = v.item()
        values.append(float(v))
    return {"values": np.asarray(values, dtype=np.float32)}


def run_case(fn, case: dict) -> dict[str, np.ndarray]:
    """What a case records: the loss and its gradients, or a metric at each of the case's k."""
    return _measure_loss(fn, case) if case["exercise"] == L else _measure_metric(fn, case)


def visible_extras(fn, case: dict) -> dict:
    """Shipped with a visible case: the reference per user (a row-by-row diagnosis) and, for the
    loss, what the classic mistakes give (the reference with an option off or a sign flipped)."""
    if case["exercise"] == L:
        x = loss_inputs(case)
        rows = [float(_call_loss(fn, {**x, "user": x["user"][i:i + 1], "labels": x["labels"][i:i + 1]}, case))
                for i in range(case["B"])]
        n = len(case["samples"])
        flipped = {**x, "log_q": -x["log_q"] - 2 * float(np.log(n))}  # subtracting this ADDS log(S q)
        variants = {
            "no_logq": float(_call_loss(fn, x, {**case, "logq_correction": False})),
            "no_hit_removal": float(_call_loss(fn, x, {**case, "remove_accidental_hits": False})),
            "neither": float(_call_loss(fn, x, {**case, "logq_correction": False, "remove_accidental_hits": False})),
            "logq_added": float(_call_loss(fn, flipped, case)),
        }
        return {"rows": freeze(np.asarray(rows)), "variants": variants}
    x = metric_inputs(case)
    rows = [[float(fn(x["scores"][i:i + 1], x["targets"][i:i + 1], k, x["seen"][i:i + 1])) for k in case["ks"]]
            for i in range(case["B"])]
    no_mask = [float(fn(x["scores"], x["targets"], k, None)) for k in case["ks"]]
    return {"rows": freeze(np.asarray(rows)), "variants": {"seen_ignored": no_mask}}


def record_test(grade_id: str, fn, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, fn, quiet)


# ------------------------------------------------------------------------------------------------
# visible checks



def _run_visible(fn, task: int, name: str, case: dict, hint: str) -> dict[str, np.ndarray]:
    try:
        return run_case(fn, case)
    except NotImplementedError:
        raise CheckFailed(f"Task {task}: {name} is not written yet (it raised NotImplementedError).",
                          hint="replace `raise NotImplementedError()` with your code, run the cell, then this check.") from None
    except Exception as err:  # the student's code may raise anything; say what and where
        where = student_line(err)
        raise CheckFailed(f"Task {task}: {name} on the example raised {type(err).__name__}: {err}",
                          [where] if where else [], hint=hint) from None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= ATOL


def _loss_hint(got: float, want: float, variants: dict, case: dict) -> str:
    if _close(got, variants["no_logq"]):
        return ("this is the loss WITHOUT the logQ correction: when logq_correction is True subtract "
                "log(S·q) (or log q: the constant log S cancels) from the true AND the sampled logits.")
    if _close(got, variants["logq_added"]):
        return "the logQ correction has the wrong sign: SUBTRACT log(S·q) from the logits, do not add it."
    if _close(got, variants["no_hit_removal"]):
        return ("the accidental hits were not removed: where samples[j] == labels[i], set that sampled "
                "logit to -inf (masked_fill with labels[:, None] == samples[None, :]).")
    if _close(got, variants["neither"]):
        return "neither option took effect: read logq_correction and remove_accidental_hits (both True here)."
    if _close(got, want * case["B"]):
        return "this is the SUM over the batch; return the mean (F.cross_entropy's default reduction)."
    return ("build the (B, 1 + S) logits [true | sampled] = u·v + b, subtract log(S·q) from each, set accidental "
            "hits to -inf, then cross-entropy with the true item in column 0, averaged over the batch.")


def check_sampled_softmax_loss(fn) -> None:
    """Visible check of Task 1 on the notebook's example; records the graded variant first."""
    record_test("test_loss_example", fn, quiet=True)
    case, frozen = CASES["loss.example"], record.visible(ASSIGNMENT)["loss.example"]
    got = _run_visible(fn, 1, "sampled_softmax_loss", case,
                       "print the shapes: user (B, d) @ item_vectors[samples].T gives (B, S); the true logit is (B, 1).")
    want = {k: as_array(v) for k, v in frozen["arrays"].items()}
    missing = sorted(set(want) - set(got))
    if missing:
        raise CheckFailed(f"Task 1: no gradient for {', '.join(missing)}.",
                          hint="item_bias was given: add item_bias[labels] to the true logits and item_bias[samples] "
                               "to the sampled ones.")
    g, w = float(got["loss"]), float(want["loss"])
    if not _close(g, w):
        details = mismatch_lines(got["loss"], want["loss"], ATOL)
        rows = as_array(frozen["rows"])
        x = loss_inputs(case)
        own = []
        for i in range(case["B"]):
            try:
                own.append(float(_call_loss(fn, {**x, "user": x["user"][i:i + 1], "labels": x["labels"][i:i + 1]}, case)))
            except Exception:  # a per-row call that breaks tells nothing more
                own = []
                break
        if own:
            hits = {i: int((x["samples"] == x["labels"][i]).sum()) for i in range(case["B"])}
            for i, (a, b) in enumerate(zip(own, rows)):
                mark = "ok " if _close(a, float(b)) else "differs"
                extra = f", {hits[i]} accidental hit(s) among the samples" if hits[i] else ", no accidental hit"
                details.append(f"user {i} (label {case['labels'][i]}{extra}): expected {float(b):.6f}, got {a:.6f}  {mark}")
        raise CheckFailed(f"Task 1: the loss differs from the reference on the example (labels {case['labels']}, "
                          f"samples {case['samples']}).", details, hint=_loss_hint(g, w, frozen["variants"], case))
    for name in ("grad_user", "grad_item_vectors", "grad_item_bias"):
        if got[name].shape != want[name].shape:
            raise CheckFailed(f"Task 1: the gradient of {name[5:]} has shape {shape_str(got[name].shape)}, "
                              f"expected {shape_str(want[name].shape)}.")
        details = mismatch_lines(got[name], want[name], ATOL)
        if details:
            raise CheckFailed(f"Task 1: the loss is right but its gradient with respect to {name[5:]} differs.", details,
                              hint="something in the loss is computed outside autograd (a .detach(), a numpy step, an "
                                   "in-place edit of an input, or a constant where a tensor belongs).")
    passed(f"Task 1 check passed: on the example (B=4 users, d=3, V=10 items, S=6 samples, 2 accidental hits) your "
           f"loss is {g:.6f} (max abs error {abs(g - w):.1e}) and its gradients with respect to the user vectors, the "
           f"item vectors and the biases match the reference.\n  When your notebook is graded, this check's points come "
           "from the same shapes with other vectors, labels and samples; hidden tests also try a bigger batch, no bias, "
           "log q = -inf for PAD/OOV, and each option switched off.")


def _describe_metric_row(case: dict, i: int) -> str:
    x = metric_inputs(case)
    target, seen = case["targets"][i], case["seen"][i] if case["seen"] is not None else []
    top = int(x["scores"][i].argmax())
    notes = []
    if target in (PAD, OOV):
        notes.append(f"target is {'PAD' if target == PAD else 'OOV'} (never a hit)")
    elif target in seen:
        notes.append("target already seen (never a hit)")
    if top in (PAD, OOV):
        notes.append(f"the {'PAD' if top == PAD else 'OOV'} column scores highest (mask it)")
    elif top in seen and top != target:
        notes.append(f"seen item {top} scores highest (mask it)")
    return "; ".join(notes) or "no seen item or PAD/OOV column on top"


def _check_metric(fn, task_name: str, label: str, case_id: str, grade_id: str) -> None:
    record_test(grade_id, fn, quiet=True)
    case, frozen = CASES[case_id], record.visible(ASSIGNMENT)[case_id]
    got = _run_visible(fn, 2, task_name, case,
                       "scores is (B, V), targets (B,), seen (B, L) padded with 0; return one float.")["values"]
    want = as_array(frozen["arrays"]["values"])
    if got.shape != want.shape:
        raise CheckFailed(f"Task 2: {task_name} returned {got.shape} values, expected one number per call.")
    details = mismatch_lines(got, want, ATOL)
    if not details:
        ks = ", ".join(f"{label}@{k} = {v:.3f}" for k, v in zip(case["ks"], got))
        passed(f"Task 2 check passed: {task_name} on the example (5 users, 8 ids: a seen item on top, an OOV target, "
               f"a seen target, a PAD column on top) gives {ks}, as the reference.\n  When your notebook is graded, "
               "this check's points come from the same situations with other scores; hidden tests also try more users "
               "and items, a PAD target, seen as a (B, V) bool mask, seen=None and seen targets that score highest.")
        return
    details = [f"k = {case['ks']}: expected {np.round(want, 4).tolist()}, got {np.round(got, 4).tolist()}"]
    rows = as_array(frozen["rows"])
    x = metric_inputs(case)
    for i in range(case["B"]):
        try:
            own = [float(fn(x["scores"][i:i + 1], x["targets"][i:i + 1], k, x["seen"][i:i + 1])) for k in case["ks"]]
        except Exception:  # a per-row call that breaks tells nothing more
            break
        ok = np.allclose(own, rows[i], atol=ATOL)
        details.append(f"user {i} ({_describe_metric_row(case, i)}): expected {np.round(rows[i], 4).tolist()}, "
                       f"got {np.round(own, 4).tolist()}  {'ok' if ok else 'differs'}")
    if np.allclose(got, frozen["variants"]["seen_ignored"], atol=ATOL):
        hint = "these are the values with seen ignored: set the scores of each row's seen items to -inf before the top k."
    elif label == "NDCG" and np.all(got >= want - ATOL):
        hint = ("a hit at rank r (1 = best) gains 1 / log2(r + 1): rank 1 gives 1, rank 2 gives 0.63; "
                "check the rank is 1-based and the log is base 2.")
    else:
        hint = ("mask PAD (column 0), OOV (column 1) and each row's seen items with -inf, take torch.topk, and count a "
                "hit only when the target is a real, unseen item.")
    raise CheckFailed(f"Task 2: {task_name} differs from the reference on the example.", details, hint=hint)


def check_recall_at_k(fn) -> None:
    """Visible check of recall_at_k on the notebook's example; records the graded variant first."""
    _check_metric(fn, "recall_at_k", "Recall", "recall.example", "test_recall_example")


def check_ndcg_at_k(fn) -> None:
    """Visible check of ndcg_at_k on the notebook's example; records the graded variant first."""
    _check_metric(fn, "ndcg_at_k", "NDCG", "ndcg.example", "test_ndcg_example")
