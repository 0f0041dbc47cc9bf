"""Training examples are leak-free, capped per user, and batch cleanly for torch."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from ytdnn.batching import collate_next_watch, make_loader, NextWatchDataset
from ytdnn.data import load
from ytdnn.examples import (
    DAY, add_user_features, build_item_vocab, build_token_vocab, evaluation_examples, next_watch_examples,
)
from ytdnn.split import leaky_holdout, time_split
from ytdnn.vocab import FIRST_ID, OOV, PAD, Vocab


@pytest.fixture(scope="module")
def sim():
    return load("simulator", n_users=600, n_videos=800, n_watches=60_000, n_slates=100, seed=7)


@pytest.fixture(scope="module")
def split(sim):
    return time_split(sim.interactions, quantile=0.85)


@pytest.fixture(scope="module")
def vocab(split):
    return build_item_vocab(split.train, min_count=10)


@pytest.fixture(scope="module")
def train_ex(split, vocab, sim):
    return next_watch_examples(split.train, vocab, window_end=split.cut_time, max_examples_per_user=25,
                               seed=0, searches=sim.extras["searches"])


def flat_history(ex):
    """(example index, event index) for every history entry of every example."""
    lengths = ex.hist_end - ex.hist_start
    owner = np.repeat(np.arange(len(ex)), lengths)
    offset = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    return owner, np.repeat(ex.hist_start, lengths) + offset


def test_history_strictly_before_label(train_ex):
    ex = train_ex
    assert len(ex) > 5_000
    owner, event = flat_history(ex)
    assert (ex.event_timestamp[event] < ex.timestamp[owner]).all()
    # and the history belongs to the same user: events are sorted by user, so compare ranges
    assert ex.history_length.min() >= 1 and ex.history_length.max() == 50


def test_same_second_events_do_not_see_each_other():
    df = pd.DataFrame({"user_id": [1, 1, 1, 1, 1], "item_id": [10, 11, 12, 13, 14],
                       "timestamp": [100, 200, 200, 200, 300]})
    ex = next_watch_examples(df, Vocab.build(df["item_id"]), max_examples_per_user=None)
    hist = {int(ex.label_item_id[j]): ex.vocab.decode(ex.history(j)).tolist() for j in range(len(ex))}
    assert hist == {11: [10], 12: [10], 13: [10], 14: [10, 11, 12, 13]}


def test_history_is_the_most_recent_window():
    n = 60
    df = pd.DataFrame({"user_id": 5, "item_id": np.arange(100, 100 + n), "timestamp": np.arange(n) * 60})
    df = df.sample(frac=1.0, random_state=0)  # input order must not matter
    ex = next_watch_examples(df, Vocab.build(df["item_id"]), max_history=50, max_examples_per_user=None)
    assert len(ex) == n - 1
    j = int(np.flatnonzero(ex.label_item_id == 155)[0])
    assert ex.vocab.decode(ex.history(j)).tolist() == list(range(105, 155))
    padded = ex.padded_history(max_len=3)
    assert ex.vocab.decode(padded[j]).tolist() == [152, 153, 154]  # keeps the latest
    first = int(np.flatnonzero(ex.label_item_id == 101)[0])
    assert padded[first].tolist()[1:] == [PAD, PAD]


def test_per_user_cap_and_deterministic_sampling(split, vocab, train_ex):
    per_user = pd.Series(train_ex.user_id).value_counts()
    assert per_user.max() == 25
    # Light users keep every candidate example (labels in vocab with some history).
    full = next_watch_examples(split.train, vocab, window_end=split.cut_time, max_examples_per_user=None)
    full_per_user = pd.Series(full.user_id).value_counts()
    light = full_per_user[full_per_user <= 25].index
    assert (per_user.reindex(light).fillna(0) == full_per_user[light]).all()
    heavy = full_per_user[full_per_user > 25].index
    assert len(heavy) > 50 and (per_user[heavy] == 25).all()
    assert full_per_user.max() > 5 * 25  # the cap matters: some users are very heavy
    again = next_watch_examples(split.train, vocab, window_end=split.cut_time, max_examples_per_user=25, seed=0)
    other = next_watch_examples(split.train, vocab, window_end=split.cut_time, max_examples_per_user=25, seed=1)
    assert np.array_equal(again.timestamp, train_ex.timestamp) and np.array_equal(again.label, train_ex.label)
    assert not np.array_equal(other.timestamp, train_ex.timestamp)


def test_example_age(split, train_ex):
    expected = (split.cut_time - train_ex.timestamp) / DAY
    assert np.allclose(train_ex.example_age, expected, rtol=1e-6)
    assert train_ex.example_age.dtype == np.float32 and (train_ex.example_age > 0).all()


def test_vocab_conventions_and_oov_only_for_rare_items(split, vocab, train_ex):
    counts = split.train["item_id"].value_counts()
    assert (PAD, OOV, FIRST_ID) == (0, 1, 2)
    assert len(vocab) == 2 + (counts >= 10).sum()
    ids = vocab.encode(counts.index.to_numpy())
    assert (counts[ids == OOV] < 10).all() and (counts[ids != OOV] >= 10).all()
    assert (ids != PAD).all()
    # Most frequent first; decode inverts encode.
    assert vocab.decode([2])[0] == counts.idxmax()
    assert np.all(np.diff(vocab.counts) <= 0)
    assert vocab.decode(vocab.encode(counts.index[:5].to_numpy())).tolist() == counts.index[:5].tolist()
    assert vocab.decode([PAD, OOV]).tolist() == [None, None]
    assert (train_ex.label >= FIRST_ID).all()  # OOV labels dropped for training
    oov_hist = train_ex.items[train_ex.items == OOV]
    assert len(oov_hist) > 0  # rare items do show up in histories, as OOV
    top = Vocab.build(split.train["item_id"], top_n=100)
    ranked = counts.rename("n").rename_axis("item").reset_index().sort_values(["n", "item"], ascending=[False, True])
    assert len(top) == 102 and top.values.tolist() == ranked["item"].iloc[:100].tolist()


def test_time_split(sim, split):
    inter = sim.interactions
    assert (split.train["timestamp"] < split.cut_time).all()
    assert (split.test["timestamp"] >= split.cut_time).all()
    assert split.test["user_id"].is_unique
    first_after = inter[inter["timestamp"] >= split.cut_time].groupby("user_id")["timestamp"].min()
    got = split.test.set_index("user_id")["timestamp"]
    assert (got == first_after[got.index]).all()
    assert set(got.index) <= set(split.train["user_id"])  # every test user has a history


def test_evaluation_examples(split, vocab):
    ev = evaluation_examples(split, vocab)
    assert len(ev) == len(split.test)
    owner, event = flat_history(ev)
    assert (ev.event_timestamp[event] < split.cut_time).all()
    assert (ev.example_age == 0).all()  # serving time
    labels = split.test.set_index("user_id")["item_id"]
    assert np.array_equal(ev.label_item_id, labels[ev.user_id].to_numpy())
    assert np.array_equal(ev.label, vocab.encode(ev.label_item_id))  # OOV labels kept as 1
    # History is the last <= 50 training watches of that user.
    j = int(np.argmax(ev.history_length))
    u = ev.user_id[j]
    mine = split.train[split.train["user_id"] == u].sort_values("timestamp", kind="stable")
    assert ev.history(j).tolist() == vocab.encode(mine["item_id"].to_numpy()[-50:]).tolist()


def test_random_holdout_leaks_the_future(sim, train_ex):
    context, held = leaky_holdout(sim.interactions, seed=0)
    later = context.merge(held[["user_id", "timestamp"]], on="user_id", suffixes=("", "_held"))
    share_with_future = (later["timestamp"] > later["timestamp_held"]).groupby(later["user_id"]).any().mean()
    assert share_with_future > 0.9
    assert len(held) == sim.interactions["user_id"].value_counts().ge(2).sum()
    owner, event = flat_history(train_ex)
    assert not (train_ex.event_timestamp[event] >= train_ex.timestamp[owner]).any()


def test_search_history_is_strictly_earlier(sim, train_ex):
    s = train_ex.search
    assert s is not None and (s.end - s.start).max() > 0
    searches = sim.extras["searches"]
    j = int(np.argmax(s.end - s.start))
    u, t = train_ex.user_id[j], train_ex.timestamp[j]
    mine = searches[(searches["user_id"] == u) & (searches["timestamp"] < t)].sort_values("timestamp", kind="stable")
    tokens = [tok for q in mine["tokens"] for tok in q][-50:]
    assert s.vocab.decode(s.tokens[s.start[j]:s.end[j]]).tolist() == tokens
    assert len(build_token_vocab(searches)) == len(s.vocab)


def test_dataloader_batches(sim, train_ex):
    vocabs = add_user_features(train_ex, sim.users, ["country", "device", "logged_in"])
    assert len(vocabs["logged_in"]) == 4
    loader = make_loader(train_ex, batch_size=64, shuffle=True, seed=0)
    batch = next(iter(loader))
    B, L = batch["history"].shape
    assert B == 64 and L == int(batch["history_length"].max())
    assert batch["history"].dtype == torch.long and batch["label"].dtype == torch.long
    assert batch["example_age"].dtype == torch.float32 and batch["country"].shape == (64,)
    assert torch.equal(batch["history_mask"], batch["history"] != PAD)
    assert torch.equal(batch["history_mask"].sum(1), batch["history_length"])
    assert batch["search"].shape[0] == 64
    # Same batch again with the same seed: reproducible shuffling.
    assert torch.equal(next(iter(make_loader(train_ex, batch_size=64, seed=0)))["label"], batch["label"])
    ds = NextWatchDataset(train_ex)
    manual = collate_next_watch([ds[0], ds[1]])
    assert manual["history"][0, : len(train_ex.history(0))].tolist() == train_ex.history(0).tolist()
    assert manual["label"].tolist() == train_ex.label[:2].tolist()


def test_movielens_examples_respect_ties():
    ds = load("ml-latest-small")
    sp = time_split(ds.interactions, quantile=0.8)
    v = build_item_vocab(sp.train, min_count=5)
    ex = next_watch_examples(sp.train, v, window_end=sp.cut_time, max_examples_per_user=30)
    owner, event = flat_history(ex)
    assert (ex.event_timestamp[event] < ex.timestamp[owner]).all()
    # MovieLens users rate many movies in the same second; those are never each other's history.
    dup_second = ds.interactions.duplicated(["user_id", "timestamp"]).mean()
    assert dup_second > 0.05
    assert pd.Series(ex.user_id).value_counts().max() == 30
