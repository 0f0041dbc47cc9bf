"""Reference answers of assignment 06 (ranking features, paper section 4.1).

Copied verbatim into the answer cells of ``course/source/06_ranking_features/06_ranking_features.ipynb``
by ``python -m solutions.sync``; the ``### BEGIN/END SOLUTION`` markers are nbgrader's.
"""
import math

import numpy as np
import torch
import torch.nn as nn


def fit_quantiles(x_train, n_quantiles):
    """Quantile edges of a continuous feature, from the TRAINING values only.

    x_train: (N,) finite floats (N >= 1); n_quantiles: Q >= 1.
    Returns edges: (Q + 1,) float64, ``edges[k] = np.quantile(x_train, k / Q)`` (numpy's default,
    linear interpolation), so edges[0] is the minimum and edges[Q] the maximum.
    Raises ValueError on an empty or non-finite x_train or on Q < 1.
    """
    ### BEGIN SOLUTION
    x = np.asarray(x_train, dtype=np.float64)
    if x.ndim != 1 or len(x) == 0:
        raise ValueError(f"fit_quantiles: x_train must be a non-empty 1-d array, got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("fit_quantiles: x_train contains NaN or inf; handle missing values first")
    if int(n_quantiles) < 1:
        raise ValueError(f"fit_quantiles: n_quantiles must be >= 1, got {n_quantiles}")
    return np.quantile(x, np.linspace(0.0, 1.0, int(n_quantiles) + 1))
    ### END SOLUTION


def quantile_transform(x, edges):
    """Normalise x with the training quantiles: (M,) -> (M, 3) float64 [x̃, x̃², √x̃].

    x̃ is the empirical CDF interpolated linearly between the Q + 1 edges: each of the Q segments
    [edges[k-1], edges[k]] contributes 1/Q times the fraction of it that lies below x,
        x̃ = (1/Q) · Σ_k clip((x - edges[k-1]) / (edges[k] - edges[k-1]), 0, 1),
    and a segment of zero width (tied edges) contributes 1/Q when x >= its edge, else 0.
    So x below edges[0] gives 0, x at or above edges[Q] gives 1, and a tied value gets the
    top of its tie (the share of training values <= it).
    """
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=np.float64)[:, None]                # (M, 1)
    lo, hi = np.asarray(edges[:-1])[None, :], np.asarray(edges[1:])[None, :]  # (1, Q)
    width = hi - lo
    # Divide only where the segment has width; tied edges are a step at the tied value.
    filled = np.where(width > 0, np.clip((x - lo) / np.where(width > 0, width, 1.0), 0.0, 1.0),
                      (x >= hi).astype(np.float64))
    t = filled.mean(axis=1)                                     # (M,)
    return np.stack([t, t ** 2, np.sqrt(t)], axis=1)
    ### END SOLUTION


def embedding_dim(n_unique, scale=4.0, max_dim=64):
    """Embedding size for a categorical feature with ``n_unique`` values (paper 4.1: the
    dimension grows with the logarithm of the number of unique values).

    Returns ``min(max_dim, max(1, ceil(scale * log2(n_unique))))`` as a Python int;
    ``n_unique`` must be >= 1 (a one-value feature still gets 1 dimension).
    """
    ### BEGIN SOLUTION
    if int(n_unique) < 1:
        raise ValueError(f"embedding_dim: n_unique must be >= 1, got {n_unique}")
    return int(min(max_dim, max(1, math.ceil(scale * math.log2(int(n_unique))))))
    ### END SOLUTION


def top_n_vocabulary(clicked_ids, top_n):
    """The ids an embedding keeps: the ``top_n`` most frequent values of ``clicked_ids``
    (ids of CLICKED impressions), most frequent first, ties broken by the smaller id.

    clicked_ids: (N,) int; returns (min(top_n, n_distinct),) int64. Negative ids (-1 = "none")
    are never kept.
    """
    ### BEGIN SOLUTION
    ids = np.asarray(clicked_ids, dtype=np.int64)
    ids = ids[ids >= 0]
    values, counts = np.unique(ids, return_counts=True)     # values ascending
    order = np.lexsort((values, -counts))                    # count desc, then id asc
    return values[order][:int(top_n)]
    ### END SOLUTION


class ZeroOOVEmbedding(nn.Module):
    """Embedding of raw ids where an id outside ``vocabulary`` maps to a ZERO vector.

    vocabulary: (V,) distinct raw ids; ``vocabulary[r]`` owns row r of one
    ``nn.Embedding(V, dim)`` created right after ``torch.manual_seed(seed)``.
    forward(raw_ids): LongTensor of any shape (...,) -> (..., dim); ids not in the vocabulary
    (rare ids, unseen ids, -1 for "none") give zeros and no gradient to any row.
    """
    def __init__(self, vocabulary, dim, seed):
        super().__init__()
        torch.manual_seed(seed)
        ### BEGIN SOLUTION
        vocab = torch.as_tensor(np.asarray(vocabulary, dtype=np.int64))
        self.embedding = nn.Embedding(len(vocab), dim)
        # Sorted copy for a vectorised lookup: raw id -> row via searchsorted.
        sorted_ids, order = torch.sort(vocab)
        self.register_buffer("sorted_ids", sorted_ids)
        self.register_buffer("rows_of_sorted", order)
        ### END SOLUTION

    def forward(self, raw_ids):
        ### BEGIN SOLUTION
        ids = torch.as_tensor(raw_ids, dtype=torch.long).contiguous()
        pos = torch.searchsorted(self.sorted_ids, ids).clamp(max=len(self.sorted_ids) - 1)
        known = self.sorted_ids[pos] == ids
        rows = torch.where(known, self.rows_of_sorted[pos], torch.zeros_like(pos))
        return self.embedding(rows) * known.unsqueeze(-1).to(self.embedding.weight.dtype)
        ### END SOLUTION
