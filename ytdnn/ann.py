"""Approximate nearest-neighbour indexes for serving candidate generation (paper §3.2).

The candidate network scores video ``j`` for a user with an inner product of a query vector
and a video vector (the softmax's row and bias).  Serving is therefore maximum-inner-product
search (MIPS) over the catalogue.  This module builds FAISS indexes for it and measures them:

* :func:`exact_index`: ``IndexFlatIP``, every item scored (the exact answer, FAISS's speed);
* :func:`ivf_index`: ``IndexIVFFlat`` with inner product; ``nlist`` k-means cells (default
  ``4 * sqrt(V)``) and ``nprobe`` cells visited per query, the speed/recall knob;
* :func:`hnsw_index`: ``IndexHNSWFlat`` with inner product; ``M`` links per node and
  ``efSearch`` (the search beam), the speed/recall knob;
* :func:`measure`: recall@k against the exact top-k and queries per second, with queries
  sent one at a time (``mode="single"``, as an online server receives them) or in batches
  (``mode="batch"``, as an offline job sends them);
* :func:`measure_side_by_side`: several methods timed in interleaved rounds on the same
  queries (median queries per second, and every round's value), so that a burst of load on
  a shared machine slows them all alike instead of whichever happened to run during it;
* :func:`top_k_diversity`: how much users' top-k lists differ (distinct items, overlap).

Every search function here has the FAISS signature ``search(queries (n, D) float32, k) ->
(scores (n, k), ids (n, k))``; ids are row numbers of the indexed items, ``-1`` for "none".
Timings depend on the thread count, so set it with :func:`set_threads` and report it.
"""
from __future__ import annotations

import math
import time
from typing import Callable

import faiss
import numpy as np
import torch

SearchFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


def set_threads(n: int) -> int:
    """Use ``n`` threads in FAISS (OpenMP) and in torch; returns ``n`` for the report.

    Both libraries default to every core, which on a shared machine oversubscribes it and
    makes timings meaningless; fixing the count makes two runs comparable.
    """
    faiss.omp_set_num_threads(n)
    torch.set_num_threads(n)
    return n


