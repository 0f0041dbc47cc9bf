"""Reference answers for the serving assignment (paper §3.2): instructors only.

At serving time the candidate generator is a nearest-neighbour search in the dot-product
space of the softmax: the user vector is the last ReLU layer's output ``u`` (d,), each video
``j`` has a softmax row ``w_j`` (d,) and bias ``b_j``, and its logit is ``u . w_j + b_j``.
Writing the query as ``[1, u]`` and the video as ``[b_j, w_j]`` (seed 004, PaddlePaddle)
turns that logit into a plain inner product of (d+1)-vectors, which any maximum-inner-
product index can serve.

* :func:`export_vectors`: ``[1, u]`` queries and ``[b, w]`` items;
* :func:`brute_force_topk`: exact top-K by one matrix product and ``torch.topk``, with
  already-watched videos masked out;
* :func:`simple_lsh_items` / :func:`simple_lsh_query`: the Simple-LSH transform
  (Neyshabur & Srebro 2015) that makes inner-product ranking equal cosine ranking, so a
  cosine-only index (random hyperplanes, here) can serve it;
* :func:`hyperplane_codes` and :class:`HyperplaneLSH`: random-hyperplane hashing with
  buckets per code, optional multi-probe at Hamming radius 1, and exact re-ranking of the
  candidates;
* :class:`TinyRetriever` and :func:`train_retriever`: a small candidate network
  (mean of history embeddings -> one ReLU layer -> full softmax with bias) trained for a
  few hundred steps on the simulator, so the benchmark and ``solutions.infer`` serve vectors
  with realistic norms and a real bias term.

Students write the first five as exercises; that is why they live here, not in ``ytdnn``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from ytdnn.batching import as_numpy_batch
from ytdnn.examples import Examples, evaluation_examples, next_watch_examples
from ytdnn.simulator import World, simulate
from ytdnn.split import TimeSplit, time_split
from ytdnn.vocab import FIRST_ID, PAD, Vocab

Seen = Sequence[np.ndarray | Sequence[int] | torch.Tensor] | torch.Tensor | None


# --------------------------------------------------------------------------------------
# exact serving in the softmax's dot-product space


def export_vectors(user: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Queries ``[1, u]`` (B, d+1) and items ``[b, w]`` (V, d+1) with ``queries @ items.T``
    equal to the softmax logits ``user @ weight.T + bias`` (B, V).

    ``user`` (B, d) is the last hidden layer's output, ``weight`` (V, d) and ``bias`` (V,) the
    softmax layer's parameters (``nn.Linear(d, V).weight`` / ``.bias``).
    """
    ### BEGIN SOLUTION
    if user.dim() != 2 or weight.dim() != 2 or bias.dim() != 1:
        raise ValueError(f"expected user (B, d), weight (V, d), bias (V,); got {tuple(user.shape)}, "
                         f"{tuple(weight.shape)}, {tuple(bias.shape)}")
    if user.shape[1] != weight.shape[1] or bias.shape[0] != weight.shape[0]:
        raise ValueError(f"shape mismatch: user {tuple(user.shape)}, weight {tuple(weight.shape)}, bias {tuple(bias.shape)}")
    # The constant 1 sits where the bias sits, so the bias is added by the dot product itself.
    queries = torch.cat([user.new_ones(user.shape[0], 1), user], dim=1)
    items = torch.cat([bias[:, None], weight], dim=1).to(user.dtype)
    return queries, items
    ### END SOLUTION


def seen_mask(seen: Seen, n_queries: int, n_items: int, device: torch.device | None = None) -> torch.Tensor:
    """(B, V) bool, True where query ``i`` has already watched item ``j``.

    ``seen`` is either that mask already, or one array of item indices (rows of ``items``)
    per query; ``None`` gives an all-False mask.
    """
    if seen is None:
        return torch.zeros(n_queries, n_items, dtype=torch.bool, device=device)
    if isinstance(seen, torch.Tensor) and seen.dtype == torch.bool:
        if tuple(seen.shape) != (n_queries, n_items):
            raise ValueError(f"seen mask has shape {tuple(seen.shape)}, expected {(n_queries, n_items)}")
        return seen.to(device)
    if len(seen) != n_queries:
        raise ValueError(f"seen has {len(seen)} id lists for {n_queries} queries")
    lists = [torch.as_tensor(np.asarray(s, dtype=np.int64).reshape(-1)) for s in seen]
    rows = torch.repeat_interleave(torch.arange(n_queries), torch.tensor([len(s) for s in lists], dtype=torch.long))
    cols = torch.cat(lists) if lists else torch.zeros(0, dtype=torch.long)
    if len(cols) and (int(cols.min()) < 0 or int(cols.max()) >= n_items):
        raise ValueError(f"seen ids must lie in [0, {n_items})")
    mask = torch.zeros(n_queries, n_items, dtype=torch.bool)
    mask[rows, cols] = True
    return mask.to(device)


