"""Evaluate the reference retriever against popularity and item-kNN on a leave-last-one-out split.

    python -m solutions.evaluate retrieval --dataset ml-latest-small [--root DIR] [--seeds 0 1 2]
    python -m solutions.evaluate retrieval --dataset simulator --sim-users 600   # a small world

The last line printed is JSON: ``{"dataset": ..., "models": {"youtube_dnn": {...}, "popularity":
{...}, "item_knn": {...}}}`` with Recall@10/50/100, NDCG@10 (means over seeds) and training
seconds.  Every model sees the same split, the same training-only item vocabulary and the same
masking of seen items; the retriever picks its epoch on the validation targets only, and the
test targets are scored once.  Bad input: one line on stderr, exit status 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace

import numpy as np
import torch

from solutions.retriever import Queries, _pad, RetrievalData, RetrieverConfig, score_users, train_retriever
from solutions.sampled_softmax import ndcg_at_k, recall_at_k
from ytdnn.data import DataError, load
from ytdnn.schema import Dataset
from ytdnn.split import leave_last_out_split
from ytdnn.vocab import PAD

KS = (10, 50, 100)


def metrics(scores: torch.Tensor, q: Queries) -> dict[str, float]:
    """Recall@10/50/100 and NDCG@10 of ``scores`` (n_users, n_items) for ``q``'s targets, seen items masked."""
    y, seen = torch.from_numpy(q.label), torch.from_numpy(q.seen)
    out = {f"recall@{k}": recall_at_k(scores, y, k, seen) for k in KS}
    out["ndcg@10"] = ndcg_at_k(scores, y, 10, seen)
    return out


def popularity_scores(data: RetrievalData, q: Queries) -> torch.Tensor:
    """(n_users, n_items): every user gets the training interaction counts."""
    counts = torch.from_numpy(data.vocab.frequencies().astype(np.float32))
    return counts.expand(len(q), -1)


def item_knn_scores(data: RetrievalData, q: Queries, last: int = 50, chunk: int = 512) -> torch.Tensor:
    """(n_users, n_items): sum over the user's last ``last`` items i of cosine(i, j), with cosine
    on the binary user-item training matrix X (n_train_users, n_items).

    Computed as ``H Xn^T Xn`` with Xn the column-normalised X, so the item-item matrix is
    never formed; X is sparse, H (the query users' recent items) dense in chunks.
    """
    seq_user = data.event_user
    pairs = np.unique(np.stack([seq_user, data.train.items]), axis=1)  # (2, nnz) binary X
    ones = torch.ones(pairs.shape[1])
    norm = torch.zeros(data.n_items).index_add_(0, torch.from_numpy(pairs[1]), ones).sqrt().clamp(min=1)
    vals = ones / norm[torch.from_numpy(pairs[1])]
    n_users = int(seq_user.max()) + 1 if len(seq_user) else 1
    xn = torch.sparse_coo_tensor(torch.from_numpy(pairs), vals, (n_users, data.n_items),
                                 check_invariants=False).coalesce()
    xn_t = xn.t().coalesce()
    out = []
    for i in range(0, len(q), chunk):
        idx = np.arange(i, min(i + chunk, len(q)))
        hist = torch.from_numpy(_pad(q.items, q.start[idx], q.end[idx], last))
        h = torch.zeros(len(idx), data.n_items).scatter_(1, hist, 1.0)
        h[:, PAD] = 0.0
        out.append(torch.sparse.mm(xn_t, torch.sparse.mm(xn, h.T)).T)  # (chunk, n_items)
    return torch.cat(out)


def run(ds: Dataset, seeds: list[int], cfg: RetrieverConfig = RetrieverConfig(), *, log: bool = False) -> dict:
    """Train and score every model on ``ds``; metrics are means over ``seeds``."""
    split = leave_last_out_split(ds.interactions)
    if not len(split.test):
        raise DataError(f"{ds.name}: no user has the 3 interactions a leave-last-one-out split needs")
    results: dict[str, list[dict[str, float]]] = {"youtube_dnn": [], "popularity": [], "item_knn": []}
    data, cpu, per_seed = None, [], []
    for seed in seeds:
        data = RetrievalData.build(ds, split, replace(cfg, seed=seed))
        model, info = train_retriever(data, replace(cfg, seed=seed), log=log)
        row = metrics(score_users(model, data.test, cfg.max_history), data.test)
        row["train_seconds"] = info["train_seconds"]
        cpu.append(info["train_cpu_seconds"])
        per_seed.append({"seed": seed, "recall@50": round(row["recall@50"], 4), "epochs": info["epochs"],
                         "train_seconds": round(info["train_seconds"], 1)})
        results["youtube_dnn"].append(row)
        if log:
            print(f"seed {seed}: {json.dumps(row)} best epoch {info['best_epoch']}", file=sys.stderr, flush=True)
    # The baselines are deterministic: score them once.
    t = time.perf_counter()
    pop = metrics(popularity_scores(data, data.test), data.test)
    pop["train_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    knn = metrics(item_knn_scores(data, data.test), data.test)
    knn["train_seconds"] = time.perf_counter() - t
    results["popularity"].append(pop)
    results["item_knn"].append(knn)
    models = {name: {k: round(float(np.mean([r[k] for r in rows])), 4) for k in rows[0]} for name, rows in results.items()}
    # Wall-clock seconds depend on how busy the machine is; CPU seconds (all threads) less so.
    return {"dataset": ds.name, "users": len(data.test), "items": data.n_items - 2, "seeds": seeds,
            "youtube_dnn_train_cpu_seconds": round(float(np.mean(cpu)), 1), "youtube_dnn_per_seed": per_seed,
            "models": models}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solutions.evaluate", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("retrieval", help="leave-last-one-out retrieval benchmark")
    p.add_argument("--dataset", required=True, help="simulator, ml-latest-small, ml-100k or ml-1m")
    p.add_argument("--root", default=None, help="folder holding the MovieLens files (default: ytdnn.data lookup)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sim-users", type=int, default=None, help="simulator only: a smaller world with this many users")
    p.add_argument("--max-epochs", type=int, default=None, help="cap on training epochs (default: the config's)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("-v", "--verbose", action="store_true", help="per-epoch log on stderr")
    args = parser.parse_args(argv)
    try:
        if args.threads is not None:
            if args.threads < 1:
                raise DataError(f"--threads {args.threads}: must be >= 1")
            torch.set_num_threads(args.threads)
        kwargs = {}
        if args.sim_users is not None:
            if args.sim_users < 10:
                raise DataError(f"--sim-users {args.sim_users}: need at least 10 users")
            if (args.dataset or "").strip().lower() not in ("simulator", "sim"):
                raise DataError(f"--sim-users: only for --dataset simulator, not {args.dataset}")
            # Keep the default world's proportions: 100 watches and 0.6 videos per user.
            kwargs = {"n_users": args.sim_users, "n_videos": max(args.sim_users * 3 // 5, 20),
                      "n_watches": args.sim_users * 100, "n_slates": 0}
        cfg = RetrieverConfig()
        if args.max_epochs is not None:
            if args.max_epochs < 1:
                raise DataError(f"--max-epochs {args.max_epochs}: must be >= 1")
            cfg = replace(cfg, epochs=args.max_epochs)
        ds = load(args.dataset, root=args.root, **kwargs)
        out = run(ds, args.seeds, cfg, log=args.verbose)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
