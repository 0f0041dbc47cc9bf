"""The label choice paper section 3.4 (Figure 5a) warns against, as training examples, for contrast only.

A random watch of the user is the label and the context is the user's other watches around it,
later ones included (the symmetric context of Figure 5a): :func:`ytdnn.split.leaky_holdout` run with ``n_per_user`` seeds gives ``n_per_user``
examples per user. The result is an :class:`~ytdnn.examples.Examples` like
:func:`ytdnn.examples.next_watch_examples` returns, so the same model trains on either.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .examples import DAY, Examples
from .split import leaky_holdout
from .vocab import OOV, Vocab


def heldout_examples(interactions: pd.DataFrame, vocab: Vocab, *, n_per_user: int = 20, max_history: int = 50,
                     window_end: int | None = None, seed: int = 0) -> Examples:
    """``n_per_user`` held-out examples per user (users with >= 2 watches); the history of each is up to
    ``max_history`` of the user's *other* watches around the label in time: half before it, half after
    (more on one side when the other runs out), oldest first.
    Labels outside ``vocab`` are dropped, as in training on next watches."""
    if window_end is None:
        window_end = int(interactions["timestamp"].max())
    items, hist_start, hist_end, labels, label_raw, users, times = [], [], [], [], [], [], []
    offset = 0
    for k in range(n_per_user):
        context, held = leaky_holdout(interactions, seed=seed * 1_000_003 + k)
        context = context.sort_values(["user_id", "timestamp"], kind="stable")
        c_user = context["user_id"].to_numpy(dtype=np.int64)
        held = held[vocab.encode(held["item_id"].to_numpy()) != OOV]
        h_user = held["user_id"].to_numpy(dtype=np.int64)
        c_key = np.stack([c_user, context["timestamp"].to_numpy(dtype=np.int64)])
        first = np.searchsorted(c_user, h_user, side="left")
        last = np.searchsorted(c_user, h_user, side="right")
        # Where the held-out watch would sit among the user's other watches (time order).
        h_time = held["timestamp"].to_numpy(dtype=np.int64)
        at = first + np.array([np.searchsorted(c_key[1, a:b], t, side="right") for a, b, t in zip(first, last, h_time)], dtype=np.int64)
        start = np.maximum(first, at - max_history // 2)
        end = np.minimum(last, start + max_history)
        start = np.maximum(first, end - max_history)
        items.append(vocab.encode(context["item_id"].to_numpy()))
        hist_start.append(start + offset)
        hist_end.append(end + offset)
        offset += len(context)
        labels.append(vocab.encode(held["item_id"].to_numpy()))
        label_raw.append(held["item_id"].to_numpy())
        users.append(h_user)
        times.append(held["timestamp"].to_numpy(dtype=np.int64))
    ts = np.concatenate(times)
    return Examples(
        items=np.concatenate(items), event_timestamp=np.zeros(offset, np.int64),  # not used by the models
        hist_start=np.concatenate(hist_start), hist_end=np.concatenate(hist_end),
        label=np.concatenate(labels), label_item_id=np.concatenate(label_raw), user_id=np.concatenate(users),
        timestamp=ts, example_age=((window_end - ts) / DAY).astype(np.float32), vocab=vocab,
        window_end=int(window_end), max_history=max_history,
    )