def brute_force_topk(queries: torch.Tensor, items: torch.Tensor, k: int, seen: Seen = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact top-``k`` by inner product: ``scores`` (B, k) and item indices ``ids`` (B, k),
    best first, for ``queries`` (B, D) against ``items`` (V, D).

    Items in ``seen`` (a (B, V) bool mask or one id array per query) get score ``-inf`` so
    they are never recommended again; when a query has fewer than ``k`` unseen items the
    tail of its row holds ``-inf`` scores (their ids are meaningless).
    """
    ### BEGIN SOLUTION
    if queries.shape[1] != items.shape[1]:
        raise ValueError(f"queries have dimension {queries.shape[1]}, items {items.shape[1]}")
    if not 1 <= k <= items.shape[0]:
        raise ValueError(f"k must be in [1, {items.shape[0]}], got {k}")
    scores = queries @ items.T  # (B, V): one BLAS call is the whole "search"
    if seen is not None:
        scores = scores.masked_fill(seen_mask(seen, queries.shape[0], items.shape[0], scores.device), float("-inf"))
    top = torch.topk(scores, k, dim=1)
    return top.values, top.indices
    ### END SOLUTION


# --------------------------------------------------------------------------------------
# Simple-LSH: inner product -> cosine


def simple_lsh_items(items: torch.Tensor) -> torch.Tensor:
    """(V, D) -> (V, D+1): divide by the largest norm ``m`` (all rows now in the unit ball)
    and append ``sqrt(1 - ||x/m||^2)``, so every transformed row has norm exactly 1."""
    ### BEGIN SOLUTION
    norms = items.norm(dim=1)
    m = norms.max() if len(items) else items.new_tensor(1.0)
    scaled = items / (m if m > 0 else 1.0)
    # clamp: rounding can push the longest row a hair past norm 1, and sqrt(-eps) is nan.
    extra = (1.0 - scaled.pow(2).sum(dim=1)).clamp_min(0.0).sqrt()
    return torch.cat([scaled, extra[:, None]], dim=1)
    ### END SOLUTION


def simple_lsh_query(queries: torch.Tensor) -> torch.Tensor:
    """(B, D) -> (B, D+1): unit-normalise and append 0. Then ``q~ . x~ = q . x / (||q|| m)``,
    a per-query positive multiple of the inner product, so rankings are unchanged and, both
    sides having norm 1, equal cosine rankings."""
    ### BEGIN SOLUTION
    normed = queries / queries.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.cat([normed, normed.new_zeros(normed.shape[0], 1)], dim=1)
    ### END SOLUTION


# --------------------------------------------------------------------------------------
# random-hyperplane LSH


def hyperplane_codes(x: torch.Tensor, n_bits: int, seed: int = 0) -> torch.Tensor:
    """(N, D) -> (N, n_bits) bool: which side of ``n_bits`` random hyperplanes through the
    origin each row lies on. The planes depend only on (D, n_bits, seed), so items and
    queries hashed with the same seed share them; P(bit differs) = angle / pi."""
    gen = torch.Generator().manual_seed(seed)
    planes = torch.randn(x.shape[1], n_bits, generator=gen, dtype=torch.float64)
    return (x.double() @ planes) > 0


def _pack(codes: np.ndarray) -> np.ndarray:
    """(N, n_bits) bool -> (N,) int64 bucket keys (bit b has weight 2**b)."""
    return codes.astype(np.int64) @ (np.int64(1) << np.arange(codes.shape[1], dtype=np.int64))


class HyperplaneLSH:
    """A tiny maximum-inner-product index: Simple-LSH transform, ``n_tables`` random-hyperplane
    hash tables of ``n_bits`` each, buckets keyed by code, exact re-ranking of candidates.

    ``items`` (V, D) are the raw ``[b, w]`` vectors; ``probe_radius=1`` also visits the
    ``n_bits`` buckets whose code differs in one bit (multi-probe), trading speed for recall.
    """

    def __init__(self, items: torch.Tensor | np.ndarray, n_bits: int = 12, n_tables: int = 1,
                 probe_radius: int = 0, seed: int = 0) -> None:
        if probe_radius not in (0, 1):
            raise ValueError("probe_radius must be 0 or 1")
        items_t = torch.as_tensor(items, dtype=torch.float32)
        self.items = items_t.numpy()  # (V, D) for exact re-ranking
        self.n_bits, self.n_tables, self.probe_radius, self.seed = n_bits, n_tables, probe_radius, seed
        lsh = simple_lsh_items(items_t.double())
        self.tables: list[dict[int, np.ndarray]] = []
        for t in range(n_tables):
            keys = _pack(hyperplane_codes(lsh, n_bits, seed + t).numpy())
            order = np.argsort(keys, kind="stable")
            uniq, start = np.unique(keys[order], return_index=True)
            bounds = np.r_[start, len(order)]
            self.tables.append({int(key): order[bounds[i]:bounds[i + 1]] for i, key in enumerate(uniq)})
        self._flips = np.int64(1) << np.arange(n_bits, dtype=np.int64)

    def candidates(self, query_keys: Sequence[int]) -> np.ndarray:
        """Distinct item indices in the probed buckets; ``query_keys`` holds one key per table."""
        found = []
        for table, key in zip(self.tables, query_keys):
            probes = [key] if self.probe_radius == 0 else [key, *(key ^ self._flips).tolist()]
            found += [table[p] for p in probes if p in table]
        if not found:
            return np.zeros(0, np.int64)
        return np.unique(np.concatenate(found)) if len(found) > 1 else found[0]

    def search(self, queries: torch.Tensor | np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` per query: ``scores`` (B, k) float32 and ``ids`` (B, k) int64, best first;
        rows with fewer than ``k`` candidates are padded with score ``-inf`` and id ``-1``."""
        q = torch.as_tensor(queries, dtype=torch.float32)
        q_lsh = simple_lsh_query(q.double())
        keys = np.stack([_pack(hyperplane_codes(q_lsh, self.n_bits, self.seed + t).numpy())
                         for t in range(self.n_tables)], axis=1)  # (B, n_tables)
        q_np = q.numpy()
        scores = np.full((len(q_np), k), -np.inf, np.float32)
        ids = np.full((len(q_np), k), -1, np.int64)
        for i in range(len(q_np)):
            cand = self.candidates(keys[i].tolist())
            if not len(cand):
                continue
            # Exact re-rank with the raw inner product: the hash only chose whom to score.
            s = self.items[cand] @ q_np[i]
            top = np.argpartition(-s, k - 1)[:k] if len(s) > k else np.arange(len(s))
            top = top[np.argsort(-s[top], kind="stable")]
            scores[i, : len(top)], ids[i, : len(top)] = s[top], cand[top]
        return scores, ids


# --------------------------------------------------------------------------------------
# a small retriever to serve


class TinyRetriever(nn.Module):
    """Mean of history embeddings -> one ReLU layer -> softmax over the vocabulary.

    ``user_vector(history (B, L) LongTensor, PAD-padded)`` -> (B, hidden);
    ``forward(history)`` -> logits (B, n_items) ``= user_vector @ output_weight.T + output_bias``.

    The softmax's weight (V, hidden) and bias (V,) are stored as embedding tables with sparse
    gradients: a training step touches only the rows it sampled, so the optimiser does not
    sweep 100k rows per step (and rows no step touched keep their small initial norm instead
    of drifting under Adam's momentum).
    """

    def __init__(self, n_items: int, dim: int = 32, hidden: int = 32) -> None:
        super().__init__()
        self.embedding = nn.Embedding(n_items, dim, padding_idx=PAD, sparse=True)
        self.hidden = nn.Linear(dim, hidden)
        self.softmax_weight = nn.Embedding(n_items, hidden, sparse=True)
        self.softmax_bias = nn.Embedding(n_items, 1, sparse=True)
        # Small output init: the logits start near uniform, as a softmax layer's would.
        nn.init.normal_(self.embedding.weight, std=0.1)
        nn.init.normal_(self.softmax_weight.weight, std=0.05)
        nn.init.zeros_(self.softmax_bias.weight)
        with torch.no_grad():
            self.embedding.weight[PAD] = 0.0

    @property
    def output_weight(self) -> torch.Tensor:
        """(V, hidden) softmax weight."""
        return self.softmax_weight.weight

    @property
    def output_bias(self) -> torch.Tensor:
        """(V,) softmax bias."""
        return self.softmax_bias.weight[:, 0]

    def user_vector(self, history: torch.Tensor) -> torch.Tensor:
        mask = (history != PAD).float()
        summed = (self.embedding(history) * mask[..., None]).sum(dim=1)
        mean = summed / mask.sum(dim=1, keepdim=True).clamp_min(1.0)
        return F.relu(self.hidden(mean))

    def logits_for(self, user: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits of ``user`` (B, h) for item rows ``items`` (S,): (B, S), sparse gradients."""
        return user @ self.softmax_weight(items).T + self.softmax_bias(items)[:, 0]

    def forward(self, history: torch.Tensor) -> torch.Tensor:
        return self.user_vector(history) @ self.output_weight.T + self.output_bias


@dataclass(frozen=True)
class RetrieverConfig:
    """Simulator size and training knobs of :func:`train_retriever` (all of it is saved with the model)."""

    n_videos: int = 10_000
    n_users: int = 10_000
    n_watches: int = 500_000
    dim: int = 32
    hidden: int = 32
    steps: int = 300
    batch_size: int = 512
    lr: float = 0.01  # Adam, the dense ReLU layer
    sparse_lr: float = 0.01  # SparseAdam, the embedding and softmax tables
    negatives: int = 2048  # shared uniform negatives per step; 0 = full softmax over every video
    max_history: int = 50
    seed: int = 0


@dataclass(eq=False)
class TrainedRetriever:
    """A trained :class:`TinyRetriever` with the world, split and vocabulary behind it.

    ``vocab`` is the whole catalogue (every simulated video, even unwatched ones), so the
    softmax has ``n_videos + 2`` rows (PAD and OOV first); servable items are rows ``FIRST_ID:``.
    """

    model: TinyRetriever
    config: RetrieverConfig
    world: World
    split: TimeSplit
    vocab: Vocab
    losses: list[float]

    def item_vectors(self) -> tuple[torch.Tensor, np.ndarray]:
        """``[b, w]`` of the servable items (V, hidden+1) and their raw item ids (V,)."""
        w, b = self.model.output_weight.detach(), self.model.output_bias.detach()
        _, items = export_vectors(w.new_zeros(0, w.shape[1]), w[FIRST_ID:], b[FIRST_ID:])
        return items, np.asarray(self.vocab.values, dtype=np.int64)

    def query_vectors(self, max_users: int | None = None) -> tuple[torch.Tensor, np.ndarray, list[np.ndarray]]:
        """``[1, u]`` for test users at the cut time (B, hidden+1), their raw user ids (B,),
        and per user the item rows (indices into :meth:`item_vectors`) already watched."""
        ex = evaluation_examples(self.split, self.vocab, max_history=self.config.max_history)
        n = len(ex) if max_users is None else min(len(ex), max_users)
        hist = torch.from_numpy(as_numpy_batch(ex, np.arange(n))["history"])
        with torch.no_grad():
            user = self.model.user_vector(hist)
        queries, _ = export_vectors(user, self.model.output_weight.detach(), self.model.output_bias.detach())
        user_ids = ex.user_id[:n].astype(np.int64)
        # Everything watched before the cut, not only the last max_history the model reads.
        train = self.split.train
        rows = self.vocab.encode(train["item_id"].to_numpy()) - FIRST_ID
        by_user = pd.Series(rows).groupby(train["user_id"].to_numpy()).agg(lambda r: np.unique(r[r >= 0]))
        seen = [by_user.get(u, np.zeros(0, np.int64)) for u in user_ids]
        return queries, user_ids, seen


def make_world(cfg: RetrieverConfig) -> tuple[World, TimeSplit, Vocab]:
    """The simulated world, its time split and the catalogue vocabulary for ``cfg``."""
    world = simulate(n_users=cfg.n_users, n_videos=cfg.n_videos, n_watches=cfg.n_watches, n_slates=0, seed=cfg.seed)
    split = time_split(world.watches)
    # The whole catalogue, not only watched videos: an index must hold every servable video.
    vocab = Vocab.build(world.videos["item_id"].to_numpy())
    return world, split, vocab


def sampled_softmax_loss(model: TinyRetriever, history: torch.Tensor, label: torch.Tensor, n_negatives: int,
                         gen: torch.Generator) -> torch.Tensor:
    """Cross-entropy of each label (B,) against ``n_negatives`` videos drawn uniformly from the
    servable rows and shared by the batch (paper §3.1: importance-sampled softmax);
    ``n_negatives=0`` uses every servable row, i.e. the full softmax.

    With a uniform proposal the log-Q correction is the same constant for every logit and
    cancels, so the bias still learns log-popularity; a negative that happens to be the
    row's own label is masked out so it cannot count against itself.
    """
    user = model.user_vector(history)  # (B, h)
    n_rows = model.softmax_weight.num_embeddings
    neg = (torch.arange(FIRST_ID, n_rows) if n_negatives == 0
           else torch.randint(FIRST_ID, n_rows, (n_negatives,), generator=gen))
    pos_logit = (user * model.softmax_weight(label)).sum(dim=1) + model.softmax_bias(label)[:, 0]  # (B,)
    neg_logit = model.logits_for(user, neg)  # (B, S)
    neg_logit = neg_logit.masked_fill(neg[None, :] == label[:, None], float("-inf"))
    logits = torch.cat([pos_logit[:, None], neg_logit], dim=1)
    return F.cross_entropy(logits, torch.zeros(len(label), dtype=torch.long))


def train_retriever(cfg: RetrieverConfig = RetrieverConfig(), *, log_every: int = 0) -> TrainedRetriever:
    """Train a :class:`TinyRetriever` for ``cfg.steps`` steps on next-watch examples from the
    training window (sampled softmax, or the full one with ``cfg.negatives=0``: a full
    softmax over 100k videos costs about a second a step on two busy cores); deterministic.

    SparseAdam on the tables, Adam on the ReLU layer.  The table learning rate is kept small
    on purpose: Adam's per-coordinate normalisation moves every sampled negative row by about
    ``lr`` whatever its gradient, so a larger rate (or many more negatives) inflates every
    video's norm towards the same value and hides the popularity/norm spread a softmax learns.
    """
    world, split, vocab = make_world(cfg)
    ex = next_watch_examples(split.train, vocab, max_history=cfg.max_history, window_end=split.cut_time, seed=cfg.seed)
    torch.manual_seed(cfg.seed)
    model = TinyRetriever(len(vocab), cfg.dim, cfg.hidden)
    sparse = [model.embedding.weight, model.softmax_weight.weight, model.softmax_bias.weight]
    opts = [torch.optim.SparseAdam(sparse, lr=cfg.sparse_lr), torch.optim.Adam(model.hidden.parameters(), lr=cfg.lr)]
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    losses = []
    for step in range(cfg.steps):
        batch = as_numpy_batch(ex, rng.integers(0, len(ex), cfg.batch_size))
        history, label = torch.from_numpy(batch["history"]), torch.from_numpy(batch["label"])
        loss = sampled_softmax_loss(model, history, label, cfg.negatives, gen)
        for opt in opts:
            opt.zero_grad()
        loss.backward()
        for opt in opts:
            opt.step()
        losses.append(loss.item())
        if log_every and (step + 1) % log_every == 0:
            print(f"step {step + 1:>5}  loss {np.mean(losses[-log_every:]):.3f}", flush=True)
    model.eval()
    return TrainedRetriever(model, cfg, world, split, vocab, losses)


def save_retriever(path: str | Path, trained: TrainedRetriever) -> None:
    """``torch.save`` of ``{"config": dict, "state_dict": ...}``; the world is rebuilt from the config."""
    torch.save({"config": asdict(trained.config), "state_dict": trained.model.state_dict()}, path)


def load_retriever(path: str | Path) -> TrainedRetriever:
    """Inverse of :func:`save_retriever` (re-simulates the same world from the saved seed)."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    cfg = RetrieverConfig(**blob["config"])
    world, split, vocab = make_world(cfg)
    model = TinyRetriever(len(vocab), cfg.dim, cfg.hidden)
    model.load_state_dict(blob["state_dict"])
    model.eval()
    return TrainedRetriever(model, cfg, world, split, vocab, [])
