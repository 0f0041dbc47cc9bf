"""Retrieval quality and training time of the reference retriever vs the baselines (not a test).

    .venv/bin/python benchmarks/retrieval.py [--datasets ml-latest-small simulator] [--seeds 0 1 2]

Runs ``solutions.evaluate.run`` (leave-last-one-out split, seen items masked) with torch on 2
threads and prints a markdown table of 3-seed means.  Target on ml-latest-small: youtube_dnn
Recall@50 >= 0.25 with training under 60 s on 2 CPU cores, beating popularity and item-kNN.
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from solutions.evaluate import run  # noqa: E402
from ytdnn.data import DataError, load  # noqa: E402

TARGET_RECALL50, TARGET_SECONDS = 0.25, 60.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["ml-latest-small", "simulator"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch threads {args.threads}, {os.cpu_count()} cores visible, seeds {args.seeds}\n")
    print("| dataset | model | Recall@10 | Recall@50 | Recall@100 | NDCG@10 | training s |")
    print("|---|---|---|---|---|---|---|")
    for name in args.datasets:
        try:
            out = run(load(name), args.seeds)
        except DataError as err:
            print(f"| {name} | skipped: {err} | | | | | |")
            continue
        for model, m in out["models"].items():
            print(f"| {name} | {model} | {m['recall@10']:.3f} | {m['recall@50']:.3f} | {m['recall@100']:.3f} "
                  f"| {m['ndcg@10']:.3f} | {m['train_seconds']:.1f} |", flush=True)
        dnn = out["models"]["youtube_dnn"]
        best_base = max(out["models"][b]["recall@50"] for b in ("popularity", "item_knn"))
        notes = [f"youtube_dnn training CPU s (all threads) {out['youtube_dnn_train_cpu_seconds']:.0f}",
                 f"beats baselines: {dnn['recall@50'] > best_base}",
                 "per seed: " + ", ".join(f"{r['seed']}: Recall@50 {r['recall@50']:.3f} in {r['train_seconds']:.0f} s "
                                          f"({r['epochs']} epochs)" for r in out["youtube_dnn_per_seed"])]
        if name == "ml-latest-small":
            notes.append(f"Recall@50 >= {TARGET_RECALL50}: {dnn['recall@50'] >= TARGET_RECALL50}")
            notes.append(f"training < {TARGET_SECONDS:.0f} s: {dnn['train_seconds'] < TARGET_SECONDS}")
        print(f"| {name} | ({'; '.join(notes)}) | | | | | |", flush=True)


if __name__ == "__main__":
    main()
