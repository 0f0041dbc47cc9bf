"""Splitting interactions by time, the way the paper evaluates (predict the future).

:func:`time_split` trains on everything before a cut time and asks, for each user, for
their first interaction after the cut, given only their history before it.
:func:`leaky_holdout` is the tempting alternative the paper warns against (a random
held-out item whose "context" includes later watches); it exists only so the course can
show the leak.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass
class TimeSplit:
    """``train``: every interaction with ``timestamp < cut_time``.
    ``test``: for each user with at least ``min_history`` train interactions, their first
    interaction at or after ``cut_time`` (one row per user, same columns)."""

    train: pd.DataFrame
    test: pd.DataFrame
    cut_time: int


def time_split(
    interactions: pd.DataFrame,
    cut_time: int | None = None,
    *,
    quantile: float = 0.9,
    min_history: int = 1,
) -> TimeSplit:
    """Split at ``cut_time`` (default: the ``quantile`` of all timestamps)."""
    ts = interactions["timestamp"].to_numpy()
    if cut_time is None:
        cut_time = int(np.quantile(ts, quantile))
    cut_time = int(cut_time)
    train = interactions[ts < cut_time]
    after = interactions[ts >= cut_time].sort_values(["user_id", "timestamp"], kind="stable")
    first_after = after.drop_duplicates("user_id", keep="first")
    n_hist = train["user_id"].value_counts()
    keep = first_after["user_id"].map(n_hist).fillna(0).to_numpy() >= max(min_history, 1)
    test = first_after[keep].reset_index(drop=True)
    return TimeSplit(train=train.reset_index(drop=True), test=test, cut_time=cut_time)


def leaky_holdout(interactions: pd.DataFrame, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """For contrast only: hold out one random interaction per user (users with >= 2).

    Returns ``(context, heldout)``: ``context`` is every other interaction, *including ones
    after the held-out item*, which is exactly the future leak the paper avoids.
    """
    rng = np.random.default_rng(seed)
    df = interactions.reset_index(drop=True)
    key = rng.random(len(df))
    order = np.lexsort((key, df["user_id"].to_numpy()))
    users = df["user_id"].to_numpy()[order]
    first = np.r_[True, users[1:] != users[:-1]]
    counts = np.diff(np.r_[np.flatnonzero(first), len(users)])
    eligible = np.repeat(counts >= 2, counts)
    held = np.zeros(len(df), dtype=bool)
    held[order[first & eligible]] = True
    return df[~held].reset_index(drop=True), df[held].reset_index(drop=True)
