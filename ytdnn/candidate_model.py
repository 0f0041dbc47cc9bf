"""A small configurable candidate-generation model (paper Figure 3) for experiments on features and depth.

``CandidateModel`` embeds the watch history (``encoder``: ``"mean"`` as in the paper, ``"max"``
pooling, or ``"lstm"`` followed by max-pooling over time as in seed 004), optionally the search
tokens (mean), categorical user features (one embedding each) and dense features (e.g. example age),
concatenates them, runs a ReLU tower of ``n_layers`` layers and scores every video with a dot product
(plus a bias): logits ``(batch, n_items)``. Training uses the FULL softmax (``F.cross_entropy``):
the catalogues of this course are small enough, and it keeps these experiments apart from sampled
softmax.

Histories travel *ragged* (all ids of a batch in one flat tensor plus offsets, as
``nn.EmbeddingBag`` takes them); only the LSTM needs them padded to a rectangle.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .examples import Examples, _pad_ragged
from .metrics import recall_at_k

ENCODERS = ("mean", "max", "lstm")


def _ragged(flat: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (total,), offsets (batch,)) of the slices ``flat[start[j]:end[j]]``."""
    lengths = end - start
    offsets = np.r_[0, np.cumsum(lengths)[:-1]].astype(np.int64)
    pos = np.arange(int(lengths.sum())) - np.repeat(offsets, lengths) + np.repeat(start, lengths)
    return torch.from_numpy(flat[pos].astype(np.int64)), torch.from_numpy(offsets)


def make_batch(ex: Examples, index: np.ndarray, dense: torch.Tensor | None = None, lstm: bool = False) -> dict[str, torch.Tensor]:
    """Inputs of ``CandidateModel`` for examples ``index``: ``history`` (total,) + ``history_offsets``
    (batch,); ``padded`` (batch, max_len) and ``length`` (batch,) when ``lstm``; ``search`` +
    ``search_offsets`` when ``ex.search`` is set; each ``ex.features`` column (batch,); ``dense``
    rows (batch, n_dense); ``label`` (batch,)."""
    index = np.asarray(index)
    out: dict[str, torch.Tensor] = {}
    out["history"], out["history_offsets"] = _ragged(ex.items, ex.hist_start[index], ex.hist_end[index])
    if lstm:
        length = ex.hist_end[index] - ex.hist_start[index]
        out["padded"] = torch.from_numpy(_pad_ragged(ex.items, ex.hist_start[index], ex.hist_end[index], max(int(length.max()), 1)))
        out["length"] = torch.from_numpy(length.astype(np.int64))
    if ex.search is not None:
        s = ex.search
        out["search"], out["search_offsets"] = _ragged(s.tokens, s.start[index], s.end[index])
    for name, values in ex.features.items():
        out[name] = torch.from_numpy(values[index])
    if dense is not None:
        out["dense"] = dense[torch.from_numpy(index)]
    out["label"] = torch.from_numpy(ex.label[index])
    return out


