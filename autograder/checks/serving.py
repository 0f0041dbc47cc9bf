"""Checks for assignment 05 (serving candidate generation by nearest neighbours, paper §3.2).

Four exercises, each measured on fixed vectors drawn from a seeded numpy generator:

* ``export_vectors(user, weight, bias)``: queries ``[1, u]`` and items ``[b, w]``;
* ``brute_force_topk(queries, items, k, seen)``: exact top-k with already-watched videos masked;
* ``simple_lsh_items(items)`` / ``simple_lsh_query(queries)``: the Simple-LSH transform;
* rankings: cosine ranking over the student's transformed items must equal inner-product ranking.

``CASES`` holds every case's inputs (shapes and seeds), ``TESTS`` maps each test cell to its graded
cases, whose expected values are the instructor's (``autograder/hidden/05_serving.json``); the
comparator decides the points. The visible ``check_*`` functions compare the shipped example with
``autograder/checks/expected/05_serving.json`` and explain any difference. Nothing here computes a
reference answer: every expected number is frozen by ``python -m solutions.expected``.
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from . import record
from .compare import as_array, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed

ASSIGNMENT = "05_serving"
ATOL = 1e-5

E, T, LI, LQ = "export_vectors", "brute_force_topk", "simple_lsh_items", "simple_lsh_query"

# Each case: the exercise it runs, how feedback names it, and its inputs (shapes and a seed; the
# vectors themselves are drawn in ``inputs`` so the JSON files stay small and readable).
CASES: dict[str, dict] = {
    # Task 1: export
    "export.seed": dict(exercise=E, kind="the example", visible=True, batch=3, dim=4, n_items=6, seed=5),
    "export.seed_variant": dict(exercise=E, kind="the example's sizes with another seed", batch=3, dim=4, n_items=6, seed=55),
    "export.one_user": dict(exercise=E, kind="a single user", batch=1, dim=8, n_items=20, seed=7),
    "export.one_dim": dict(exercise=E, kind="one-dimensional user vectors", batch=4, dim=1, n_items=5, seed=8),
    # Task 2: brute-force top-k with masking
    "topk.seed": dict(exercise=T, kind="the example", visible=True, batch=3, dim=5, n_items=12, k=4, seed=11,
                      seen=[[0, 3, 7], [1, 10, 6], [11]]),
    "topk.seed_variant": dict(exercise=T, kind="the example's sizes with another seed", batch=3, dim=5, n_items=12, k=4,
                              seed=111, seen=[[0, 10], [0, 11, 2], []]),
    "topk.mask": dict(exercise=T, kind="a (batch, n_items) boolean mask", batch=4, dim=3, n_items=9, k=3, seed=12,
                      seen=[[0, 1, 2], [5, 8], [], [3, 4, 5, 6]], as_mask=True),
    "topk.no_seen": dict(exercise=T, kind="seen=None (nothing masked)", batch=2, dim=6, n_items=30, k=10, seed=13, seen=None),
    "topk.k_one": dict(exercise=T, kind="k=1 and one query", batch=1, dim=4, n_items=10, k=1, seed=14, seen=[[5, 0]]),
    "topk.all_but_k": dict(exercise=T, kind="all but k items watched", batch=2, dim=4, n_items=8, k=2, seed=15,
                           seen=[[0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7]]),
    # Task 3: Simple-LSH
    "items.seed": dict(exercise=LI, kind="the example", visible=True, n_items=6, dim=3, seed=21),
    "items.seed_variant": dict(exercise=LI, kind="the example's sizes with another seed", n_items=6, dim=3, seed=221),
    "items.larger": dict(exercise=LI, kind="more items and dimensions", n_items=40, dim=9, seed=22),
    "items.zero_row": dict(exercise=LI, kind="an all-zero item row", n_items=5, dim=4, seed=23, zero_row=2),
    "items.one_item": dict(exercise=LI, kind="a single item (it has the largest norm)", n_items=1, dim=5, seed=24),
    "query.seed": dict(exercise=LQ, kind="the example", visible=True, batch=3, dim=3, seed=31),
    "query.seed_variant": dict(exercise=LQ, kind="the example's sizes with another seed", batch=3, dim=3, seed=331),
    "query.one": dict(exercise=LQ, kind="a single query", batch=1, dim=7, seed=32),
    "query.large_norms": dict(exercise=LQ, kind="queries with very different norms", batch=5, dim=4, seed=33, scale=100.0),
    # Task 3, the point of it: cosine ranking over transformed items = inner-product ranking
    "rank.seed": dict(exercise=LI, kind="the example", visible=True, batch=4, n_items=15, dim=4, k=5, seed=41),
    "rank.seed_variant": dict(exercise=LI, kind="the example's sizes with another seed", batch=4, n_items=15, dim=4, k=5, seed=441),
    "rank.larger": dict(exercise=LI, kind="200 items, 16 dimensions, top-20", batch=6, n_items=200, dim=16, k=20, seed=42),
}

TESTS: dict[str, list[str]] = {
    "test_export_seed": ["export.seed_variant"],
    "test_export_sizes": ["export.one_user", "export.one_dim"],
    "test_topk_seed": ["topk.seed_variant"],
    "test_topk_masks": ["topk.mask", "topk.no_seen", "topk.all_but_k"],
    "test_topk_sizes": ["topk.k_one"],
    "test_lsh_items_seed": ["items.seed_variant"],
    "test_lsh_items_sizes": ["items.larger", "items.zero_row", "items.one_item"],
    "test_lsh_query_seed": ["query.seed_variant"],
    "test_lsh_query_sizes": ["query.one", "query.large_norms"],
    "test_rankings_seed": ["rank.seed_variant"],
    "test_rankings_larger": ["rank.larger"],
}


# --------------------------------------------------------------------------------------
# inputs of a case


def _normal(rng: np.random.Generator, *shape: int) -> torch.Tensor:
    return torch.from_numpy(rng.standard_normal(shape).astype(np.float32))


def _spread(rng: np.random.Generator, x: torch.Tensor) -> torch.Tensor:
    """Rows with very different norms (0.2 to 3 times): where inner product and cosine disagree."""
    return x * torch.from_numpy(rng.uniform(0.2, 3.0, (x.shape[0], 1)).astype(np.float32))


def inputs(case: dict) -> dict:
    """The tensors a case passes to the exercise, drawn from its seed (same for everyone)."""
    rng = np.random.default_rng(case["seed"])
    ex = case["exercise"]
    if ex == E:
        # Non-negative, as a ReLU layer's output is.
        return dict(user=_normal(rng, case["batch"], case["dim"]).abs(),
                    weight=_normal(rng, case["n_items"], case["dim"]), bias=_normal(rng, case["n_items"]))
    if ex == T:
        out = dict(queries=_normal(rng, case["batch"], case["dim"]), items=_spread(rng, _normal(rng, case["n_items"], case["dim"])),
                   k=case["k"], seen=case["seen"])
        if case.get("as_mask"):
            mask = torch.zeros(case["batch"], case["n_items"], dtype=torch.bool)
            for i, ids in enumerate(case["seen"]):
                mask[i, ids] = True
            out["seen"] = mask
        return out
    if ex == LQ:
        return dict(queries=_normal(rng, case["batch"], case["dim"]) * case.get("scale", 1.0))
    items = _spread(rng, _normal(rng, case["n_items"], case["dim"]))
    if "zero_row" in case:
        items[case["zero_row"]] = 0.0
    if "batch" in case:  # a ranking case also has queries
        return dict(items=items, queries=_normal(rng, case["batch"], case["dim"]), k=case["k"])
    return dict(items=items)


def describe(case: dict) -> str:
    """How a message names a case's inputs."""
    ex = case["exercise"]
    if ex == E:
        return f"user ({case['batch']}, {case['dim']}), weight ({case['n_items']}, {case['dim']}), bias ({case['n_items']},)"
    if ex == T:
        return (f"queries ({case['batch']}, {case['dim']}), items ({case['n_items']}, {case['dim']}), k={case['k']}, "
                f"seen={case['seen']}")
    if ex == LQ:
        return f"queries ({case['batch']}, {case['dim']})"
    if "batch" in case:
        return f"items ({case['n_items']}, {case['dim']}), queries ({case['batch']}, {case['dim']}), k={case['k']}"
    return f"items ({case['n_items']}, {case['dim']})"


