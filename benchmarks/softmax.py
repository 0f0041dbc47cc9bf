"""Full versus sampled softmax: seconds per epoch and peak memory at 1k, 10k and 100k videos.

    .venv/bin/python -m benchmarks.softmax            # the markdown table (a few minutes)
    .venv/bin/python -m benchmarks.softmax --quick    # 1k and 10k only

Every configuration runs in its own process, so ``ru_maxrss`` (the process's peak resident memory)
belongs to that configuration alone. The model is the notebook's: mean of the history's embeddings,
one ReLU layer, a dot product with the output item vectors plus a bias. An "epoch" is a fixed number
of training examples from the simulator (``EXAMPLES``), so the rows differ only in the catalogue size.
The sampled softmax draws ``NEGATIVES`` negatives per batch from count ** 0.75 with the logQ correction.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

SIZES = (1_000, 10_000, 100_000)
EXAMPLES = 20_480  # per epoch: 80 batches of 256
BATCH = 256
DIM = 32
NEGATIVES = 1_000


def run_one(n_videos: int, loss: str, seed: int = 0) -> dict:
    """Train one epoch; returns seconds, peak RSS (MiB) and the simulator's size."""
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    from solutions.sampled_softmax import draw_negatives, sampled_softmax_loss, sampling_log_q
    from ytdnn.batching import as_numpy_batch
    from ytdnn.examples import build_item_vocab, next_watch_examples
    from ytdnn.simulator import simulate

    torch.set_num_threads(1)
    world = simulate(n_users=4_000, n_videos=n_videos, n_watches=max(100_000, 2 * n_videos), n_slates=0, seed=seed)
    inter = world.to_dataset().interactions
    vocab = build_item_vocab(inter)
    ex = next_watch_examples(inter, vocab, max_history=30, max_examples_per_user=None)
    index = np.random.default_rng(seed).permutation(len(ex))[:EXAMPLES]
    batches = [as_numpy_batch(ex, index[i:i + BATCH]) for i in range(0, len(index), BATCH)]
    n_items = len(vocab)
    log_q = sampling_log_q(np.bincount(ex.label, minlength=n_items), 0.75)

    torch.manual_seed(seed)
    emb, layer = nn.Embedding(n_items, DIM, padding_idx=0), nn.Linear(DIM, DIM)
    out, bias = nn.Embedding(n_items, DIM), nn.Parameter(torch.zeros(n_items))
    params = [*emb.parameters(), *layer.parameters(), *out.parameters(), bias]
    opt = torch.optim.Adam(params, lr=1e-3)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for b in batches:
        h, y = torch.from_numpy(b["history"]), torch.from_numpy(b["label"])
        mask = (h != 0).float()
        u = torch.relu(layer((emb(h) * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)))
        if loss == "full":
            value = F.cross_entropy(u @ out.weight.T + bias, y)
        else:
            value = sampled_softmax_loss(u, out.weight, bias, y, draw_negatives(log_q, NEGATIVES, gen), log_q)
        opt.zero_grad()
        value.backward()
        opt.step()
    seconds = (time.perf_counter() - start) * EXAMPLES / len(index)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"n_videos": n_videos, "n_items": n_items, "loss": loss, "seconds": seconds, "peak_mib": peak,
            "examples": int(len(index))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k videos only")
    parser.add_argument("--one", nargs=2, metavar=("N_VIDEOS", "LOSS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(int(args.one[0]), args.one[1])))
        return
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    rows = []
    for n in SIZES[:2] if args.quick else SIZES:
        for loss in ("full", "sampled"):
            done = subprocess.run([sys.executable, "-m", "benchmarks.softmax", "--one", str(n), loss],
                                  capture_output=True, text=True, env=env, check=True)
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    load = os.getloadavg()[0]
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, 1 torch thread, "
          f"load average {load:.1f}; one epoch = {EXAMPLES} examples, batch {BATCH}, d = {DIM}, "
          f"{NEGATIVES} sampled negatives per batch (logQ-corrected).\n")
    print("| videos | items in vocab | full softmax s/epoch | sampled s/epoch | speed-up | full peak MiB | sampled peak MiB |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for full, samp in zip(rows[::2], rows[1::2]):
        print(f"| {full['n_videos']:,} | {full['n_items']:,} | {full['seconds']:.2f} | {samp['seconds']:.2f} | "
              f"{full['seconds'] / samp['seconds']:.1f}× | {full['peak_mib']:.0f} | {samp['peak_mib']:.0f} |")


if __name__ == "__main__":
    main()
