"""Serving candidate generation (paper §3.2): exact vs approximate top-10, side by side.

    .venv/bin/python benchmarks/serving.py                      # 10k and 100k videos, 2 threads
    .venv/bin/python benchmarks/serving.py --sizes 10000 --save-models out/

For each catalogue size it trains the small retriever of ``solutions.serving`` on the
simulator (a few hundred sampled-softmax steps; one torch thread, because on a shared
two-core machine a second training thread mostly spins), exports ``[1, u]`` query and
``[b, w]`` video vectors, takes the exact top-10 by brute force, then measures every method
on the same queries with the same thread count: recall@10 against the exact top-10 and
queries per second, one query per call ("single", as an online server sees them) and 1,000
per call ("batch", as an offline job sends them).  Prints a markdown table, then which
methods keep recall@10 >= 0.95 while answering >= 10x more queries per second than brute
force in the same mode.  Everything is seeded; the timings are whatever this machine gives.
"""
from __future__ import annotations

import argparse
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from solutions.serving import (
    HyperplaneLSH, RetrieverConfig, brute_force_topk, save_retriever, simple_lsh_items, simple_lsh_query,
    train_retriever,
)
from ytdnn import ann

K = 10
TARGET_RECALL, TARGET_SPEEDUP = 0.95, 10.0


@dataclass
class Row:
    method: str
    params: str
    n_items: int
    build_s: float
    recall: float
    qps_single: float
    qps_batch: float