# --------------------------------------------------------------------------------------
# what a case records (the same code measures student and reference)


def _numpy(x, what: str) -> np.ndarray:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{what} is a {type(x).__name__}, expected a torch.Tensor")
    return x.detach().cpu().numpy()


def _pair(out, what: str) -> tuple:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise TypeError(f"{what} should return a tuple of two tensors, got {type(out).__name__}")
    return out


def cosine_topk(transformed_items: torch.Tensor, queries: torch.Tensor, k: int) -> torch.Tensor:
    """Item rows (B, k) best first by the cosine between each query and the transformed items,
    what a cosine-only index returns. The query meets only the first D coordinates (its own),
    so whatever the transform appended to the items counts in their norm alone."""
    x = transformed_items.to(torch.float64)
    q = queries.to(torch.float64)
    if x.dim() != 2 or x.shape[0] != len(transformed_items) or x.shape[1] < q.shape[1]:
        raise ValueError(f"transformed items have shape {tuple(x.shape)}; expected (n_items, D+1) with D={q.shape[1]}")
    cos = (q @ x[:, : q.shape[1]].T) / (x.norm(dim=1)[None, :].clamp_min(1e-300) * q.norm(dim=1, keepdim=True))
    return torch.topk(cos, k, dim=1).indices


def run_case(fn, case: dict) -> dict[str, np.ndarray]:
    """What a case records: the exercise's output arrays (for rankings, the top-k item rows)."""
    x = inputs(case)
    ex = case["exercise"]
    if ex == E:
        queries, items = _pair(fn(x["user"], x["weight"], x["bias"]), "export_vectors")
        return {"queries": _numpy(queries, "queries").astype(np.float32), "items": _numpy(items, "items").astype(np.float32)}
    if ex == T:
        scores, ids = _pair(fn(x["queries"], x["items"], x["k"], x["seen"]), "brute_force_topk")
        return {"scores": _numpy(scores, "scores").astype(np.float32), "ids": _numpy(ids, "ids").astype(np.int64)}
    if ex == LQ:
        return {"transformed": _numpy(fn(x["queries"]), "simple_lsh_query's output").astype(np.float32)}
    transformed = fn(x["items"])
    _numpy(transformed, "simple_lsh_items' output")
    if "k" in x:
        return {"ids": cosine_topk(transformed, x["queries"], x["k"]).numpy().astype(np.int64)}
    return {"transformed": transformed.detach().cpu().numpy().astype(np.float32)}


