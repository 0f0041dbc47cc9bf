"""The ranking stage's training table (paper section 4): one row per homepage impression.

Every feature of an impression is computed from events *strictly before* its timestamp
(ties excluded): a clicked impression is logged as a watch at the impression's own time,
and that watch must never explain the click.  The table keeps raw values only; turning
them into network inputs (vocabularies, normalisation, embeddings) is the course's work.

Columns of :attr:`RankingData.table` (``n`` rows, one per impression, sorted by time):

* keys (not features): ``slate_id``, ``user_id``, ``timestamp``, ``position``
* ``item_id``: the impression video id; ``last_watched_item_id``: the user's last watch
  before the impression (``-1`` when none)
* ``last_search_tokens`` (list[str], empty when none) and ``last_search_topic`` (the topic
  prefix of its first token, e.g. ``music_3`` -> ``music``; ``NaN`` when none)
* user: ``age_bucket``, ``gender``, ``country``, ``device``, ``logged_in``
* video: ``channel_id``, ``topic``, ``language``, ``duration`` (s), ``video_age_days``
* user-video relationship (section 4.1): ``channel_watches`` / ``topic_watches`` (the
  user's earlier watches of the video's channel / topic), ``days_since_channel_watch`` /
  ``days_since_topic_watch`` (``NaN`` when never), ``previous_impressions`` (earlier
  impressions of this video to this user) and ``days_since_impression`` (``NaN`` when never)
* label ``clicked`` (int8) and weight ``watch_time`` (s, 0 when not clicked)

Ground truth (``true_*``) sits apart in :attr:`RankingData.truth`, row-aligned with the
table: it is for checking models, never an input.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .schema import Dataset

DAY = 86_400
NONE_ID = -1  # "no such event" for id features (raw ids are >= 0)

KEY_COLUMNS = ("slate_id", "user_id", "timestamp", "position")
LABEL = "clicked"
WEIGHT = "watch_time"
ID_FEATURES = ("item_id", "last_watched_item_id", "channel_id")
CATEGORICAL_FEATURES = ("topic", "language", "last_search_topic", "age_bucket", "gender", "country", "device", "logged_in")
TOKEN_FEATURES = ("last_search_tokens",)
CONTINUOUS_FEATURES = (
    "duration", "video_age_days",
    "channel_watches", "days_since_channel_watch", "topic_watches", "days_since_topic_watch",
    "previous_impressions", "days_since_impression",
)
FEATURES = ID_FEATURES + CATEGORICAL_FEATURES + TOKEN_FEATURES + CONTINUOUS_FEATURES
TRUTH_COLUMNS = ("true_relevance", "true_p_click", "true_expected_watch_time", "true_expected_watch_time_if_clicked")


def events_before(
    event_group: np.ndarray,
    event_time: np.ndarray,
    query_group: np.ndarray,
    query_time: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query, the events of the same group at a time *strictly* earlier.

    ``event_group``, ``event_time``: (n_events,) int64, any order (a group is e.g. a user,
    or a (user, channel) pair folded into one int64).  ``query_group``, ``query_time``:
    (n_queries,) int64.  Returns ``(count, last)``, both (n_queries,) int64: how many such
    events there are, and the index (into the event arrays) of the latest one, ``-1`` when
    none (ties in time: the one that comes last in the input).
    """
    eg = np.asarray(event_group, dtype=np.int64)
    et = np.asarray(event_time, dtype=np.int64)
    qg = np.asarray(query_group, dtype=np.int64)
    qt = np.asarray(query_time, dtype=np.int64)
    if eg.shape != et.shape or qg.shape != qt.shape:
        raise ValueError("events_before: group and time arrays must have the same shape")
    if len(eg) == 0:
        return np.zeros(len(qg), np.int64), np.full(len(qg), -1, np.int64)
    order = np.lexsort((et, eg))  # by group, then time; stable for ties
    gs, ts = eg[order], et[order]
    # Pack (group rank, time) into one sortable int64: the rank of a group is below the
    # number of events, so the key stays small however large the raw group ids are.
    groups = gs[np.r_[True, gs[1:] != gs[:-1]]]  # gs is sorted: its distinct values
    t0, t1 = int(ts.min()), int(ts.max())
    span = t1 - t0 + 2  # query offsets are clipped into [0, span - 1]
    if len(groups) * span >= 2**62:  # absurd time ranges: rank the times instead
        times = np.unique(np.concatenate([ts, qt]))
        key = np.searchsorted(groups, gs) * np.int64(len(times)) + np.searchsorted(times, ts)
        q_key = np.searchsorted(groups, qg) * np.int64(len(times)) + np.searchsorted(times, qt)
    else:
        key = (np.cumsum(np.r_[True, gs[1:] != gs[:-1]]) - 1) * np.int64(span) + (ts - t0)
        q_key = np.searchsorted(groups, qg) * np.int64(span) + np.clip(qt - t0, 0, span - 1)
    lo = np.searchsorted(gs, qg, side="left")
    hi = np.searchsorted(gs, qg, side="right")
    # side="left": events at exactly the query time are *not* before it (no leak from ties).
    # A query whose group has no events has lo == hi, so the clip empties its block.
    pos = np.clip(np.searchsorted(key, q_key, side="left"), lo, hi)
    count = (pos - lo).astype(np.int64)
    last = np.where(count > 0, order[np.maximum(pos - 1, 0)], -1).astype(np.int64)
    return count, last