def _as_f32(x: np.ndarray | torch.Tensor) -> np.ndarray:
    """FAISS wants C-contiguous float32 rows."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    return np.ascontiguousarray(x, dtype=np.float32)


def exact_index(items: np.ndarray | torch.Tensor) -> faiss.IndexFlatIP:
    """Brute-force inner-product index over ``items`` (V, D)."""
    items = _as_f32(items)
    index = faiss.IndexFlatIP(items.shape[1])
    index.add(items)
    return index


def default_nlist(n_items: int) -> int:
    """The usual rule of thumb, about ``4 * sqrt(V)`` cells (400 for 10k items, 1265 for 100k)."""
    return max(1, min(n_items, int(round(4 * math.sqrt(n_items)))))


def ivf_index(items: np.ndarray | torch.Tensor, nlist: int | None = None, nprobe: int = 8, *,
              niter: int = 10, seed: int = 0) -> faiss.IndexIVFFlat:
    """Inverted-file index over ``items`` (V, D): k-means into ``nlist`` cells, inner product.

    A query scores only the items of the ``nprobe`` cells whose centroids have the largest
    inner product with it.  ``niter`` k-means iterations (10 is plenty for serving: cells only
    need to be roughly right, the visited items are scored exactly) and ``seed`` fix training.
    """
    items = _as_f32(items)
    nlist = nlist or default_nlist(len(items))
    quantizer = faiss.IndexFlatIP(items.shape[1])
    index = faiss.IndexIVFFlat(quantizer, items.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    index.cp.niter = niter
    index.cp.seed = seed
    # The catalogue is what it is: train on all of it without FAISS's "too few points" warning.
    index.cp.min_points_per_centroid = 1
    index.train(items)
    index.add(items)
    index.nprobe = nprobe  # FAISS's Python wrapper keeps ``quantizer`` alive with the index
    return index


def hnsw_index(items: np.ndarray | torch.Tensor, M: int = 32, ef_search: int = 64,
               ef_construction: int = 80, metric: str = "ip") -> faiss.IndexHNSWFlat:
    """Hierarchical navigable small-world graph over ``items`` (V, D), inner product.

    ``M`` neighbours per node (memory and build time grow with it), ``ef_construction`` the
    beam while building, ``ef_search`` the beam while searching (set it later with
    :func:`set_ef_search`).  The graph is built in a fixed insertion order, but FAISS adds
    nodes in parallel, so with more than one thread two builds may differ slightly.

    ``metric="l2"`` builds the graph on Euclidean distance instead.  Inner product is not a
    metric (an item need not be its own best match), and a graph built on it can leave
    items unreachable; vectors first mapped onto the unit sphere so that L2 order equals
    inner-product order (the Simple-LSH transform of the assignment) avoid that.
    """
    items = _as_f32(items)
    metrics = {"ip": faiss.METRIC_INNER_PRODUCT, "l2": faiss.METRIC_L2}
    if metric not in metrics:
        raise ValueError(f"metric must be 'ip' or 'l2', got {metric!r}")
    index = faiss.IndexHNSWFlat(items.shape[1], M, metrics[metric])
    index.hnsw.efConstruction = ef_construction
    index.add(items)
    index.hnsw.efSearch = ef_search
    return index


def set_nprobe(index: faiss.IndexIVF, nprobe: int) -> faiss.IndexIVF:
    """Visit ``nprobe`` cells per query (more: slower, higher recall)."""
    index.nprobe = nprobe
    return index


def set_ef_search(index: faiss.IndexHNSW, ef_search: int) -> faiss.IndexHNSW:
    """Search beam width ``efSearch`` (at least k; more: slower, higher recall)."""
    index.hnsw.efSearch = ef_search
    return index


def search_fn(index: faiss.Index, nprobe: int | None = None, ef_search: int | None = None) -> SearchFn:
    """``index.search`` with float32 conversion: ``(queries (n, D), k) -> (scores, ids)``.

    ``nprobe`` (IVF) or ``ef_search`` (HNSW) fix the knob for this search function only
    (FAISS search parameters, passed with every call), so several operating points of one
    index can be measured side by side without resetting the index between calls.
    """
    params = None
    if nprobe is not None:
        params = faiss.SearchParametersIVF(nprobe=nprobe)
    elif ef_search is not None:
        params = faiss.SearchParametersHNSW(efSearch=ef_search)

    def search(queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return index.search(_as_f32(queries), k, params=params)
    return search


def recall_at_k(ids: np.ndarray, exact_ids: np.ndarray, k: int = 10) -> float:
    """Mean over queries of ``|top-k found ∩ exact top-k| / k``; ``ids`` (n, >=k) and
    ``exact_ids`` (n, >=k) are item rows, ``-1`` entries never match."""
    ids, exact_ids = np.asarray(ids)[:, :k], np.asarray(exact_ids)[:, :k]
    if ids.shape[0] != exact_ids.shape[0]:
        raise ValueError(f"{ids.shape[0]} result rows for {exact_ids.shape[0]} exact rows")
    hits = sum(len(np.intersect1d(a[a >= 0], b)) for a, b in zip(ids, exact_ids))
    return hits / (k * len(ids)) if len(ids) else float("nan")


def _timed_pass(search: SearchFn, q: np.ndarray, k: int, step: int, now) -> tuple[np.ndarray, float]:
    """One pass of ``search`` over ``q`` (n, D), ``step`` queries per call: the ids (n, k) and
    the seconds it took by the clock ``now``."""
    out = []
    start = now()
    for i in range(0, len(q), step):
        out.append(np.asarray(search(q[i:i + step], k)[1]))
    seconds = now() - start
    return (np.concatenate(out) if out else np.zeros((0, k), np.int64)), seconds


def measure(index_search_fn: SearchFn, queries: np.ndarray | torch.Tensor, exact_ids: np.ndarray, k: int = 10,
            mode: str = "single", batch: int = 1000, warmup: int = 5, repeats: int = 1) -> dict[str, float]:
    """Recall@k of ``index_search_fn`` against ``exact_ids`` (n, >=k) and its throughput.

    ``mode="single"`` sends the n ``queries`` (n, D) one at a time, as an online server gets
    them; ``mode="batch"`` sends ``batch`` at a time, as an offline job would.  The first
    ``warmup`` calls are not timed (first-touch page faults and thread start-up).
    Returns ``{"recall": ..., "qps": ..., "seconds": ..., "n_queries": n}``.
    """
    q = _as_f32(queries)
    if mode not in ("single", "batch"):
        raise ValueError(f"mode must be 'single' or 'batch', got {mode!r}")
    step = 1 if mode == "single" else batch
    for i in range(min(warmup if mode == "single" else min(warmup, 1), len(q))):
        index_search_fn(q[i * step:(i + 1) * step], k)
    seconds = float("inf")
    for _ in range(max(1, repeats)):
        ids, took = _timed_pass(index_search_fn, q, k, step, time.perf_counter)
        seconds = min(seconds, took)
    return {"recall": recall_at_k(ids, exact_ids, k), "qps": len(q) / seconds if seconds > 0 else float("inf"),
            "seconds": seconds, "n_queries": len(q)}


def measure_side_by_side(searches: dict[str, SearchFn], queries: np.ndarray | torch.Tensor, exact_ids: np.ndarray,
                         k: int = 10, mode: str = "single", batch: int = 1000, rounds: int = 5,
                         warmup: int = 5, clock: str = "wall") -> dict[str, dict]:
    """Recall@k and queries per second of every search in ``searches`` (name -> search), timed
    in ``rounds`` interleaved rounds: in each round every method makes one timed pass over all
    ``queries`` (n, D), one per call (``mode="single"``) or ``batch`` per call, and the order
    of the methods rotates from round to round.

    Returns ``{name: {"recall": float, "qps": median over rounds, "qps_rounds": (rounds,)
    array}}``; round ``r`` of every method ran within seconds of round ``r`` of the others,
    so ``qps_rounds[a] / qps_rounds[b]`` is a like-for-like speed ratio per round.

    ``clock="wall"`` times elapsed time (``time.perf_counter``), what a user waits for;
    ``clock="cpu"`` times this process's CPU time (``time.process_time``), which leaves out the
    moments another program held the core: on a busy shared machine it measures the work a
    method needs rather than its luck with the scheduler (with one search thread the two
    agree on an idle machine).
    """
    clocks = {"wall": time.perf_counter, "cpu": time.process_time}
    if clock not in clocks:
        raise ValueError(f"clock must be 'wall' or 'cpu', got {clock!r}")
    now = clocks[clock]
    if mode not in ("single", "batch"):
        raise ValueError(f"mode must be 'single' or 'batch', got {mode!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    q = _as_f32(queries)
    step = 1 if mode == "single" else batch
    names = list(searches)
    for name in names:  # untimed: first-touch page faults, lazy initialisation
        for i in range(min(warmup, len(q))):
            searches[name](q[i * step:(i + 1) * step] if mode == "single" else q[:step], k)
    qps = {name: np.zeros(rounds) for name in names}
    recall = {}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            ids, seconds = _timed_pass(searches[name], q, k, step, now)
            qps[name][r] = len(q) / seconds if seconds > 0 else float("inf")
            if name not in recall:
                recall[name] = recall_at_k(ids, exact_ids, k)
    return {name: {"recall": recall[name], "qps": float(np.median(qps[name])), "qps_rounds": qps[name]}
            for name in names}


def top_k_diversity(ids: np.ndarray, n_pairs: int = 5000, seed: int = 0) -> dict[str, float]:
    """How different users' top-k lists are, for ``ids`` (n_users, k) item rows.

    ``distinct``: items in the union of all lists; ``top_share``: share of lists holding the
    most common item; ``jaccard``: mean |A ∩ B| / |A ∪ B| over ``n_pairs`` random pairs of
    different users (1 = everyone gets the same list, 0 = no two lists share an item).
    A model that recommends the same popular videos to everyone makes every index look
    accurate, which is why a serving benchmark should report this next to recall.
    """
    ids = np.asarray(ids)
    if ids.ndim != 2 or len(ids) < 2:
        raise ValueError(f"ids must be (n_users >= 2, k), got shape {ids.shape}")
    rng = np.random.default_rng(seed)
    a, b = rng.integers(0, len(ids), n_pairs), rng.integers(0, len(ids), n_pairs)
    a, b = a[a != b], b[a != b]
    jac = [len(np.intersect1d(ids[i], ids[j])) / len(np.union1d(ids[i], ids[j])) for i, j in zip(a, b)]
    counts = np.unique(ids, return_counts=True)[1]
    return {"distinct": int(len(counts)), "top_share": float(counts.max() / len(ids)), "jaccard": float(np.mean(jac))}
