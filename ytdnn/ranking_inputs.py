"""Model inputs and a small trainer for the ranking notebooks (07, 08) and their evaluation.

Turns a :class:`ytdnn.ranking_data.RankingData` split into tensors: a dense block of continuous and
one-hot features (continuous ones ``log1p``-compressed and standardised with TRAINING statistics,
plus a 0/1 "missing" column where a value can be NaN), and the impression video id encoded with a
training vocabulary of clicked videos (``ytdnn.vocab``: rare and new videos share the learned OOV id).
This is a simpler normalisation than assignment 06's quantile transform; notebook 08 feeds the
quantile features itself.

The trainer takes the loss as an argument, ``loss_fn(logits, clicked, watch_time) -> scalar``, so
the same loop fits plain (click) and weighted (watch-time) logistic regression.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
import torch
import torch.nn as nn

from .vocab import Vocab

RELATIONSHIP = ("channel_watches", "days_since_channel_watch", "topic_watches", "days_since_topic_watch",
                "previous_impressions", "days_since_impression")
VIDEO = ("duration", "video_age_days")
ONE_HOT = ("topic", "device", "language")


@dataclass
class RankingInputs:
    """Tensors for one split, row-aligned with its table.

    dense: (n, d) float32; item: (n,) int64 vocabulary ids; clicked: (n,) float32 0/1;
    watch_time: (n,) float32 seconds; user_id: (n,) int64; columns: d names of ``dense``."""

    dense: torch.Tensor
    item: torch.Tensor
    clicked: torch.Tensor
    watch_time: torch.Tensor
    user_id: torch.Tensor
    columns: list[str]

    def __len__(self) -> int:
        return len(self.item)


def continuous_block(train: pd.DataFrame, test: pd.DataFrame, names) -> tuple[list, list, list[str]]:
    """Columns ``names`` of both tables as lists of (n,) arrays: log1p, standardised with the TRAINING
    mean and std (NaN filled with the training maximum, plus a 0/1 ``<name>_missing`` column when
    the training values have NaN); returns (train columns, test columns, column names)."""
    out_train, out_test, cols = [], [], []
    for name in names:
        a, b = train[name].to_numpy(float), test[name].to_numpy(float)
        fill = np.nanmax(a) if np.isfinite(a).any() else 0.0
        la, lb = np.log1p(np.nan_to_num(a, nan=fill)), np.log1p(np.nan_to_num(b, nan=fill))
        mu, sd = la.mean(), la.std() or 1.0
        out_train.append((la - mu) / sd); out_test.append((lb - mu) / sd); cols.append(name)
        if np.isnan(a).any():
            out_train.append(np.isnan(a).astype(float)); out_test.append(np.isnan(b).astype(float))
            cols.append(f"{name}_missing")
    return out_train, out_test, cols


def build_inputs(train: pd.DataFrame, test: pd.DataFrame, *, relationship: bool = True,
                 item_top_n: int = 1000, continuous: Callable | None = None) -> tuple[RankingInputs, RankingInputs, Vocab]:
    """Inputs for a train and a test ranking table (``RankingData.table``); statistics and the
    video vocabulary (top ``item_top_n`` videos of the CLICKED training impressions) come from
    ``train`` only. ``relationship=False`` leaves out the user-video relationship features of
    paper 4.1 (and the last-search-on-topic flag), for an ablation. ``continuous(train, test, names)``
    replaces :func:`continuous_block` (same signature and return), e.g. with quantile features."""
    names = VIDEO + (RELATIONSHIP if relationship else ())
    a, b, cols = (continuous or continuous_block)(train, test, names)
    if relationship:
        for df, out in ((train, a), (test, b)):
            out.append((df["last_search_topic"].astype(object) == df["topic"].astype(object)).to_numpy(float))
        cols.append("search_on_topic")
    for name in ONE_HOT:
        levels = pd.Index(pd.unique(train[name].astype(object)))
        for df, out in ((train, a), (test, b)):
            codes = levels.get_indexer(df[name].astype(object))
            onehot = np.zeros((len(df), len(levels)))
            onehot[np.flatnonzero(codes >= 0), codes[codes >= 0]] = 1.0
            out.extend(onehot.T)
        cols += [f"{name}={v}" for v in levels]
    vocab = Vocab.build(train["item_id"][train["clicked"] == 1], top_n=item_top_n)

    def tensors(df: pd.DataFrame, dense: list) -> RankingInputs:
        return RankingInputs(
            dense=torch.tensor(np.stack(dense, axis=1), dtype=torch.float32),
            item=torch.from_numpy(vocab.encode(df["item_id"].to_numpy())),
            clicked=torch.tensor(df["clicked"].to_numpy(), dtype=torch.float32),
            watch_time=torch.tensor(df["watch_time"].to_numpy(), dtype=torch.float32),
            user_id=torch.tensor(df["user_id"].to_numpy(), dtype=torch.int64),
            columns=list(cols))
    return tensors(train, a), tensors(test, b), vocab


class LinearRanker(nn.Module):
    """Logistic regression: logit = dense · w + b + item_bias[item] (item_bias starts at 0).

    forward(dense (n, d), item (n,)) -> (n,) logits."""

    def __init__(self, n_dense: int, n_items: int, *, item_bias: bool = True, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.linear = nn.Linear(n_dense, 1)
        self.item_bias = nn.Embedding(n_items, 1) if item_bias else None
        if self.item_bias is not None:
            nn.init.zeros_(self.item_bias.weight)

    def forward(self, dense: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        z = self.linear(dense).squeeze(-1)
        return z + self.item_bias(item).squeeze(-1) if self.item_bias is not None else z


class MLPRanker(nn.Module):
    """A ranking tower: [dense, item embedding] -> ReLU hidden layers of ``widths`` -> one logit.

    ``widths=()`` is a linear model on the same inputs; ``item_dim=0`` leaves the video id out.
    forward(dense (n, d), item (n,)) -> (n,)."""

    def __init__(self, n_dense: int, n_items: int, widths: tuple[int, ...] = (), *, item_dim: int = 8,
                 seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.item = nn.Embedding(n_items, item_dim) if item_dim > 0 else None
        layers, width = [], n_dense + item_dim
        for w in widths:
            layers += [nn.Linear(width, w), nn.ReLU()]
            width = w
        self.tower = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, dense: torch.Tensor, item: torch.Tensor) -> torch.Tensor:
        x = torch.cat([dense, self.item(item)], dim=1) if self.item is not None else dense
        return self.tower(x).squeeze(-1)


def train_ranker(model: nn.Module, data: RankingInputs,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], *,
                 epochs: int = 8, batch_size: int = 1024, lr: float = 0.02, weight_decay: float = 0.0,
                 seed: int = 0) -> list[float]:
    """Adam on shuffled mini-batches; returns the mean loss of every epoch. The loss may be weighted
    by watch times of hundreds of seconds, so its scale is arbitrary; Adam does not mind."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    history = []
    model.train()
    for _ in range(epochs):
        perm, total = torch.randperm(len(data), generator=gen), 0.0
        for start in range(0, len(data), batch_size):
            idx = perm[start:start + batch_size]
            loss = loss_fn(model(data.dense[idx], data.item[idx]), data.clicked[idx], data.watch_time[idx])
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()}: lower lr or check the loss function")
            opt.zero_grad(); loss.backward(); opt.step()
            total += loss.item() * len(idx)
        history.append(total / len(data))
    model.eval()
    return history


