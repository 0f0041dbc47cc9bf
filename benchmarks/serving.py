"""Serving candidate generation (paper §3.2): exact vs approximate top-10, side by side.

    .venv/bin/python benchmarks/serving.py                      # 10k and 100k videos, 5 runs each
    .venv/bin/python benchmarks/serving.py --sizes 100000 --runs 3 --save-models out/

For each catalogue size it trains the small retriever of ``solutions.serving`` on the
simulator (3,000 sampled-softmax steps by default: with a few hundred, every user gets nearly
the same popular top-10, which flatters every index's recall; the script prints how different
the users' lists are and how they compare with the simulator's own preference vectors), exports
``[1, u]`` query and ``[b, w]`` video vectors and takes the exact top-10 by brute force.

The operating point of every index (the smallest ``nprobe``/``efSearch`` of its grid whose
recall@10 is >= 0.96) is chosen on 1,000 *tuning* users before anything is timed; everything
reported is measured on 1,000 other users.  Timing is side by side (``ytdnn.ann.measure_side_by_side``):
in each round every method makes one pass over the same queries, in rotating order, one query
per call ("single", as an online server sees them) and 1,000 per call ("batch", as an offline
job sends them), all with the same thread count; a method's QPS is its median over the rounds.
The headline compares each chosen point with the faster exact method of the same round:
recall@10 >= 0.95 and a median speed-up >= 10x.  ``--runs`` repeats the whole timed
measurement on the same model and counts in how many runs the headline held.
Everything is seeded; the timings are whatever this machine gives.
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
    HyperplaneLSH, RetrieverConfig, TrainedRetriever, brute_force_topk, save_retriever, simple_lsh_items,
    train_retriever,
)
from ytdnn import ann

K = 10
TARGET_RECALL, TARGET_SPEEDUP, TUNING_RECALL = 0.95, 10.0, 0.96
EXACT = ("brute force (torch)", "FAISS exact")


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


def _sphere_search(index, ef_search: int) -> ann.SearchFn:
    """HNSW (L2) on Simple-LSH vectors: the query goes through the full Simple-LSH query
    transform (normalise, append 0) inside the timed call, since L2 depends on its length."""
    inner = ann.search_fn(index, ef_search=ef_search)

    def search(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        # numpy, not torch: at tens of microseconds a query, torch's per-call overhead would dominate
        unit = q / np.linalg.norm(q, axis=1, keepdims=True)
        return inner(np.concatenate([unit, np.zeros((len(q), 1), np.float32)], axis=1), k)
    return search


def _zero_padded(search: ann.SearchFn) -> ann.SearchFn:
    """An inner-product index on Simple-LSH vectors ranks the same whatever the query's length,
    so the query needs only its appended 0 (done inside the timed call)."""
    def padded(q: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        return search(np.concatenate([q, np.zeros((len(q), 1), np.float32)], axis=1), k)
    return padded


def truth_topk(trained: TrainedRetriever, user_ids: np.ndarray, item_ids: np.ndarray, k: int) -> np.ndarray:
    """Top-``k`` rows of ``item_ids`` by the simulator's own scoring vectors (within-topic choice
    weight ``beta u.v + log quality``) for ``user_ids``: what a perfect model would rank first."""
    world = trained.world
    u = torch.from_numpy(world.user_factors[user_ids]).float()
    v = world.config.beta * torch.from_numpy(world.video_factors[item_ids]).float()
    b = torch.from_numpy(np.log(np.asarray(world.video_latent["quality"])[item_ids])).float()
    return np.concatenate([torch.topk(u[i:i + 250] @ v.T + b, k, dim=1).indices.numpy() for i in range(0, len(u), 250)])


def bench_size(n_videos: int, steps: int, threads: int, n_single: int, rounds: int, runs: int, seed: int,
               save_dir: Path | None) -> tuple[list[list[Row]], dict[str, str], dict]:
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    trained = train_retriever(RetrieverConfig(n_videos=n_videos, steps=steps, seed=seed))
    train_s = time.perf_counter() - t0
    if save_dir is not None:
        save_dir.mkdir(parents=True, exist_ok=True)
        save_retriever(save_dir / f"retriever_{n_videos}.pt", trained)
    queries_t, user_ids, _ = trained.query_vectors(max_users=2000)
    if len(queries_t) < 2000:
        raise SystemExit(f"{n_videos} videos: only {len(queries_t)} test users, need 2000 (1000 tuning + 1000 reported)")
    items_t, item_ids = trained.item_vectors()
    queries = np.ascontiguousarray(queries_t.numpy(), dtype=np.float32)
    items = np.ascontiguousarray(items_t.numpy(), dtype=np.float32)
    ann.set_threads(threads)
    # The exact answer every method is scored against: all items, nothing masked, so an
    # index and brute force answer the same question.
    exact = brute_force_topk(queries_t, items_t, K)[1].numpy()
    truth = truth_topk(trained, user_ids, item_ids, K)
    tune_q, tune_ex, rep_q, rep_ex = queries[:1000], exact[:1000], queries[1000:2000], exact[1000:2000]

    searches: dict[tuple[str, str], ann.SearchFn] = {}
    build: dict[str, float] = {}
    family: dict[tuple[str, str], tuple[str, int]] = {}  # (method, params) -> (index family, knob)

    def timed(name: str, make: Callable):
        t = time.perf_counter()
        out = make()
        build[name] = time.perf_counter() - t
        return out

    searches[(EXACT[0], "matmul + topk")] = _torch_search(items_t)
    searches[(EXACT[1], "IndexFlatIP")] = ann.search_fn(timed(EXACT[1], lambda: ann.exact_index(items)))
    nlist = ann.default_nlist(len(items))
    ivf = timed("FAISS IVF", lambda: ann.ivf_index(items, nlist, seed=seed))
    for p in (8, 16, 32, 64, 128, 256):
        family[("FAISS IVF", f"nlist={nlist} nprobe={p}")] = ("FAISS IVF", p)
        searches[("FAISS IVF", f"nlist={nlist} nprobe={p}")] = ann.search_fn(ivf, nprobe=p)
    ivf_lsh = timed("FAISS IVF on Simple-LSH vectors",
                    lambda: ann.ivf_index(simple_lsh_items(items_t), nlist, seed=seed))
    for p in (8, 16, 24, 32, 48, 64, 96, 128, 192):
        family[("FAISS IVF on Simple-LSH vectors", f"nlist={nlist} nprobe={p}")] = ("FAISS IVF on Simple-LSH vectors", p)
        searches[("FAISS IVF on Simple-LSH vectors", f"nlist={nlist} nprobe={p}")] = _zero_padded(ann.search_fn(ivf_lsh, nprobe=p))
    hnsw = timed("FAISS HNSW (IP)", lambda: ann.hnsw_index(items, M=32, ef_construction=80))
    for e in (16, 64, 256):
        family[("FAISS HNSW (IP)", f"M=32 efSearch={e}")] = ("FAISS HNSW (IP)", e)
        searches[("FAISS HNSW (IP)", f"M=32 efSearch={e}")] = ann.search_fn(hnsw, ef_search=e)
    sphere = timed("FAISS HNSW (L2) on Simple-LSH vectors",
                   lambda: ann.hnsw_index(simple_lsh_items(items_t), M=16, ef_construction=40, metric="l2"))
    for e in (16, 64, 256, 512):
        family[("FAISS HNSW (L2) on Simple-LSH vectors", f"M=16 efSearch={e}")] = ("FAISS HNSW (L2) on Simple-LSH vectors", e)
        searches[("FAISS HNSW (L2) on Simple-LSH vectors", f"M=16 efSearch={e}")] = _sphere_search(sphere, e)
    for bits, tables in ((8, 1), (8, 4)):
        key = ("Simple-LSH + hyperplanes", f"{bits} bits x {tables} table(s), probe r=1")
        lsh = timed(f"{key[0]} [{key[1]}]", lambda: HyperplaneLSH(items, n_bits=bits, n_tables=tables, probe_radius=1,
                                                                  seed=seed))
        searches[key] = lsh.search

    # The rule, applied before any clock runs: per family the smallest knob with tuning recall >= 0.96.
    chosen: dict[str, str] = {}
    for key in sorted(family, key=lambda key: family[key]):
        fam, _ = family[key]
        if fam not in chosen and ann.recall_at_k(searches[key](tune_q, K)[1], tune_ex, K) >= TUNING_RECALL:
            chosen[fam] = key[1]

    all_runs: list[list[Row]] = []
    ratios: list[dict] = []
    for _ in range(runs):
        single = ann.measure_side_by_side(searches, rep_q[:n_single], rep_ex[:n_single], K, mode="single", rounds=rounds)
        batch = ann.measure_side_by_side(searches, rep_q, rep_ex, K, mode="batch", batch=1000, rounds=max(1, rounds - 2))
        all_runs.append([Row(m, p, len(items), build.get(f"{m} [{p}]", build.get(m, 0.0)),
                             batch[(m, p)]["recall"], single[(m, p)]["qps"], batch[(m, p)]["qps"]) for m, p in searches])
        run_ratio = {}
        for mode, measured in (("single", single), ("batch-1000", batch)):
            base = np.max([measured[key]["qps_rounds"] for key in searches if key[0] in EXACT], axis=0)
            for fam, params in chosen.items():
                m = measured[(fam, params)]
                run_ratio[(mode, fam)] = (m["recall"], float(np.median(m["qps_rounds"] / base)))
        ratios.append(run_ratio)

    info = {"train_s": train_s, "n_queries": len(queries), "model": ann.top_k_diversity(exact),
            "truth": ann.top_k_diversity(truth),
            "truth_overlap": ann.recall_at_k(exact, truth, K),  # share of the simulator's top-10 in the model's
            "item_norm_q": np.quantile(np.linalg.norm(items, axis=1), [0.5, 0.99, 1.0]),
            "query_norm_med": float(np.median(np.linalg.norm(queries, axis=1))), "ratios": ratios,
            "loss_end": float(np.mean(trained.losses[-100:]))}
    return all_runs, chosen, info


def table(rows: list[Row], threads: int) -> str:
    lines = [f"| method | operating point | n_items | recall@10 vs exact | QPS single ({threads} thr) | "
             f"QPS batch-1000 ({threads} thr) | x brute single | x brute batch | build s |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        bf = next(b for b in rows if b.n_items == r.n_items and b.method == EXACT[0])
        lines.append(f"| {r.method} | {r.params} | {r.n_items:,} | {r.recall:.3f} | {r.qps_single:,.0f} | "
                     f"{r.qps_batch:,.0f} | {r.qps_single / bf.qps_single:.1f} | {r.qps_batch / bf.qps_batch:.1f} | "
                     f"{r.build_s:.1f} |")
    return "\n".join(lines)


def headline(n: int, chosen: dict[str, str], ratios: list[dict]) -> list[str]:
    out = [] if chosen else [f"- {n:,} items: no operating point of any grid reached recall@10 >= {TUNING_RECALL} on the "
                             "tuning users"]
    for mode in ("single", "batch-1000"):
        for fam, params in chosen.items():
            runs = [r[(mode, fam)] for r in ratios]
            held = sum(rec >= TARGET_RECALL and x >= TARGET_SPEEDUP for rec, x in runs)
            out.append(f"- {n:,} items, {mode}, {fam} [{params}]: held in {held} of {len(runs)} runs; recall "
                       f"{', '.join(f'{rec:.3f}' for rec, _ in runs)}; speed-up vs the faster exact method "
                       f"{', '.join(f'{x:.1f}x' for _, x in runs)}")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--steps", type=int, default=3000, help="training steps per retriever")
    parser.add_argument("--threads", type=int, default=1, help="threads for search (FAISS and torch)")
    parser.add_argument("--single", type=int, default=300, help="reported queries timed one per call")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved timing rounds (batch: 2 fewer, at least 1)")
    parser.add_argument("--runs", type=int, default=5, help="timed measurements of the same model, to count the headline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save-models", type=Path, help="folder for retriever_<n_items>.pt (for python -m solutions.infer)")
    args = parser.parse_args(argv)

    start, load_start = time.perf_counter(), os.getloadavg()[0]
    last: list[Row] = []
    notes, heads = [], []
    for n in args.sizes:
        runs, chosen, info = bench_size(n, args.steps, args.threads, args.single, args.rounds, args.runs, args.seed,
                                        args.save_models)
        last += runs[-1]
        q, m, t = info["item_norm_q"], info["model"], info["truth"]
        notes.append(f"- {n:,} items: trained {args.steps} steps in {info['train_s']:.0f} s (sampled loss of the last 100 "
                     f"steps {info['loss_end']:.2f}); {info['n_queries']} test-user queries; item [b,w] norm median "
                     f"{q[0]:.2f}, p99 {q[1]:.2f}, max {q[2]:.2f}; query [1,u] norm median {info['query_norm_med']:.2f}; "
                     f"exact top-10 lists: {m['distinct']:,} distinct items, the most common in {m['top_share']:.0%} of "
                     f"them, mean pairwise Jaccard {m['jaccard']:.3f} (the simulator's own vectors: {t['distinct']:,}, "
                     f"{t['top_share']:.0%}, {t['jaccard']:.3f}); model top-10 shares {info['truth_overlap']:.0%} with "
                     f"the simulator's top-10")
        heads += headline(n, chosen, info["ratios"])
        heads.append(f"  (operating points chosen on 1,000 tuning users, recall@10 >= {TUNING_RECALL}: {chosen})")
    print(f"\nServing benchmark: k={K}, FAISS {ann.faiss.__version__}, torch {torch.__version__}, "
          f"{args.threads} thread(s) for search (faiss.omp_set_num_threads and torch.set_num_threads), "
          f"{os.cpu_count()} cores visible, load average {load_start:.1f} at start and {os.getloadavg()[0]:.1f} at end; "
          f"single = {args.single} queries one per call, batch = 1,000 queries per call, side by side in "
          f"{args.rounds} (single) / {max(1, args.rounds - 2)} (batch) interleaved rounds, median; recall@10 over the "
          f"1,000 reported queries.  Table: the last of {args.runs} runs.\n")
    print(table(last, args.threads))
    print("\nModels and queries:")
    print("\n".join(notes))
    print(f"\nrecall@10 >= {TARGET_RECALL} and a median >= {TARGET_SPEEDUP:.0f}x the faster exact method's QPS, "
          f"per run, for the points chosen on the tuning users:")
    print("\n".join(heads))
    # Wall time depends on the neighbours; CPU time of this process is what the run itself costs.
    print(f"\ntotal {time.perf_counter() - start:.0f} s wall, {time.process_time():.0f} s CPU")


if __name__ == "__main__":
    main()