@dataclass(eq=False)
class RankingData:
    """Per-impression ranking table (see module docstring): ``table`` (n rows) and
    ``truth`` (n rows, same index, ``true_*`` columns)."""

    table: pd.DataFrame
    truth: pd.DataFrame

    def __len__(self) -> int:
        return len(self.table)

    @property
    def features(self) -> pd.DataFrame:
        """The feature columns only (no keys, label, weight or truth)."""
        return self.table[[c for c in FEATURES if c in self.table.columns]]

    def split(self, cut_time: int | None = None, *, quantile: float = 0.8) -> tuple["RankingData", "RankingData"]:
        """Time split: train = impressions before ``cut_time`` (default: the ``quantile``
        of impression times), test = at or after it.  A slate shares one timestamp, so it
        never straddles the cut.  A test row's features still use every event before its
        own time (earlier test-period watches included), as serving at that time would."""
        ts = self.table["timestamp"].to_numpy()
        if not 0.0 < quantile < 1.0:
            raise ValueError(f"split: quantile must be in (0, 1), got {quantile}")
        if cut_time is None:
            if not len(ts):
                raise ValueError("split: no impressions to split")
            cut_time = int(np.quantile(ts, quantile))
        train = ts < int(cut_time)
        return self._rows(train), self._rows(~train)

    def _rows(self, mask: np.ndarray) -> "RankingData":
        return RankingData(self.table[mask].reset_index(drop=True), self.truth[mask].reset_index(drop=True))