class CandidateModel(nn.Module):
    """Candidate generation with configurable inputs and depth.

    n_items: rows of the video vocabulary (softmax classes); dim: embedding size of videos and tokens;
    encoder: ``"mean"`` | ``"max"`` | ``"lstm"`` (LSTM with ``dim`` units, max-pooled over time);
    n_tokens: search-token vocabulary size (0: no search input); categorical: {feature name: vocab
    size} (embedded with ``dim // 2`` each); n_dense: dense features per example; n_layers: ReLU
    layers of the tower (0: one linear map, the paper's "depth 0"), widths ``width * 2**(n-1)`` ...
    ``width``; the user vector has ``width`` entries.
    """

    def __init__(self, n_items: int, *, dim: int = 32, encoder: str = "mean", n_tokens: int = 0,
                 categorical: dict[str, int] | None = None, n_dense: int = 0, n_layers: int = 1,
                 width: int = 64, seed: int = 0) -> None:
        super().__init__()
        if encoder not in ENCODERS:
            raise ValueError(f"encoder must be one of {ENCODERS}, got {encoder!r}")
        if n_layers < 0:
            raise ValueError("n_layers must be >= 0")
        torch.manual_seed(seed)
        self.encoder = encoder
        if encoder == "lstm":
            self.watch = nn.Embedding(n_items, dim, padding_idx=0)
            self.lstm = nn.LSTM(dim, dim, batch_first=True)
        else:
            self.watch = nn.EmbeddingBag(n_items, dim, mode=encoder)
        self.search = nn.EmbeddingBag(n_tokens, dim, mode="mean") if n_tokens else None
        self.categorical = nn.ModuleDict({k: nn.Embedding(v, max(dim // 2, 1)) for k, v in (categorical or {}).items()})
        self.n_dense = n_dense
        in_dim = dim * (2 if n_tokens else 1) + max(dim // 2, 1) * len(self.categorical) + n_dense
        blocks: list[nn.Module] = []
        if n_layers == 0:
            blocks.append(nn.Linear(in_dim, width))
        for i in range(n_layers):
            out_dim = width * 2 ** (n_layers - 1 - i)
            blocks += [nn.Linear(in_dim, out_dim), nn.ReLU()]
            in_dim = out_dim
        self.tower = nn.Sequential(*blocks)
        self.videos = nn.Linear(width, n_items)  # rows of the weight: the video vectors v_j

    def encode_history(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(batch, dim) summary of the watch history."""
        if self.encoder != "lstm":
            return self.watch(batch["history"], batch["history_offsets"])
        out, _ = self.lstm(self.watch(batch["padded"]))  # (batch, max_len, dim); causal, so padding at the end is harmless
        valid = torch.arange(out.shape[1])[None, :] < batch["length"][:, None]
        return out.masked_fill(~valid[:, :, None], float("-inf")).max(dim=1).values

    def user_vector(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(batch, width): the user vector u."""
        parts = [self.encode_history(batch)]
        if self.search is not None:
            parts.append(self.search(batch["search"], batch["search_offsets"]))  # no search yet -> zeros
        parts += [emb(batch[name]) for name, emb in self.categorical.items()]
        if self.n_dense:
            parts.append(batch["dense"])
        return self.tower(torch.cat(parts, dim=1))

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """(batch, n_items) logits; softmax them for probabilities."""
        return self.videos(self.user_vector(batch))


def train_full_softmax(model: CandidateModel, ex: Examples, *, dense: torch.Tensor | None = None, epochs: int = 3,
                       batch_size: int = 512, lr: float = 1e-2, seed: int = 0) -> list[float]:
    """Adam on the full-softmax cross-entropy of the true label; returns the mean loss of each epoch."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    lstm = model.encoder == "lstm"
    losses = []
    model.train()
    for _ in range(epochs):
        order, total = rng.permutation(len(ex)), 0.0
        for lo in range(0, len(order), batch_size):
            batch = make_batch(ex, order[lo:lo + batch_size], dense, lstm)
            loss = F.cross_entropy(model(batch), batch["label"])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(batch["label"])
        losses.append(total / max(len(ex), 1))
    return losses


@torch.no_grad()
def predict(model: CandidateModel, ex: Examples, *, dense: torch.Tensor | None = None, index: np.ndarray | None = None,
            batch_size: int = 2048) -> torch.Tensor:
    """(n, n_items) softmax probabilities for examples ``index`` (default: all)."""
    model.eval()
    index = np.arange(len(ex)) if index is None else np.asarray(index)
    lstm = model.encoder == "lstm"
    chunks = [torch.softmax(model(make_batch(ex, index[lo:lo + batch_size], dense, lstm)), dim=1)
              for lo in range(0, len(index), batch_size)]
    return torch.cat(chunks) if chunks else torch.zeros(0, model.videos.out_features)


def recall(model: CandidateModel, ex: Examples, k: int = 50, *, dense: torch.Tensor | None = None,
           index: np.ndarray | None = None) -> float:
    """Share of examples whose label is among the model's top ``k`` videos (PAD and OOV never recommended)."""
    scores = predict(model, ex, dense=dense, index=index)
    scores[:, :2] = -1.0  # ids 0 (PAD) and 1 (OOV) are not videos one can recommend
    labels = torch.from_numpy(ex.label if index is None else ex.label[np.asarray(index)])
    return recall_at_k(scores, labels, k=k)