@torch.no_grad()
def predict_logits(model: nn.Module, data: RankingInputs) -> torch.Tensor:
    """(n,) logits of ``model`` on every row of ``data``."""
    model.eval()
    return model(data.dense, data.item)


def fit_lbfgs(model: nn.Module, data: RankingInputs,
              loss_fn: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor], *,
              item_l2: float = 10.0, loss_scale: float = 1.0, max_iter: int = 60) -> float:
    """Full-batch L-BFGS to (near) the optimum, deterministic: for the linear models, whose loss is
    convex, the answer then depends on the loss and the data, not on mini-batch noise.

    Adds ``item_l2 * loss_scale * ||item_bias||^2 / n`` when the model has an ``item_bias`` table
    (rare videos would otherwise get extreme biases); pass ``loss_scale`` = the typical weight of a
    positive when the loss is weighted (watch time), so both losses get a comparable penalty.
    Returns the final training loss (penalty included)."""
    opt = torch.optim.LBFGS(model.parameters(), lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe")
    bias = getattr(model, "item_bias", None)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = loss_fn(model(data.dense, data.item), data.clicked, data.watch_time)
        if bias is not None:
            loss = loss + item_l2 * loss_scale * bias.weight.pow(2).sum() / len(data)
        loss.backward()
        return loss

    model.train()
    loss = opt.step(closure)
    model.eval()
    return float(loss.detach())