def record_test(grade_id: str, fn, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, fn, quiet)


# --------------------------------------------------------------------------------------
# the visible checks


def _expected(case_id: str, name: str) -> np.ndarray:
    return as_array(record.visible(ASSIGNMENT)[case_id]["arrays"][name])


def _call(task: str, fn, args: tuple, case: dict):
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{task} is not written yet: {getattr(fn, '__name__', 'it')} raised NotImplementedError.",
                          hint="replace `raise NotImplementedError()` with your code, run the cell, then this check.") from None
    except Exception as err:  # the student's code may raise anything; say what and on which input
        raise CheckFailed(f"{task}: calling it on {describe(case)} raised {type(err).__name__}: {err}",
                          hint="print the shape of each intermediate tensor; the docstring states every shape.") from None


def _tensor(task: str, x, name: str) -> np.ndarray:
    if not isinstance(x, torch.Tensor):
        raise CheckFailed(f"{task}: {name} is a {type(x).__name__}, expected a torch.Tensor.",
                          hint="build it with torch operations (torch.cat, torch.topk, ...) and return the tensor.")
    return x.detach().to(torch.float64).cpu().numpy()


def _split(task: str, out, names: str) -> tuple:
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckFailed(f"{task}: expected a tuple ({names}), got {type(out).__name__}.",
                          hint=f"end with `return {names}`.")
    return out


