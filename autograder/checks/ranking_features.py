"""Checks for assignment 06 (ranking features, paper section 4.1).

Exercises: ``fit_quantiles`` and ``quantile_transform`` (quantile normalisation with x̃, x̃², √x̃),
``embedding_dim`` (the log-dimension rule), ``top_n_vocabulary`` and ``ZeroOOVEmbedding`` (ids
outside the top-N clicked vocabulary embed to zeros). ``CASES``/``TESTS`` as in every check module;
every expected number comes from the frozen JSON (``python -m solutions.expected``).
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from . import record
from .compare import as_array, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed, call_student

ASSIGNMENT = "06_ranking_features"
ATOL = 1e-5

FQ, QT, ED, TV, ZE = "fit_quantiles", "quantile_transform", "embedding_dim", "top_n_vocabulary", "ZeroOOVEmbedding"

# Edges of the visible transform case: 4 quantiles with a tie (3, 3) in the middle.
SEED_EDGES = [0.0, 2.0, 3.0, 3.0, 8.0]
ZERO_HEAVY = [0, 0, 0, 0, 0, 0, 1, 1, 2, 5, 9, 0, 0, 3]


def _random(seed: int, n: int, scale: float = 10.0) -> list[float]:
    return np.round(np.random.default_rng(seed).exponential(scale, n), 3).tolist()


CASES: dict[str, dict] = {
    # 1a. fit_quantiles
    "quantiles.seed": dict(exercise=FQ, kind="the example", visible=True,
                           x=[5.0, 1.0, 3.0, 3.0, 3.0, 9.0, 0.0, 2.0, 7.0, 4.0], n_quantiles=4),
    "quantiles.seed_variant": dict(exercise=FQ, kind="the example's size with other values",
                                   x=[6.0, 2.0, 2.0, 8.0, 1.0, 0.5, 4.0, 4.0, 4.0, 11.0], n_quantiles=4),
    "quantiles.zero_heavy": dict(exercise=FQ, kind="many tied zeros", x=ZERO_HEAVY, n_quantiles=5),
    "quantiles.one": dict(exercise=FQ, kind="one quantile", x=[3.0, -1.0, 2.5], n_quantiles=1),
    "quantiles.random": dict(exercise=FQ, kind="a larger random sample", x=_random(7, 200), n_quantiles=20, rtol=1e-6),
    # 1b. quantile_transform
    "transform.seed": dict(exercise=QT, kind="the example", visible=True, edges=SEED_EDGES,
                           x=[-1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 5.5, 8.0, 10.0]),
    "transform.seed_variant": dict(exercise=QT, kind="the example's edges with other values", edges=SEED_EDGES,
                                   x=[0.5, 3.0, 2.9, 7.0, -4.0, 9.0, 1.5]),
    "transform.ties": dict(exercise=QT, kind="tied edges (a feature mostly zero)",
                           edges=[0.0, 0.0, 0.0, 1.0, 4.0], x=[0.0, 0.0, 0.5, 1.0, 2.0, -0.1, 4.0]),
    "transform.constant": dict(exercise=QT, kind="a constant training feature",
                               edges=[2.0, 2.0, 2.0], x=[1.0, 2.0, 3.0]),
    "transform.out_of_range": dict(exercise=QT, kind="values outside the training range",
                                   edges=[10.0, 20.0, 40.0], x=[-100.0, 9.99, 100.0, 40.0, 10.0]),
    # 2. embedding_dim
    "dim.seed": dict(exercise=ED, kind="the example", visible=True,
                     calls=[[1, {}], [2, {}], [10, {}], [1000, {}], [10**6, {}], [10**9, {}]]),
    "dim.seed_variant": dict(exercise=ED, kind="the example's rule on other sizes",
                             calls=[[3, {}], [7, {}], [100, {}], [65536, {}], [2**20 + 1, {}]]),
    "dim.arguments": dict(exercise=ED, kind="other scale and max_dim",
                          calls=[[1000, {"scale": 1.0}], [1000, {"scale": 2.5, "max_dim": 16}],
                                 [2, {"scale": 0.5}], [1, {"scale": 3.0}], [10**6, {"max_dim": 200}]]),
    # 3a. top_n_vocabulary
    "vocab.seed": dict(exercise=TV, kind="the example", visible=True,
                       ids=[7, 3, 7, 9, 3, 7, 1, 9, -1, 12, 3, 5], top_n=3),
    "vocab.seed_variant": dict(exercise=TV, kind="the example's size with other ids",
                               ids=[4, 4, 8, 2, 8, 8, 6, 2, 4, 11, -1, -1], top_n=3),
    "vocab.ties": dict(exercise=TV, kind="ties in frequency", ids=[5, 2, 9, 5, 2, 9, 30, 1], top_n=4),
    "vocab.large_n": dict(exercise=TV, kind="top_n above the number of distinct ids", ids=[3, 3, 0, -1], top_n=10),
    # 3b. ZeroOOVEmbedding
    "zero.seed": dict(exercise=ZE, kind="the example", visible=True,
                      vocabulary=[7, 3, 9], dim=4, seed=606, ids=[9, 3, 12, -1, 7, 3]),
    "zero.seed_variant": dict(exercise=ZE, kind="the example's sizes with another seed and ids",
                              vocabulary=[7, 3, 9], dim=4, seed=1606, ids=[3, 100, 7, 9, -1]),
    "zero.matrix": dict(exercise=ZE, kind="a 2-d batch of ids (impression and last watch)",
                        vocabulary=[50, 0, 21, 8, 13], dim=3, seed=11, ids=[[0, 8, -1], [21, 4, 13]]),
    "zero.all_oov": dict(exercise=ZE, kind="only out-of-vocabulary ids",
                         vocabulary=[2, 4], dim=5, seed=3, ids=[1, 3, 5, -1]),
    "zero.gradients": dict(exercise=ZE, kind="gradients: only in-vocabulary ids reach a row",
                           vocabulary=[5, 1, 8, 2], dim=2, seed=4, ids=[8, 6, -1, 1, 8], grad=True),
}

TESTS: dict[str, list[str]] = {
    "test_quantiles_seed": ["quantiles.seed_variant"],
    "test_quantiles_hidden": ["quantiles.zero_heavy", "quantiles.one", "quantiles.random"],
    "test_transform_seed": ["transform.seed_variant"],
    "test_transform_hidden": ["transform.ties", "transform.constant", "transform.out_of_range"],
    "test_dim_seed": ["dim.seed_variant"],
    "test_dim_hidden": ["dim.arguments"],
    "test_vocab_seed": ["vocab.seed_variant"],
    "test_vocab_hidden": ["vocab.ties", "vocab.large_n"],
    "test_zero_seed": ["zero.seed_variant"],
    "test_zero_hidden": ["zero.matrix", "zero.all_oov", "zero.gradients"],
}


def _embedding_rows(module: torch.nn.Module, case: dict) -> torch.Tensor:
    shape = (len(case["vocabulary"]), case["dim"])
    tables = [p for p in module.parameters() if tuple(p.shape) == shape]
    if len(tables) != 1:
        got = [shape_str(p.shape) for p in module.parameters()]
        raise ValueError(f"expected one embedding table of shape {shape_str(shape)}, found parameters {got}")
    return tables[0]


def run_case(obj, case: dict) -> dict[str, np.ndarray]:
    """What a case records (the same code measures the student and the reference)."""
    ex = case["exercise"]
    if ex == FQ:
        return {"edges": np.asarray(obj(np.array(case["x"], dtype=np.float64), case["n_quantiles"]), dtype=np.float64)}
    if ex == QT:
        out = obj(np.array(case["x"], dtype=np.float64), np.array(case["edges"], dtype=np.float64))
        return {"features": np.asarray(out, dtype=np.float64)}
    if ex == ED:
        dims = [obj(n, **kw) for n, kw in case["calls"]]
        if not all(isinstance(d, (int, np.integer)) for d in dims):
            raise TypeError(f"embedding_dim returned {[type(d).__name__ for d in dims]}, expected int")
        return {"dims": np.asarray(dims, dtype=np.int64)}
    if ex == TV:
        return {"vocabulary": np.asarray(obj(np.array(case["ids"], dtype=np.int64), case["top_n"])).astype(np.int64)}
    module = obj(np.array(case["vocabulary"], dtype=np.int64), case["dim"], case["seed"])
    out = module(torch.LongTensor(case["ids"]))
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"forward returned {type(out).__name__}, expected a torch.Tensor")
    if not case.get("grad"):
        return {"output": out.detach().to(torch.float64).numpy()}
    out.pow(2).sum().backward()
    grad = _embedding_rows(module, case).grad
    if grad is None:
        raise ValueError("no gradient reached the embedding table")
    return {"grad_rows": (grad.abs().sum(dim=1) > 0).numpy()}


def record_test(grade_id: str, obj, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, obj, quiet)


# --- visible checks ------------------------------------------------------------------------------


def _compare(name: str, where: str, got, want: np.ndarray, hint_fn, atol: float = ATOL) -> None:
    got = np.asarray(got, dtype=np.float64)
    if got.shape != want.shape:
        raise CheckFailed(f"{name}: wrong output shape for {where}.",
                          [f"expected {shape_str(want.shape)}, got {shape_str(got.shape)}"], hint=hint_fn(got, want))
    details = mismatch_lines(got, want, atol)
    if details:
        raise CheckFailed(f"{name}: the values differ from the reference for {where}.", details, hint=hint_fn(got, want))


def _visible(case_id: str) -> tuple[dict, dict]:
    frozen = record.visible(ASSIGNMENT)[case_id]
    return CASES[case_id], {k: as_array(v) for k, v in frozen["arrays"].items()}


def check_fit_quantiles(fn) -> None:
    """Visible check of ``fit_quantiles``; records the graded variant first."""
    record_test("test_quantiles_seed", fn, quiet=True)
    case, want = _visible("quantiles.seed")
    got = call_student("fit_quantiles", fn, np.array(case["x"]), case["n_quantiles"])
    q = case["n_quantiles"]

    def hint(g, w):
        if g.shape == (q,):
            return f"Q quantiles need Q + 1 edges, the minimum (k = 0) and the maximum (k = Q) included: {q + 1} here."
        if g.shape == w.shape and np.allclose(g, np.sort(np.array(case["x"]))[np.linspace(0, len(case["x"]) - 1, q + 1).astype(int)]):
            return "you picked sorted values without interpolating: use np.quantile(x_train, np.linspace(0, 1, Q + 1))."
        if g.shape == w.shape and (np.diff(g) < 0).any():
            return "the edges must be non-decreasing (quantiles of sorted data)."
        return "edges[k] = np.quantile(x_train, k / Q) for k = 0 … Q (numpy's default linear interpolation)."
    _compare("fit_quantiles", f"x_train = {case['x']}, n_quantiles = {q}", got, want["edges"], hint)
    passed(f"fit_quantiles check passed: the {q + 1} edges {np.round(want['edges'], 3).tolist()} match (min, quartiles, max). "
           "When graded, this check's points come from other values of the same size; hidden tests also try many tied "
           "zeros, a single quantile and a larger random sample.")


def check_quantile_transform(fn) -> None:
    """Visible check of ``quantile_transform``; records the graded variant first."""
    record_test("test_transform_seed", fn, quiet=True)
    case, want = _visible("transform.seed")
    x, edges = np.array(case["x"]), np.array(case["edges"])
    got = call_student("quantile_transform", fn, x, edges)
    w = want["features"]

    def hint(g, w_):
        if g.shape == (len(x),):
            return "return the three columns [x̃, x̃², √x̃] stacked as (M, 3), not x̃ alone."
        if g.shape == (3, len(x)):
            return "transposed? Stack the columns along axis=1: (M, 3)."
        if g.shape != w_.shape:
            return "the output is (M, 3): one row per value of x, columns [x̃, x̃², √x̃]."
        t = g[:, 0]
        if (t < -1e-9).any() or (t > 1 + 1e-9).any():
            return "x̃ must stay in [0, 1]: values below edges[0] give 0, at or above edges[-1] give 1 (clip each segment)."
        if np.allclose(g[:, 0], w_[:, 0], atol=ATOL):
            return "x̃ is right; the columns must be in the order [x̃, x̃², √x̃]."
        tie = int(np.flatnonzero(x == 3.0)[0])
        if abs(t[tie] - w_[tie, 0]) > ATOL:
            return ("at the tied value 3.0 (edges[2] == edges[3]) x̃ should be the TOP of the tie, 0.75 = the share of "
                    "training values <= 3; a zero-width segment counts as filled once x >= its edge.")
        return "x̃ = (1/Q) Σ_k clip((x − edges[k−1]) / (edges[k] − edges[k−1]), 0, 1): linear between edges, 1/Q per segment."
    _compare("quantile_transform", f"x = {case['x']}, edges = {case['edges']}", got, w, hint)
    passed("quantile_transform check passed: x̃, x̃² and √x̃ match for values below, inside, on a tie of, and above the "
           f"edges (x̃ = {np.round(w[:, 0], 3).tolist()}). When graded, this check's points come from other values on the "
           "same edges; hidden tests also try tied edges, a constant feature and values far out of range.")


def check_embedding_dim(fn) -> None:
    """Visible check of ``embedding_dim``; records the graded variant first."""
    record_test("test_dim_seed", fn, quiet=True)
    case, want = _visible("dim.seed")
    ns = [n for n, _ in case["calls"]]
    got = [call_student("embedding_dim", fn, n) for n in ns]
    if not all(isinstance(d, (int, np.integer)) for d in got):
        raise CheckFailed(f"embedding_dim returned {[type(d).__name__ for d in got]}, expected int.",
                          hint="an embedding size is a whole number: return int(...).")
    w = want["dims"]
    import math

    def hint(g, w_):
        if np.array_equal(g, [min(64, max(1, math.ceil(4 * math.log(n)))) for n in ns]):
            return "that is the natural log: the rule uses log2(n_unique)."
        if np.array_equal(g, [min(64, max(1, round(4 * math.log2(n)))) for n in ns]) or \
                np.array_equal(g, [min(64, max(1, int(4 * math.log2(n)))) for n in ns]):
            return "round UP: math.ceil(scale * log2(n_unique))."
        if g[-1] > 64:
            return "cap the size at max_dim (64 by default)."
        if g[0] < 1:
            return "a one-value feature still gets 1 dimension: max(1, ...)."
        return "min(max_dim, max(1, ceil(scale * log2(n_unique))))."
    _compare("embedding_dim", f"n_unique = {ns}", got, w, hint, atol=0)
    passed(f"embedding_dim check passed: n_unique {ns} -> {w.tolist()} (4·log2 n, rounded up, 1 to 64). When graded, "
           "this check's points come from other vocabulary sizes; hidden tests also try other scale and max_dim.")


def check_top_n_vocabulary(fn) -> None:
    """Visible check of ``top_n_vocabulary``; records the graded variant first."""
    record_test("test_vocab_seed", fn, quiet=True)
    case, want = _visible("vocab.seed")
    got = np.asarray(call_student("top_n_vocabulary", fn, np.array(case["ids"]), case["top_n"]))
    w = want["vocabulary"]

    def hint(g, w_):
        if -1 in g:
            return "-1 means 'no video': never keep a negative id."
        if g.shape == w_.shape and set(g.tolist()) == set(w_.tolist()):
            return "right ids, wrong order: most frequent first, ties by the smaller id."
        return "count each id (np.unique(..., return_counts=True)), sort by count descending then id ascending, keep top_n."
    _compare("top_n_vocabulary", f"clicked_ids = {case['ids']}, top_n = {case['top_n']}", got, w, hint, atol=0)
    passed(f"top_n_vocabulary check passed: {w.tolist()} (most clicked first). When graded, this check's points come "
           "from other ids; hidden tests also try ties in frequency and top_n above the number of ids.")


def check_zero_oov_embedding(cls) -> None:
    """Visible check of ``ZeroOOVEmbedding``; records the graded variant first."""
    record_test("test_zero_seed", cls, quiet=True)
    case, want = _visible("zero.seed")
    vocab, ids = case["vocabulary"], case["ids"]
    module = call_student("ZeroOOVEmbedding(...)", cls, np.array(vocab), case["dim"], case["seed"])
    shapes = [tuple(p.shape) for p in module.parameters()]
    if shapes != [(len(vocab), case["dim"])]:
        hint = "one nn.Embedding(len(vocabulary), dim) and no other parameter."
        if (len(vocab) + 1, case["dim"]) in shapes or (len(vocab) + 2, case["dim"]) in shapes:
            hint = ("an extra row for OOV (or padding) is the candidate generator's choice (ytdnn.vocab.OOV = 1); here "
                    "out-of-vocabulary ids get a fixed ZERO vector, so the table has exactly len(vocabulary) rows.")
        raise CheckFailed(f"ZeroOOVEmbedding: parameters {[shape_str(s) for s in shapes]}, expected "
                          f"[{shape_str((len(vocab), case['dim']))}].", hint=hint)
    out = call_student("ZeroOOVEmbedding.forward", module, torch.LongTensor(ids))
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"forward returned {type(out).__name__}, expected a torch.Tensor.")
    got = out.detach().double().numpy()
    w = want["output"]
    oov = [i for i, r in enumerate(ids) if r not in vocab]

    def hint(g, w_):
        if g.shape != w_.shape:
            return f"one row of {case['dim']} values per id: (len(ids), dim)."
        if np.abs(g[oov]).max() > 0:
            return (f"ids {[ids[i] for i in oov]} are not in the vocabulary, so their rows must be exactly zero "
                    "(multiply by a mask, or use zeros there).")
        return ("vocabulary[r] owns row r of the table (not row = raw id): map each raw id to its position in "
                "`vocabulary`; create the nn.Embedding right after torch.manual_seed(seed).")
    _compare("ZeroOOVEmbedding", f"vocabulary = {vocab}, ids = {ids}", got, w, hint)
    passed(f"ZeroOOVEmbedding check passed: ids in {vocab} get their rows, ids {[ids[i] for i in oov]} get zeros "
           f"(max abs error {max_abs_error(got, w):.1e}). When graded, this check's points come from another seed; hidden "
           "tests also try a 2-d batch, only unknown ids, and that unknown ids send no gradient to any row.")
