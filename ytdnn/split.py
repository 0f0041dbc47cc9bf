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


@dataclass
class LeaveLastOutSplit:
    """Per-user leave-last-one-out split (the retrieval benchmark's protocol).

    ``train``: every interaction but each user's last two, in (user, time) order.
    ``val`` / ``test``: one row per user (same columns), the user's second-to-last / last
    interaction.  Only users with at least ``min_train + 2`` interactions appear in
    ``val`` and ``test``; the interactions of the others all stay in ``train``.
    """

    train: pd.DataFrame
    val: pd.DataFrame
    test: pd.DataFrame

    @property
    def cut_time(self) -> int:
        """End of the training window: one second after the latest ``train`` interaction, so
        ``train`` is before it as in :class:`TimeSplit` (pass it as ``window_end``).  Unlike a
        time split, a user's ``val``/``test`` rows may be earlier: each user is held out at
        their own time."""
        return int(self.train["timestamp"].max()) + 1 if len(self.train) else 0

    def holdout_table(self) -> pd.DataFrame:
        """``user, val_item, test_item, n_train`` (raw ids), one row per evaluated user,
        sorted by user: the format of ``../shared/benchmarks/*_holdout.csv``."""
        n_train = self.train["user_id"].value_counts()
        out = pd.DataFrame(
            {
                "user": self.test["user_id"].to_numpy(),
                "val_item": self.val["item_id"].to_numpy(),
                "test_item": self.test["item_id"].to_numpy(),
            }
        )
        out["n_train"] = out["user"].map(n_train).fillna(0).to_numpy(dtype=np.int64)
        return out.sort_values("user", kind="stable").reset_index(drop=True)


def leave_last_out_split(interactions: pd.DataFrame, *, min_train: int = 1) -> LeaveLastOutSplit:
    """Sort each user's interactions by timestamp with a *stable* sort (rows with equal
    timestamps keep their order in ``interactions``); the last one is the test target, the
    one before it the validation target, the rest training history.

    Stability matters: MovieLens logs many ratings in the same second, and any other tie
    order would pick different targets than the reference split.
    """
    df = interactions.reset_index(drop=True)
    user = df["user_id"].to_numpy()
    order = np.lexsort((df["timestamp"].to_numpy(), user))  # lexsort is stable
    df = df.iloc[order].reset_index(drop=True)
    user = user[order]
    # Position counted from each user's end: 0 = last interaction, 1 = the one before.
    n = len(df)
    last_of_user = np.r_[user[1:] != user[:-1], True] if n else np.zeros(0, bool)
    run_end = np.minimum.accumulate(np.where(last_of_user, np.arange(n), n)[::-1])[::-1]
    from_end = run_end - np.arange(n)
    counts = df["user_id"].map(df["user_id"].value_counts()).to_numpy()
    eligible = counts >= min_train + 2
    test = df[eligible & (from_end == 0)].reset_index(drop=True)
    val = df[eligible & (from_end == 1)].reset_index(drop=True)
    train = df[~eligible | (from_end >= 2)].reset_index(drop=True)
    return LeaveLastOutSplit(train=train, val=val, test=test)