def _compare(task: str, what: str, got: np.ndarray, want: np.ndarray, case: dict, hint: str | None, atol: float = ATOL) -> None:
    where = f"{what} for {describe(case)}"
    if got.shape != want.shape:
        raise CheckFailed(f"{task}: wrong shape of {where}.", [f"expected {shape_str(want.shape)}, got {shape_str(got.shape)}"],
                          hint=hint or "read the shapes in the docstring again.")
    details = mismatch_lines(got, want, atol)
    if details:
        raise CheckFailed(f"{task}: {what} differ from the reference for {describe(case)}.", details,
                          hint=hint or "compare your formula with the task's, one step at a time.")


def _export_hint(queries: np.ndarray, items: np.ndarray, x: dict, want_q: np.ndarray, want_i: np.ndarray) -> str | None:
    u, w, b = (x[k].double().numpy() for k in ("user", "weight", "bias"))
    if queries.shape == want_q.shape and np.allclose(queries[:, -1], 1) and np.allclose(queries[:, :-1], u):
        return "the 1 goes FIRST: [1, u], so that it meets the bias in [b, w]."
    if items.shape == want_i.shape and np.allclose(items[:, -1], b) and np.allclose(items[:, :-1], w):
        return "the bias goes FIRST: [b, w], matching the 1 at the front of [1, u]."
    if queries.shape == u.shape or items.shape == w.shape:
        return "each vector gets one more coordinate: queries (batch, d+1) = [1, u], items (n_items, d+1) = [b, w]."
    if queries.shape == want_i.shape and items.shape == want_q.shape:
        return "the two outputs are swapped: return (queries, items), queries first."
    if queries.shape == want_q.shape and items.shape == want_i.shape:
        logits = u @ w.T + b
        if not np.allclose(queries @ items.T, logits, atol=1e-4):
            return "queries @ items.T must equal the logits user @ weight.T + bias; check which column holds what."
    return None


def check_export_vectors(fn) -> None:
    """Visible check of Task 1 on the example; records the graded variant first."""
    record_test("test_export_seed", fn, quiet=True)
    task, case = "Task 1 (export_vectors)", CASES["export.seed"]
    x = inputs(case)
    queries, items = _split(task, _call(task, fn, (x["user"], x["weight"], x["bias"]), case), "queries, items")
    q, i = _tensor(task, queries, "queries"), _tensor(task, items, "items")
    want_q, want_i = _expected("export.seed", "queries"), _expected("export.seed", "items")
    hint = _export_hint(q, i, x, want_q, want_i)
    _compare(task, "the queries", q, want_q, case, hint)
    _compare(task, "the items", i, want_i, case, hint)
    logits = x["user"].double() @ x["weight"].double().T + x["bias"].double()
    passed(f"Task 1 check passed: queries {shape_str(q.shape)} = [1, u] and items {shape_str(i.shape)} = [b, w] match the "
           f"reference, and queries @ items.T equals the softmax logits user @ weight.T + bias (max abs error "
           f"{max_abs_error(q @ i.T, logits.numpy()):.1e}).\n  When graded, this check's points come from the same "
           "sizes with another seed; hidden tests also try a single user and one-dimensional user vectors.")


def _topk_hint(scores: np.ndarray, ids: np.ndarray, x: dict, want_s: np.ndarray, want_i: np.ndarray) -> str | None:
    seen = x["seen"]
    if scores.shape != want_s.shape:
        if scores.shape == tuple(reversed(want_s.shape)):
            return "transposed? Scores and ids are (batch, k): one row per query, best first."
        return "torch.topk(scores, k, dim=1) over the items (dim=1) gives (batch, k)."
    watched = [set(s or []) for s in seen]
    hit_seen = [(i, c) for i, row in enumerate(ids) for c, j in enumerate(row) if j in watched[i]]
    if hit_seen:
        if any(abs(scores[i, c]) < 1e-9 for i, c in hit_seen):
            return ("a watched video came back with score 0: masking with 0 is not enough, since 0 still beats every "
                    "negative score; fill watched positions with float('-inf') before torch.topk.")
        return (f"query {hit_seen[0][0]} got back a video it has already watched: set the watched positions of the "
                "(batch, n_items) score matrix to float('-inf') (scores.masked_fill(mask, float('-inf'))) BEFORE torch.topk.")
    if np.allclose(np.sort(scores, axis=1), scores) and not np.allclose(scores, want_s, atol=ATOL):
        return "your scores rise along each row: the best item comes first, so take the largest (torch.topk's default)."
    if np.allclose(np.sort(scores, axis=1), np.sort(want_s, axis=1), atol=ATOL):
        return "the right items in the wrong order: best first (torch.topk sorts by default)."
    return None


