"""Training examples for next-watch prediction (paper section 3.3), leak-free by construction.

Each example is (user, history, label) where the label is one of the user's watches and the
history is the user's watches *strictly earlier* than it (ties in time are excluded, never
a held-out middle item with future context), capped to the most recent ``max_history``.
Each user contributes at most ``max_examples_per_user`` examples, sampled with a seed, so
heavy users do not dominate the loss.  ``example_age`` is the time, in days, from the
label's timestamp to the end of the training window (0 at serving time).

Ids follow :mod:`ytdnn.vocab`: 0 = padding, 1 = out of vocabulary, real items from 2.

Storage is compact: all events of all users sit once in ``items`` (sorted by user, then
time) and an example only stores where its history starts and ends in that array.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .split import LeaveLastOutSplit, TimeSplit
from .vocab import OOV, PAD, Vocab

DAY = 86_400


@dataclass(eq=False)
class TokenHistory:
    """Search-token history per example: ``tokens[start[j]:end[j]]`` (oldest first)."""

    tokens: np.ndarray  # (n_tokens,) int64 ids in ``vocab``
    start: np.ndarray  # (n_examples,) int64
    end: np.ndarray  # (n_examples,) int64
    vocab: Vocab


@dataclass(eq=False)
class Examples:
    """Next-watch examples; ``n`` = number of examples.

    * ``items`` (n_events,) int64 encoded item ids of every event, sorted by (user, time);
      ``event_timestamp`` (n_events,) their timestamps
    * ``hist_start``, ``hist_end`` (n,): history of example j is
      ``items[hist_start[j]:hist_end[j]]``, oldest first, length <= ``max_history``
    * ``label`` (n,) encoded id of the watch to predict; ``label_item_id`` its raw id
    * ``user_id`` (n,) raw user ids; ``timestamp`` (n,) label times (Unix s)
    * ``example_age`` (n,) float32 days from the label time to ``window_end``
    * ``features``: extra per-example int64 arrays (n,), e.g. from :func:`add_user_features`
    * ``search``: optional :class:`TokenHistory`
    """

    items: np.ndarray
    event_timestamp: np.ndarray
    hist_start: np.ndarray
    hist_end: np.ndarray
    label: np.ndarray
    label_item_id: np.ndarray
    user_id: np.ndarray
    timestamp: np.ndarray
    example_age: np.ndarray
    vocab: Vocab
    window_end: int
    max_history: int
    features: dict[str, np.ndarray] = field(default_factory=dict)
    search: TokenHistory | None = None

    def __len__(self) -> int:
        return len(self.label)

    @property
    def history_length(self) -> np.ndarray:
        return self.hist_end - self.hist_start

    def history(self, j: int) -> np.ndarray:
        return self.items[self.hist_start[j] : self.hist_end[j]]

    def padded_history(self, max_len: int | None = None) -> np.ndarray:
        """(n, max_len) int64 histories, oldest first, right-padded with ``PAD``."""
        return _pad_ragged(self.items, self.hist_start, self.hist_end, max_len or self.max_history)

    def to_frame(self) -> pd.DataFrame:
        """One row per example (history as a list), for looking at, not for training."""
        return pd.DataFrame(
            {
                "user_id": self.user_id,
                "timestamp": self.timestamp,
                "example_age": self.example_age,
                "label": self.label,
                "label_item_id": self.label_item_id,
                "history": [self.history(j).tolist() for j in range(len(self))],
                **self.features,
            }
        )


def _pad_ragged(flat: np.ndarray, start: np.ndarray, end: np.ndarray, max_len: int) -> np.ndarray:
    lengths = np.minimum(end - start, max_len)
    out = np.full((len(start), max_len), PAD, dtype=np.int64)
    col = np.arange(max_len)
    mask = col[None, :] < lengths[:, None]
    # Keep the most recent max_len entries when a history is longer.
    src = (end - lengths)[:, None] + col[None, :]
    out[mask] = flat[src[mask]]
    return out


def _run_starts(new_run: np.ndarray) -> np.ndarray:
    """For each position, the index where its run starts (``new_run`` marks run starts)."""
    if not len(new_run):
        return np.zeros(0, np.int64)
    return np.maximum.accumulate(np.where(new_run, np.arange(len(new_run)), 0))


def _changes(*keys: np.ndarray) -> np.ndarray:
    """True where any key differs from the previous position (and at position 0)."""
    n = len(keys[0])
    new = np.zeros(n, dtype=bool)
    if n:
        new[0] = True
        for k in keys:
            new[1:] |= k[1:] != k[:-1]
    return new


def _build(
    user: np.ndarray,
    item: np.ndarray,
    ts: np.ndarray,
    is_label: np.ndarray,
    vocab: Vocab,
    *,
    max_history: int,
    max_examples_per_user: int | None,
    min_history: int,
    seed: int,
    window_end: int | None,
    drop_oov_labels: bool,
    serving: bool,
) -> Examples:
    if max_history < 1:
        raise ValueError("max_history must be >= 1")
    order = np.lexsort((ts, user))  # stable: equal times keep input order
    user, item, ts, is_label = user[order], item[order], ts[order], is_label[order]
    items = vocab.encode(item)
    user_start = _run_starts(_changes(user))
    # History ends before the first event of the same user at the *same* time, so events
    # logged in the same second never see each other.
    hist_end = _run_starts(_changes(user, ts))
    hist_start = np.maximum(user_start, hist_end - max_history)
    ok = is_label & (hist_end - hist_start >= min_history)
    if drop_oov_labels:
        ok &= items != OOV
    idx = np.flatnonzero(ok)
    if max_examples_per_user is not None:
        rng = np.random.default_rng(seed)
        key = rng.random(len(idx))
        by_user = np.lexsort((key, user[idx]))
        rank = np.arange(len(idx)) - _run_starts(_changes(user[idx][by_user]))
        idx = np.sort(idx[by_user[rank < max_examples_per_user]])
    if window_end is None:
        window_end = int(ts.max()) if len(ts) else 0
    age = np.zeros(len(idx), np.float32) if serving else ((window_end - ts[idx]) / DAY).astype(np.float32)
    return Examples(
        items=items,
        event_timestamp=ts,
        hist_start=hist_start[idx].astype(np.int64),
        hist_end=hist_end[idx].astype(np.int64),
        label=items[idx],
        label_item_id=item[idx],
        user_id=user[idx],
        timestamp=ts[idx],
        example_age=age,
        vocab=vocab,
        window_end=int(window_end),
        max_history=max_history,
    )


def _columns(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (
        df["user_id"].to_numpy(dtype=np.int64),
        df["item_id"].to_numpy(),
        df["timestamp"].to_numpy(dtype=np.int64),
    )


def build_item_vocab(interactions: pd.DataFrame, *, top_n: int | None = None, min_count: int = 1) -> Vocab:
    """Item vocabulary from (training!) interactions: top ``top_n`` items seen >= ``min_count`` times."""
    return Vocab.build(interactions["item_id"].to_numpy(), top_n=top_n, min_count=min_count)


def next_watch_examples(
    interactions: pd.DataFrame,
    vocab: Vocab,
    *,
    max_history: int = 50,
    max_examples_per_user: int | None = 20,
    min_history: int = 1,
    seed: int = 0,
    window_end: int | None = None,
    drop_oov_labels: bool = True,
    searches: pd.DataFrame | None = None,
    token_vocab: Vocab | None = None,
    max_search_tokens: int = 50,
) -> Examples:
    """Training examples: every watch with at least ``min_history`` strictly earlier watches
    is a candidate label; at most ``max_examples_per_user`` are kept per user (uniformly,
    reproducibly with ``seed``; ``None`` keeps all).

    ``window_end`` is the end of the training window (pass ``split.cut_time``; default: the
    last timestamp).  Labels outside the vocabulary are dropped unless ``drop_oov_labels``
    is False (a softmax cannot predict "some rare video").  With ``searches`` (user_id,
    timestamp, tokens) each example also gets the last ``max_search_tokens`` query tokens
    issued strictly before its label.
    """
    user, item, ts = _columns(interactions)
    ex = _build(
        user, item, ts, np.ones(len(user), dtype=bool), vocab,
        max_history=max_history, max_examples_per_user=max_examples_per_user,
        min_history=min_history, seed=seed, window_end=window_end,
        drop_oov_labels=drop_oov_labels, serving=False,
    )
    if searches is not None:
        ex.search = search_history(ex, searches, token_vocab, max_tokens=max_search_tokens)
    return ex


def evaluation_examples(
    split: TimeSplit | LeaveLastOutSplit,
    vocab: Vocab,
    *,
    max_history: int = 50,
    searches: pd.DataFrame | None = None,
    token_vocab: Vocab | None = None,
    max_search_tokens: int = 50,
) -> Examples:
    """One example per test user: label = first watch after the cut, history = watches
    before the cut (and before the label), ``example_age`` = 0 as at serving time.

    With a :func:`~ytdnn.split.leave_last_out_split` the label is each user's last watch and
    the history every earlier one (training rows and the validation watch).
    OOV labels are kept (with id ``OOV``): they count as misses, as they would in production.
    """
    if not isinstance(split, (TimeSplit, LeaveLastOutSplit)):
        raise TypeError(f"split must be a TimeSplit or a LeaveLastOutSplit, not {type(split).__name__}")
    test_users = split.test["user_id"].unique()
    before = split.train if isinstance(split, TimeSplit) else pd.concat([split.train, split.val])
    hist = before[before["user_id"].isin(test_users)]
    both = pd.concat([hist[["user_id", "item_id", "timestamp"]], split.test[["user_id", "item_id", "timestamp"]]])
    user, item, ts = _columns(both)
    is_label = np.r_[np.zeros(len(hist), bool), np.ones(len(split.test), bool)]
    ex = _build(
        user, item, ts, is_label, vocab,
        max_history=max_history, max_examples_per_user=None, min_history=1, seed=0,
        window_end=split.cut_time, drop_oov_labels=False, serving=True,
    )
    if searches is not None:
        ex.search = search_history(ex, searches[searches["timestamp"] < split.cut_time], token_vocab, max_tokens=max_search_tokens)
    return ex


def build_token_vocab(searches: pd.DataFrame, *, top_n: int | None = None, min_count: int = 1) -> Vocab:
    """Vocabulary of query tokens (``searches.tokens`` holds lists of strings)."""
    flat = np.concatenate([np.asarray(t, dtype=object) for t in searches["tokens"]]) if len(searches) else np.array([], dtype=object)
    return Vocab.build(flat, top_n=top_n, min_count=min_count)


def search_history(ex: Examples, searches: pd.DataFrame, vocab: Vocab | None = None, *, max_tokens: int = 50) -> TokenHistory:
    """The last ``max_tokens`` query tokens each example's user typed strictly before its label."""
    if vocab is None:
        vocab = build_token_vocab(searches)
    n_tok = searches["tokens"].map(len).to_numpy(dtype=np.int64)
    s_user = np.repeat(searches["user_id"].to_numpy(dtype=np.int64), n_tok)
    s_ts = np.repeat(searches["timestamp"].to_numpy(dtype=np.int64), n_tok)
    flat = np.concatenate([np.asarray(t, dtype=object) for t in searches["tokens"]]) if len(searches) else np.array([], dtype=object)
    order = np.lexsort((s_ts, s_user))  # stable: tokens of one query stay in order
    s_user, s_ts = s_user[order], s_ts[order]
    tokens = vocab.encode(flat[order]) if len(flat) else np.zeros(0, np.int64)
    # One sortable int64 key per (user, time) pair: user rank * span + time offset.
    all_users = np.unique(np.concatenate([s_user, ex.user_id]))
    t0 = min(int(s_ts.min()) if len(s_ts) else 0, int(ex.timestamp.min()) if len(ex) else 0)
    t1 = max(int(s_ts.max()) if len(s_ts) else 0, int(ex.timestamp.max()) if len(ex) else 0)
    span = np.int64(t1 - t0 + 1)
    keys = np.searchsorted(all_users, s_user) * span + (s_ts - t0)
    q_user = np.searchsorted(all_users, ex.user_id) * span
    first = np.searchsorted(keys, q_user, side="left")
    end = np.searchsorted(keys, q_user + (ex.timestamp - t0), side="left")  # strictly earlier
    start = np.maximum(first, end - max_tokens)
    return TokenHistory(tokens=tokens.astype(np.int64), start=start.astype(np.int64), end=end.astype(np.int64), vocab=vocab)


def add_user_features(
    ex: Examples,
    users: pd.DataFrame,
    columns: list[str],
    vocabs: dict[str, Vocab] | None = None,
) -> dict[str, Vocab]:
    """Attach categorical user columns (e.g. ``country``, ``device``) to ``ex.features`` as ids.

    Builds one vocabulary per column from ``users`` unless ``vocabs`` are given (reuse the
    training vocabularies for evaluation examples).  Unknown users get ``OOV``.
    """
    vocabs = dict(vocabs or {})
    table = users.set_index("user_id")
    for col in columns:
        values = table[col].astype(object).to_numpy()
        if col not in vocabs:
            vocabs[col] = Vocab.build(values)
        codes = pd.Series(vocabs[col].encode(values), index=table.index)
        ex.features[col] = codes.reindex(ex.user_id).fillna(OOV).to_numpy(dtype=np.int64)
    return vocabs
