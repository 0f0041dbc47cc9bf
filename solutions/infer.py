"""Offline inference for candidate generation, as a production batch job would run it (seed 004).

Two steps, each a command:

    python -m solutions.infer export --out DIR [--model retriever.pt | --videos 10000 --steps 300 ...]
    python -m solutions.infer search --vectors DIR --index hnsw --k 10 [--out topk.csv]

``export`` takes a trained retriever (``--model``: a file written by
``solutions.serving.save_retriever``, e.g. by ``benchmarks/serving.py --save-models DIR``;
without it, one is trained here with the given simulator size, steps and seed, and saved to
``DIR/model.pt``) and writes, for the test users at the training cut:

* ``user_vectors.npy`` (B, d+1) float32, rows ``[1, u]`` (``u`` = last ReLU layer);
* ``item_vectors.npy`` (V, d+1) float32, rows ``[b, w]`` (softmax bias and weight row), so
  ``user_vectors @ item_vectors.T`` are the softmax logits;
* ``user_ids.npy`` (B,) and ``item_ids.npy`` (V,) int64: the raw ids of those rows;
* ``meta.json``: shapes and the retriever's config.

``search`` loads them, builds an index over the items (``brute`` torch matmul + topk,
``exact`` FAISS flat, ``ivf`` or ``hnsw`` FAISS inner-product), and writes CSV
``user_id,rank,item_id,score`` (rank 1 = best) to ``--out`` or standard output.  Already
watched videos are not removed here (an index has no per-user mask; a real job fetches a
few more than K and filters).

Both print one JSON line on success (``search`` only when writing to ``--out``); bad input
(a missing folder or file, arrays of the wrong shape, k out of range) prints one line on
standard error and exits with status 2.
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

FILES = ("user_vectors.npy", "item_vectors.npy", "user_ids.npy", "item_ids.npy")
INDEXES = ("brute", "exact", "ivf", "hnsw")


class InferError(Exception):
    """Bad input; ``str(err)`` is one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # usage errors keep the one-line contract too
        raise InferError(f"usage: {message} (see python -m solutions.infer --help)")


def export(out: Path, model: Path | None, *, videos: int, users: int, watches: int, steps: int, seed: int,
           max_users: int | None) -> dict:
    """Write the vectors and id maps of a retriever to ``out``; returns the summary."""
    from .serving import RetrieverConfig, load_retriever, save_retriever, train_retriever

    if model is not None:
        if not model.is_file():
            raise InferError(f"{model}: no such model file")
        try:
            trained = load_retriever(model)
        except Exception as err:  # a truncated or foreign file: say which, in one line
            raise InferError(f"{model}: not a retriever saved by solutions.serving.save_retriever ({type(err).__name__})")
    else:
        trained = train_retriever(RetrieverConfig(n_videos=videos, n_users=users, n_watches=watches, steps=steps, seed=seed))
    queries, user_ids, _ = trained.query_vectors(max_users=max_users)
    items, item_ids = trained.item_vectors()
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "user_vectors.npy", queries.numpy().astype(np.float32))
    np.save(out / "item_vectors.npy", items.numpy().astype(np.float32))
    np.save(out / "user_ids.npy", user_ids.astype(np.int64))
    np.save(out / "item_ids.npy", item_ids.astype(np.int64))
    if model is None:
        save_retriever(out / "model.pt", trained)
    meta = {"users": int(queries.shape[0]), "items": int(items.shape[0]), "dim": int(items.shape[1]),
            "config": asdict(trained.config), "out": str(out)}
    (out / "meta.json").write_text(json.dumps(meta, indent=1))
    return meta