def check_brute_force_topk(fn) -> None:
    """Visible check of Task 2 on the example; records the graded variant first."""
    record_test("test_topk_seed", fn, quiet=True)
    task, case = "Task 2 (brute_force_topk)", CASES["topk.seed"]
    x = inputs(case)
    scores, ids = _split(task, _call(task, fn, (x["queries"], x["items"], x["k"], x["seen"]), case), "scores, ids")
    s, i = _tensor(task, scores, "scores"), _tensor(task, ids, "ids")
    want_s, want_i = _expected("topk.seed", "scores"), _expected("topk.seed", "ids")
    hint = _topk_hint(s, i, x, want_s, want_i)
    _compare(task, "the ids", i, want_i, case, hint, atol=0.5)
    _compare(task, "the scores", s, want_s, case, hint)
    passed(f"Task 2 check passed: the exact top-{case['k']} of {case['n_items']} items for {case['batch']} queries, best "
           f"first, with the watched videos {case['seen']} never recommended (ids and scores equal the reference).\n  When "
           "graded, this check's points come from the same sizes with another seed; hidden tests also pass seen as a "
           "(batch, n_items) bool mask, seen=None, users who have watched all but k videos, and k=1.")


def _items_hint(out: np.ndarray, items: np.ndarray, want: np.ndarray) -> str | None:
    if np.isnan(out).any():
        return ("NaN: rounding can make 1 - ||x/m||² a hair below 0 for the longest row, and sqrt of a negative is NaN; "
                "clamp it at 0 (.clamp_min(0.0)) before the square root.")
    if out.shape == items.shape:
        return "append one coordinate, sqrt(1 - ||x/m||²): the output is (n_items, D+1)."
    if out.shape != want.shape:
        return "the output is (n_items, D+1): the scaled item, then one extra coordinate per row."
    head = out[:, :-1]
    if np.allclose(out[:, 1:], want[:, :-1], atol=1e-5) and np.allclose(out[:, 0], want[:, -1], atol=1e-5):
        return "the extra coordinate goes LAST: [x/m, sqrt(1 - ||x/m||²)]."
    if np.allclose(head, items, atol=1e-5):
        return ("your first D columns are the raw items: divide every row by m, the largest row norm, so that all rows "
                "lie in the unit ball and the extra coordinate is sqrt(1 - ||x/m||²).")
    norms = np.linalg.norm(head, axis=1)
    if np.allclose(norms[norms > 0], 1, atol=1e-5):
        return ("every row was normalised by its OWN norm: that throws away the norms the inner product needs. Divide "
                "all rows by the same m = the largest norm.")
    if np.allclose(head, want[:, :-1], atol=1e-5):
        return "the scaled part is right; the last column is sqrt(1 - ||x/m||²), the norm that completes each row to 1."
    return None


def check_simple_lsh_items(fn) -> None:
    """Visible check of the item half of Task 3; records the graded variant first."""
    record_test("test_lsh_items_seed", fn, quiet=True)
    task, case = "Task 3a (simple_lsh_items)", CASES["items.seed"]
    x = inputs(case)
    out = _tensor(task, _call(task, fn, (x["items"],), case), "the output")
    want = _expected("items.seed", "transformed")
    _compare(task, "the transformed items", out, want, case, _items_hint(out, x["items"].double().numpy(), want))
    passed(f"Task 3a check passed: the {case['n_items']} items, scaled by the largest norm and completed with "
           f"sqrt(1 - ||x/m||²), match the reference {shape_str(want.shape)}; every row now has norm 1 (largest "
           f"deviation {np.abs(np.linalg.norm(out, axis=1) - 1).max():.1e}).\n  When graded, this check's points come "
           "from the same sizes with another seed; hidden tests also try more items, an all-zero row and a single item.")


