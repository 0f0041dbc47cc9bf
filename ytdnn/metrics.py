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