def load_vectors(folder: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(user_vectors (B, D), item_vectors (V, D), user_ids (B,), item_ids (V,)), checked."""
    if not folder.is_dir():
        raise InferError(f"{folder}: no such folder (run python -m solutions.infer export --out {folder} first)")
    arrays = []
    for name in FILES:
        path = folder / name
        if not path.is_file():
            raise InferError(f"{path}: missing")
        try:
            arrays.append(np.load(path, allow_pickle=False))
        except Exception as err:
            raise InferError(f"{path}: unreadable .npy file ({type(err).__name__})")
    users, items, user_ids, item_ids = arrays
    if users.ndim != 2 or items.ndim != 2:
        raise InferError(f"{folder}: vectors must be 2-D, got user_vectors {users.shape} and item_vectors {items.shape}")
    if users.shape[1] != items.shape[1]:
        raise InferError(f"{folder}: shape mismatch: user_vectors {users.shape} vs item_vectors {items.shape} "
                         f"(both need d+1 columns)")
    if user_ids.shape != (len(users),) or item_ids.shape != (len(items),):
        raise InferError(f"{folder}: id maps do not match the vectors: user_ids {user_ids.shape} for {len(users)} users, "
                         f"item_ids {item_ids.shape} for {len(items)} items")
    if not (np.isfinite(users).all() and np.isfinite(items).all()):
        raise InferError(f"{folder}: vectors contain NaN or infinity")
    return users.astype(np.float32), items.astype(np.float32), user_ids, item_ids


def search(folder: Path, index: str, k: int, *, nprobe: int, ef_search: int, threads: int,
           batch: int = 1000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-``k`` per user: (user_ids (B,), item_ids (B, k) raw ids, scores (B, k))."""
    from ytdnn import ann

    users, items, user_ids, item_ids = load_vectors(folder)
    if not 1 <= k <= len(items):
        raise InferError(f"--k must be between 1 and the number of items ({len(items)}), got {k}")
    ann.set_threads(threads)
    if index == "brute":
        from .serving import brute_force_topk

        items_t = torch.from_numpy(items)
        fn = lambda q, kk: tuple(t.numpy() for t in brute_force_topk(torch.from_numpy(q), items_t, kk))  # noqa: E731
    elif index == "exact":
        fn = ann.search_fn(ann.exact_index(items))
    elif index == "ivf":
        fn = ann.search_fn(ann.ivf_index(items, nprobe=nprobe))
    else:
        fn = ann.search_fn(ann.hnsw_index(items, ef_search=max(ef_search, k)))
    scores, rows = [], []
    for i in range(0, len(users), batch):  # bounded memory whatever the number of users
        s, r = fn(users[i:i + batch], k)
        scores.append(np.asarray(s)), rows.append(np.asarray(r))
    scores_a = np.concatenate(scores) if scores else np.zeros((0, k), np.float32)
    rows_a = np.concatenate(rows) if rows else np.zeros((0, k), np.int64)
    # -1 means "the index found fewer than k": keep it as -1 rather than wrap to the last id.
    raw = np.where(rows_a >= 0, item_ids[np.clip(rows_a, 0, None)], -1)
    return user_ids, raw, scores_a


def write_csv(stream, user_ids: np.ndarray, item_ids: np.ndarray, scores: np.ndarray) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(["user_id", "rank", "item_id", "score"])
    for u, ids, sc in zip(user_ids.tolist(), item_ids.tolist(), scores.tolist()):
        for rank, (i, s) in enumerate(zip(ids, sc), start=1):
            if i >= 0:
                writer.writerow([u, rank, i, f"{s:.6g}"])


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m solutions.infer", description="Export retriever vectors; search them offline.")
    sub = parser.add_subparsers(dest="command", required=True)
    ex = sub.add_parser("export", help="write user/item vectors and id maps of a trained retriever")
    ex.add_argument("--out", type=Path, required=True, help="folder to write")
    ex.add_argument("--model", type=Path, help="retriever .pt from solutions.serving.save_retriever (default: train one)")
    ex.add_argument("--videos", type=int, default=10_000, help="simulator videos when training here")
    ex.add_argument("--users", type=int, default=10_000)
    ex.add_argument("--watches", type=int, default=500_000)
    ex.add_argument("--steps", type=int, default=300)
    ex.add_argument("--seed", type=int, default=0)
    ex.add_argument("--max-users", type=int, help="export at most this many users")
    se = sub.add_parser("search", help="top-K items per user from exported vectors")
    se.add_argument("--vectors", type=Path, required=True, help="folder written by export")
    se.add_argument("--index", choices=INDEXES, default="hnsw")
    se.add_argument("--k", type=int, default=10)
    se.add_argument("--nprobe", type=int, default=16, help="ivf: cells visited per query")
    se.add_argument("--ef-search", type=int, default=64, help="hnsw: search beam")
    se.add_argument("--threads", type=int, default=1)
    se.add_argument("--out", type=Path, help="CSV file to write (default: standard output)")
    try:
        args = parser.parse_args(argv)
        if args.command == "export":
            meta = export(args.out, args.model, videos=args.videos, users=args.users, watches=args.watches,
                          steps=args.steps, seed=args.seed, max_users=args.max_users)
            print(json.dumps({k: v for k, v in meta.items() if k != "config"}))
        else:
            user_ids, item_ids, scores = search(args.vectors, args.index, args.k, nprobe=args.nprobe,
                                                ef_search=args.ef_search, threads=args.threads)
            if args.out is None:
                write_csv(sys.stdout, user_ids, item_ids, scores)
            else:
                if not args.out.parent.is_dir():
                    raise InferError(f"{args.out.parent}: no such folder for --out")
                with open(args.out, "w", newline="") as f:
                    write_csv(f, user_ids, item_ids, scores)
                print(json.dumps({"users": len(user_ids), "k": args.k, "index": args.index, "out": str(args.out)}))
    except InferError as err:
        print(str(err), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