def _query_hint(out: np.ndarray, q: np.ndarray, want: np.ndarray) -> str | None:
    if out.shape == q.shape:
        return "append a 0 to every normalised query: the output is (batch, D+1)."
    if out.shape != want.shape:
        return "the output is (batch, D+1): the unit-norm query, then a 0."
    if np.allclose(out[:, :-1], q, atol=1e-5):
        return "divide each query by its own norm (q.norm(dim=1, keepdim=True)) before appending the 0."
    if not np.allclose(out[:, -1], 0):
        return "the appended coordinate is 0 for queries (it is the items that get sqrt(1 - ||x/m||²))."
    if np.allclose(out[:, :-1], q / np.linalg.norm(q, axis=0, keepdims=True), atol=1e-5):
        return "you normalised the columns (dim=0): normalise each query, i.e. each row (dim=1, keepdim=True)."
    return None


def check_simple_lsh_query(fn) -> None:
    """Visible check of the query half of Task 3; records the graded variant first."""
    record_test("test_lsh_query_seed", fn, quiet=True)
    task, case = "Task 3b (simple_lsh_query)", CASES["query.seed"]
    x = inputs(case)
    out = _tensor(task, _call(task, fn, (x["queries"],), case), "the output")
    want = _expected("query.seed", "transformed")
    _compare(task, "the transformed queries", out, want, case, _query_hint(out, x["queries"].double().numpy(), want))
    passed(f"Task 3b check passed: the {case['batch']} queries are unit-normalised with a 0 appended "
           f"{shape_str(want.shape)}, as the reference.\n  When graded, this check's points come from the same sizes with "
           "another seed; hidden tests also try a single query and queries whose norms differ a hundredfold.")


def check_rankings_agree(items_fn, query_fn) -> None:
    """Visible check that Simple-LSH keeps rankings: top-k by ``q~ . x~`` with YOUR two transforms
    equals the exact inner-product top-k; records the graded variant (cosine over your items) first."""
    record_test("test_rankings_seed", items_fn, quiet=True)
    task, case = "Task 3c (rankings agree)", CASES["rank.seed"]
    x = inputs(case)
    xt = _call(task, items_fn, (x["items"],), case)
    qt = _call(task, query_fn, (x["queries"],), case)
    xt, qt = _tensor(task, xt, "simple_lsh_items' output"), _tensor(task, qt, "simple_lsh_query's output")
    if xt.ndim != 2 or qt.ndim != 2 or xt.shape[1] != qt.shape[1]:
        raise CheckFailed(f"{task}: transformed items {shape_str(xt.shape)} and queries {shape_str(qt.shape)} do not have "
                          "the same width, so they cannot be multiplied.",
                          hint="both get ONE extra coordinate: items (n_items, D+1), queries (batch, D+1).")
    # The cosine, what a cosine-only index computes: with unit vectors it is the dot product q~ . x~.
    cos = (qt @ xt.T) / np.maximum(np.linalg.norm(qt, axis=1)[:, None] * np.linalg.norm(xt, axis=1)[None, :], 1e-300)
    got = np.argsort(-cos, axis=1, kind="stable")[:, : case["k"]]
    want = _expected("rank.seed", "ids")
    details = mismatch_lines(got, want, 0.5)
    if details:
        raise CheckFailed(f"{task}: the top-{case['k']} by cos(q~, x~) differs from the exact inner-product top-{case['k']} "
                          f"for {describe(case)}.", details + [f"rows: expected {want.tolist()}, got {got.tolist()}"],
                          hint="pass the checks of Tasks 3a and 3b first. A cosine-only index divides by the norms, so every "
                               "transformed item must have norm 1: then cos(q~, x~) = q~ · x~ = (q · x) / (||q|| m), a "
                               "positive multiple of q · x for each query, and the ranking cannot change.")
    passed(f"Task 3c check passed: for {case['batch']} queries over {case['n_items']} items with very different norms, the "
           f"top-{case['k']} by the cosine of q~ and x~ equals the exact inner-product top-{case['k']}.\n  When "
           "graded, this check's points come from the same sizes with another seed (the cosine a cosine-only index would "
           "compute over your transformed items); a hidden test also ranks 200 items in 16 dimensions.")