def ranking_table(ds: Dataset) -> RankingData:
    """Build the leak-free ranking table (see module docstring) from a simulator
    :class:`Dataset`: ``interactions`` (the watch log, homepage watches included),
    ``extras["impressions"]`` and ``["searches"]``, ``items`` and ``users``.  Rows are
    sorted by (timestamp, slate_id, position); ``truth`` follows the same order."""
    imp = ds.extras.get("impressions")
    if imp is None:
        raise ValueError(f"{ds.name}: no impressions to rank (only the simulator logs them)")
    if ds.items is None or ds.users is None:
        raise ValueError(f"{ds.name}: ranking features need the items and users tables")
    missing = {"channel_id", "topic", "upload_time", "duration", "language"} - set(ds.items.columns)
    if missing or not isinstance(ds.items["topic"].dtype, pd.CategoricalDtype):
        raise ValueError(f"{ds.name}: items need channel_id, a categorical topic, upload_time, duration and language")
    imp = imp.sort_values(["timestamp", "slate_id", "position"], kind="stable").reset_index(drop=True)
    videos = ds.items.set_index("item_id")
    if not imp["item_id"].isin(videos.index).all():
        raise ValueError(f"{ds.name}: an impression shows a video missing from the items table")
    watches, searches = ds.interactions, ds.extras.get("searches")
    topics = videos["topic"].cat.categories

    user = imp["user_id"].to_numpy(dtype=np.int64)
    item = imp["item_id"].to_numpy(dtype=np.int64)
    t = imp["timestamp"].to_numpy(dtype=np.int64)
    w_user = watches["user_id"].to_numpy(dtype=np.int64)
    w_item = watches["item_id"].to_numpy(dtype=np.int64)
    w_t = watches["timestamp"].to_numpy(dtype=np.int64)
    # Dense per-video lookups (ids index arrays), so joins are array indexing.
    n_items = int(max(videos.index.max(), w_item.max(initial=0)) + 1)
    channel_of = _lookup(videos["channel_id"], n_items)
    topic_of = _lookup(videos["topic"].cat.codes, n_items)
    upload_of = _lookup(videos["upload_time"], n_items)

    out: dict[str, object] = {c: imp[c].to_numpy() for c in KEY_COLUMNS}
    out["item_id"] = item

    _, last = events_before(w_user, w_t, user, t)
    out["last_watched_item_id"] = np.where(last >= 0, w_item[np.maximum(last, 0)], NONE_ID) if len(w_item) else np.full(len(imp), NONE_ID)

    if searches is not None and len(searches):
        s_tokens = searches["tokens"].to_numpy()
        s_user = searches["user_id"].to_numpy(dtype=np.int64)
        _, last = events_before(s_user, searches["timestamp"].to_numpy(dtype=np.int64), user, t)
    else:
        s_tokens, last = np.empty(0, dtype=object), np.full(len(imp), -1, np.int64)
    # Fresh lists, one per row: editing a row must not edit the searches table or other rows.
    tokens = [list(s_tokens[j]) if j >= 0 else [] for j in last]
    first_token = pd.Series([tok[0] if tok else None for tok in tokens], dtype=object)
    out["last_search_tokens"] = pd.Series(tokens, dtype=object).to_numpy()
    # Query tokens are "<topic>_<word>" or generic words; the first one is the topical one.
    out["last_search_topic"] = pd.Categorical(first_token.str.rsplit("_", n=1).str[0], categories=topics)

    users = ds.users.set_index("user_id")
    for col in ("age_bucket", "gender", "country", "device", "logged_in"):
        if col in users.columns:
            out[col] = users[col].reindex(user).array  # .array keeps a Categorical categorical

    out["channel_id"] = channel_of[item]
    out["topic"] = pd.Categorical.from_codes(topic_of[item], categories=topics)
    out["language"] = videos["language"].reindex(item).array
    out["duration"] = videos["duration"].reindex(item).to_numpy()
    out["video_age_days"] = (t - upload_of[item]) / DAY

    # User-video relationship (section 4.1).  A (user, channel) pair is folded into one
    # int64 group id, user * n_channels + channel, and likewise for topics and videos.
    for name, of in (("channel", channel_of), ("topic", topic_of)):
        size = np.int64(of.max(initial=0) + 1)
        count, last = events_before(w_user * size + of[w_item], w_t, user * size + of[item], t)
        out[f"{name}_watches"] = count
        out[f"days_since_{name}_watch"] = _days_since(t, w_t, last)
    pair = user * np.int64(n_items) + item
    count, last = events_before(pair, t, pair, t)
    out["previous_impressions"] = count
    out["days_since_impression"] = _days_since(t, t, last)

    out[LABEL] = imp[LABEL].to_numpy()
    out[WEIGHT] = imp[WEIGHT].to_numpy()
    table = pd.DataFrame({c: out[c] for c in (*KEY_COLUMNS, *FEATURES, LABEL, WEIGHT) if c in out})
    truth = imp[[c for c in TRUTH_COLUMNS if c in imp.columns]]
    return RankingData(table=table, truth=truth)


def _lookup(series: pd.Series, size: int) -> np.ndarray:
    """(size,) int64 dense array with ``a[id] = series[id]`` (``-1`` for ids not in the index)."""
    out = np.full(size, -1, dtype=np.int64)
    out[series.index.to_numpy(dtype=np.int64)] = series.to_numpy(dtype=np.int64)
    return out


def _days_since(t: np.ndarray, event_time: np.ndarray, last: np.ndarray) -> np.ndarray:
    """(n,) float64 days from the event ``last`` (index into ``event_time``) to ``t``; NaN when -1."""
    prev = event_time[np.maximum(last, 0)] if len(event_time) else np.zeros(len(t), np.int64)
    return np.where(last >= 0, (t - prev) / DAY, np.nan)