def _torch_search(items: torch.Tensor) -> ann.SearchFn:
    def search(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        scores, ids = brute_force_topk(torch.from_numpy(q), items, k)
        return scores.numpy(), ids.numpy()
    return search


def _sphere_search(index) -> ann.SearchFn:
    """Queries go through the Simple-LSH query transform inside the timed call."""
    def search(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return index.search(np.ascontiguousarray(simple_lsh_query(torch.from_numpy(q)).numpy()), k)
    return search


def bench_size(n_videos: int, steps: int, threads: int, n_single: int, n_batch: int, repeats: int, seed: int,
               save_dir: Path | None) -> tuple[list[Row], dict]:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    trained = train_retriever(RetrieverConfig(n_videos=n_videos, steps=steps, seed=seed))
    train_s = time.perf_counter() - t0
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        save_retriever(save_dir / f"retriever_{n_videos}.pt", trained)
    queries_t, _, _ = trained.query_vectors(max_users=max(n_single, n_batch))
    items_t, _ = trained.item_vectors()
    queries = np.ascontiguousarray(queries_t.numpy(), dtype=np.float32)
    items = np.ascontiguousarray(items_t.numpy(), dtype=np.float32)
    ann.set_threads(threads)
    # The exact answer every method is scored against: all items, nothing masked, so an
    # index and brute force answer the same question.
    _, exact = brute_force_topk(queries_t, items_t, K)
    exact = exact.numpy()
    q_single, ex_single = queries[:n_single], exact[:n_single]
    q_batch, ex_batch = queries[:n_batch], exact[:n_batch]

    rows: list[Row] = []

    def run(method: str, params: str, build: Callable[[], ann.SearchFn], configure=None, points=(None,)) -> None:
        t = time.perf_counter()
        fn = build()
        build_s = time.perf_counter() - t
        for point in points:
            label = params
            if configure is not None:
                label = configure(point)
            single = ann.measure(fn, q_single, ex_single, K, mode="single", repeats=repeats)
            batch = ann.measure(fn, q_batch, ex_batch, K, mode="batch", batch=1000, repeats=repeats)
            rows.append(Row(method, label, len(items), build_s, batch["recall"], single["qps"], batch["qps"]))
            build_s = 0.0  # built once, shared by every operating point

    run("brute force (torch)", "matmul + topk", lambda: _torch_search(items_t))
    run("FAISS exact", "IndexFlatIP", lambda: ann.search_fn(ann.exact_index(items)))

    ivf = {}
    nlist = ann.default_nlist(len(items))
    run("FAISS IVF", "", lambda: ann.search_fn(ivf.setdefault("i", ann.ivf_index(items, nlist, seed=seed))),
        lambda p: (ann.set_nprobe(ivf["i"], p), f"nlist={nlist} nprobe={p}")[1], (4, 16, 64))

    hnsw = {}
    run("FAISS HNSW (IP)", "", lambda: ann.search_fn(hnsw.setdefault("i", ann.hnsw_index(items, M=32, ef_construction=80))),
        lambda p: (ann.set_ef_search(hnsw["i"], p), f"M=32 efSearch={p}")[1], (16, 64, 256))

    sphere = {}
    run("FAISS HNSW (L2) on Simple-LSH vectors", "",
        lambda: _sphere_search(sphere.setdefault("i", ann.hnsw_index(simple_lsh_items(items_t), M=16,
                                                                      ef_construction=40, metric="l2"))),
        lambda p: (ann.set_ef_search(sphere["i"], p), f"M=16 efSearch={p}")[1], (16, 64))

    for bits, tables in ((8, 1), (8, 4)):
        run("Simple-LSH + hyperplanes", f"{bits} bits x {tables} table(s), probe r=1",
            lambda: HyperplaneLSH(items, n_bits=bits, n_tables=tables, probe_radius=1, seed=seed).search)

    distinct = len(np.unique(exact))
    info = {"train_s": train_s, "n_queries": len(queries), "distinct_top10": distinct,
            "top_item_share": float(np.bincount(exact.ravel()).max() / len(exact)),
            "item_norm_q": np.quantile(np.linalg.norm(items, axis=1), [0.5, 0.99, 1.0]),
            "query_norm_med": float(np.median(np.linalg.norm(queries, axis=1)))}
    return rows, info


def table(rows: list[Row], threads: int) -> str:
    lines = [f"| method | operating point | n_items | recall@10 vs exact | QPS single ({threads} thr) | "
             f"QPS batch-1000 ({threads} thr) | x brute single | x brute batch | build s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        bf = next(b for b in rows if b.n_items == r.n_items and b.method.startswith("brute"))
        lines.append(f"| {r.method} | {r.params} | {r.n_items:,} | {r.recall:.3f} | {r.qps_single:,.0f} | "
                     f"{r.qps_batch:,.0f} | {r.qps_single / bf.qps_single:.1f} | {r.qps_batch / bf.qps_batch:.1f} | "
                     f"{r.build_s:.1f} |")
    return "\n".join(lines)


def headline(rows: list[Row]) -> list[str]:
    out = []
    for n in sorted({r.n_items for r in rows}):
        bf = next(r for r in rows if r.n_items == n and r.method.startswith("brute"))
        for mode, attr in (("single", "qps_single"), ("batch-1000", "qps_batch")):
            wins = [r for r in rows if r.n_items == n and r.recall >= TARGET_RECALL
                    and getattr(r, attr) >= TARGET_SPEEDUP * getattr(bf, attr)]
            best = ", ".join(f"{r.method} [{r.params}] {getattr(r, attr) / getattr(bf, attr):.0f}x at recall {r.recall:.3f}"
                             for r in sorted(wins, key=lambda r: -getattr(r, attr)))
            out.append(f"- {n:,} items, {mode}: " + (best or f"none reaches recall >= {TARGET_RECALL} at >= {TARGET_SPEEDUP:.0f}x"))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--steps", type=int, default=300, help="training steps per retriever")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--single", type=int, default=300, help="queries timed one at a time")
    parser.add_argument("--batch-queries", type=int, default=2000, help="queries timed 1,000 at a time (recall is over these)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per measurement; the fastest counts")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-models", type=Path, help="folder for retriever_<n_items>.pt (for python -m solutions.infer)")
    args = parser.parse_args(argv)

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    rows: list[Row] = []
    notes = []
    for n in args.sizes:
        size_rows, info = bench_size(n, args.steps, args.threads, args.single, args.batch_queries, args.repeats,
                                     args.seed, args.save_models)
        rows += size_rows
        q = info["item_norm_q"]
        notes.append(f"- {n:,} items: trained {args.steps} steps in {info['train_s']:.0f} s; {info['n_queries']} test-user "
                     f"queries; item [b,w] norm median {q[0]:.2f}, p99 {q[1]:.2f}, max {q[2]:.2f}; query [1,u] norm median "
                     f"{info['query_norm_med']:.2f}; {info['distinct_top10']} distinct items in the exact top-10 lists, "
                     f"the most common one in {info['top_item_share']:.0%} of them")
    print(f"\nServing benchmark: k={K}, FAISS {ann.faiss.__version__}, torch {torch.__version__}, "
          f"{args.threads} threads for search (faiss.omp_set_num_threads and torch.set_num_threads), "
          f"{os.cpu_count()} cores visible, load average {load_start:.1f} at start and {os.getloadavg()[0]:.1f} at end; "
          f"single = {args.single} queries one per call, batch = {args.batch_queries} queries 1,000 per call, "
          f"best of {args.repeats} passes; recall@10 over the batch queries.\n")
    print(table(rows, args.threads))
    print("\nModels and queries:")
    print("\n".join(notes))
    print(f"\nrecall@10 >= {TARGET_RECALL} and >= {TARGET_SPEEDUP:.0f}x brute-force QPS in the same mode:")
    print("\n".join(headline(rows)))
    # Wall time depends on the neighbours; CPU time of this process is what the run itself costs.
    print(f"\ntotal {time.perf_counter() - start:.0f} s wall, {time.process_time():.0f} s CPU")


if __name__ == "__main__":
    main()
