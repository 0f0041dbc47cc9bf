"""Offline metrics for next-watch prediction."""
from __future__ import annotations

import numpy as np
import torch


def recall_at_k(scores: torch.Tensor, labels: torch.Tensor, k: int = 10) -> float:
    """Share of rows whose label is among the ``k`` highest scores; scores ``(batch, n_items)``,
    labels ``(batch,)``. Ties are broken by torch.topk, so a constant scorer gets no free hits."""
    top = torch.topk(scores, k=min(k, scores.shape[1]), dim=1).indices
    return (top == labels[:, None]).any(dim=1).float().mean().item()


def popularity_scores(train_labels: np.ndarray, n_items: int) -> torch.Tensor:
    """``(n_items,)`` counts of each item among training labels: the baseline every model must beat."""
    return torch.from_numpy(np.bincount(train_labels, minlength=n_items).astype(np.float32))


def auc(scores: torch.Tensor, labels: torch.Tensor) -> float:
    """Area under the ROC curve: the chance that a random positive is scored above a random
    negative (ties count half). ``scores``, ``labels`` ``(n,)``; labels 0/1. NaN without both."""
    scores = torch.as_tensor(scores, dtype=torch.float64).reshape(-1)
    labels = torch.as_tensor(labels).reshape(-1).bool()
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    # Average ranks of tied scores, then the Mann-Whitney U statistic.
    order = torch.argsort(scores)
    sorted_scores = scores[order]
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=torch.float64)
    unique, inverse = torch.unique(sorted_scores, return_inverse=True)
    mean_rank = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, ranks[order])
    mean_rank /= torch.bincount(inverse, minlength=len(unique))
    ranks[order] = mean_rank[inverse]
    return float((ranks[labels].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))
