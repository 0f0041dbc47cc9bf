"""The ranking table is leak-free (features see only strictly earlier events) and counts right."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from ytdnn.ranking_data import (
    CONTINUOUS_FEATURES, FEATURES, KEY_COLUMNS, TRUTH_COLUMNS, RankingData, events_before, ranking_table,
)
from ytdnn.schema import Dataset
from ytdnn.simulator import DAY, simulate

T = 1_500_000_000


def tiny() -> Dataset:
    """Two users, three videos; user 0 clicks video 1 at T+1000, which is logged as a watch
    at that very second, and searches at that second too: neither may explain the click."""
    users = pd.DataFrame({
        "user_id": [0, 1],
        "age_bucket": pd.Categorical(["18-24", "unknown"]),
        "gender": pd.Categorical(["female", "unknown"]),
        "country": pd.Categorical(["US", "DE"]),
        "device": pd.Categorical(["mobile", "tv"]),
        "logged_in": [True, False],
    })
    videos = pd.DataFrame({
        "item_id": [0, 1, 2],
        "channel_id": [10, 10, 20],
        "topic": pd.Categorical(["music", "music", "news"], categories=["music", "news"]),
        "upload_time": [T - 2 * DAY, T - DAY, T],
        "duration": [100, 200, 300],
        "language": pd.Categorical(["en", "en", "de"]),
    })
    watches = pd.DataFrame({
        "user_id": [1, 0, 0, 0, 0],
        "item_id": [2, 0, 1, 2, 1],
        "timestamp": [T + 50, T + 100, T + 200, T + 300, T + 1000],
        "watch_time": [10, 20, 30, 40, 50],
    })
    searches = pd.DataFrame({
        "user_id": [0, 0],
        "timestamp": [T + 150, T + 1000],
        "tokens": [["news_3", "how"], ["music_1"]],
    })
    rows = [  # slate, user, time, position, item, clicked, watch_time
        (0, 0, T + 500, 0, 1, 0, 0),
        (0, 0, T + 500, 1, 2, 0, 0),
        (1, 0, T + 1000, 0, 1, 1, 50),
        (1, 0, T + 1000, 1, 0, 0, 0),
        (2, 0, T + 1000, 0, 1, 0, 0),  # another slate in the same second
        (3, 0, T + 2000, 0, 1, 0, 0),
        (4, 1, T + 10, 0, 0, 0, 0),
    ]
    imp = pd.DataFrame(rows, columns=["slate_id", "user_id", "timestamp", "position", "item_id", "clicked", "watch_time"])
    imp["true_p_click"] = 0.1
    return Dataset("tiny", watches, videos, users, extras={"impressions": imp, "searches": searches})


def test_tiny_counts_by_hand():
    rd = ranking_table(tiny())
    got = rd.table.set_index(["slate_id", "position"])
    nan = np.nan
    # (slate, position): channel_watches, days_since_channel_watch (s), topic_watches,
    # previous_impressions, days_since_impression (s), last_watched_item_id, last search
    want = {
        (4, 0): (0, nan, 0, 0, nan, -1, []),
        (0, 0): (2, 300, 2, 0, nan, 2, ["news_3", "how"]),
        (0, 1): (1, 200, 1, 0, nan, 2, ["news_3", "how"]),
        # The click at T+1000 and its own watch, and the search at T+1000, are excluded;
        # so is slate 2's impression of the same video in the same second.
        (1, 0): (2, 800, 2, 1, 500, 2, ["news_3", "how"]),
        (1, 1): (2, 800, 2, 0, nan, 2, ["news_3", "how"]),
        (2, 0): (2, 800, 2, 1, 500, 2, ["news_3", "how"]),
        (3, 0): (3, 1000, 3, 3, 1000, 1, ["music_1"]),
    }
    for key, (n_ch, dt_ch, n_topic, n_imp, dt_imp, last_item, tokens) in want.items():
        row = got.loc[key]
        assert row["channel_watches"] == n_ch, key
        assert np.isclose(row["days_since_channel_watch"], dt_ch / DAY, equal_nan=True), key
        assert row["topic_watches"] == n_topic, key
        assert row["previous_impressions"] == n_imp, key
        assert np.isclose(row["days_since_impression"], dt_imp / DAY, equal_nan=True), key
        assert row["last_watched_item_id"] == last_item, key
        assert row["last_search_tokens"] == tokens, key
    assert got.loc[(3, 0), "last_search_topic"] == "music" and got.loc[(1, 0), "last_search_topic"] == "news"
    assert pd.isna(got.loc[(4, 0), "last_search_topic"])
    assert got.loc[(0, 1), "days_since_topic_watch"] == pytest.approx(200 / DAY)  # news at T+300
    assert got.loc[(4, 0), "video_age_days"] == pytest.approx(2 + 10 / DAY)
    assert got.loc[(4, 0), "country"] == "DE" and got.loc[(4, 0), "age_bucket"] == "unknown"
    assert got.loc[(1, 0), "clicked"] == 1 and got.loc[(1, 0), "watch_time"] == 50
    # Sorted by time; truth kept apart, row-aligned.
    assert rd.table["timestamp"].is_monotonic_increasing
    assert list(rd.truth.columns) == ["true_p_click"] and len(rd.truth) == len(rd.table)
    # Editing one row's tokens edits neither another row nor the searches table.
    rd.table.loc[0, "last_search_tokens"].append("x")
    assert tiny().extras["searches"]["tokens"][0] == ["news_3", "how"]
    assert all("x" not in tok for tok in rd.table["last_search_tokens"][1:])


def test_events_before_matches_brute_force():
    rng = np.random.default_rng(0)
    eg, et = rng.integers(0, 5, 300), rng.integers(0, 40, 300)  # many ties in time
    qg, qt = rng.integers(-1, 7, 200), rng.integers(-5, 50, 200)
    count, last = events_before(eg, et, qg, qt)
    for j in range(len(qg)):
        earlier = np.flatnonzero((eg == qg[j]) & (et < qt[j]))
        assert count[j] == len(earlier)
        if len(earlier):
            assert et[last[j]] == et[earlier].max() and eg[last[j]] == qg[j]
        else:
            assert last[j] == -1
    assert events_before(eg[:0], et[:0], qg, qt)[0].sum() == 0
    with pytest.raises(ValueError, match="same shape"):
        events_before(eg, et[:3], qg, qt)
    # Huge ids and times (no overflow in the packed key).
    big = np.array([2**40, 2**40, 5], dtype=np.int64)
    tt = np.array([0, 2**50, 7], dtype=np.int64)
    assert events_before(big, tt, big, tt)[0].tolist() == [0, 1, 0]


SMALL = dict(seed=3, n_users=400, n_videos=300, n_watches=40_000, n_slates=3_000)


@pytest.fixture(scope="module")
def small():
    world = simulate(**SMALL)
    return world, ranking_table(world.to_dataset())


def test_features_only_use_strictly_earlier_events(small):
    """Brute force on sampled impressions, clicked ones included: their own watch sits at
    the impression's second, so a "<=" anywhere would change these numbers."""
    world, rd = small
    tab = rd.table
    wt, imp, s = world.watches, world.impressions, world.searches
    channel = world.videos["channel_id"].to_numpy()
    rng = np.random.default_rng(1)
    clicked = np.flatnonzero(tab["clicked"].to_numpy() == 1)
    sample = np.r_[rng.choice(clicked, 60, replace=False), rng.choice(len(tab), 60, replace=False)]
    ties = 0
    for j in sample:
        r = tab.iloc[j]
        mine = wt[wt["user_id"] == r["user_id"]]
        before = mine[mine["timestamp"] < r["timestamp"]]
        ties += (mine["timestamp"] == r["timestamp"]).any()
        same_ch = before[channel[before["item_id"]] == r["channel_id"]]
        assert r["channel_watches"] == len(same_ch)
        want = (r["timestamp"] - same_ch["timestamp"].max()) / DAY if len(same_ch) else np.nan
        assert np.isclose(r["days_since_channel_watch"], want, equal_nan=True)
        last = before.sort_values("timestamp", kind="stable")["item_id"]
        assert r["last_watched_item_id"] == (last.iloc[-1] if len(last) else -1) or (
            before["timestamp"] == before["timestamp"].max()).sum() > 1  # two watches in one second
        shown = imp[(imp["user_id"] == r["user_id"]) & (imp["item_id"] == r["item_id"]) & (imp["timestamp"] < r["timestamp"])]
        assert r["previous_impressions"] == len(shown)
        q = s[(s["user_id"] == r["user_id"]) & (s["timestamp"] < r["timestamp"])]
        assert r["last_search_tokens"] == (q.sort_values("timestamp").iloc[-1]["tokens"] if len(q) else [])
    assert ties >= 60  # every clicked impression meets its own watch at the same second


def test_table_matches_the_simulators_own_history(small):
    """The table recomputes, from logs only, the history the click model used."""
    world, rd = small
    hist = world.impression_history
    imp = world.impressions
    assert (rd.table["slate_id"].to_numpy() == imp["slate_id"].to_numpy()).all()  # same row order
    assert (rd.table["channel_watches"].to_numpy() == hist["channel_watches"].to_numpy()).all()
    assert np.allclose(rd.table["days_since_channel_watch"], hist["days_since_channel_watch"], equal_nan=True)
    on_topic = (rd.table["last_search_topic"].astype(object) == rd.table["topic"].astype(object)).to_numpy()
    assert (on_topic == hist["search_on_topic"].to_numpy()).all()
    pd.testing.assert_frame_equal(rd.truth, imp[list(TRUTH_COLUMNS)])


def test_columns_raw_and_no_truth_in_features(small):
    _, rd = small
    tab = rd.table
    assert list(tab.columns) == [*KEY_COLUMNS, *FEATURES, "clicked", "watch_time"]
    assert not set(TRUTH_COLUMNS) & set(tab.columns)
    assert not {"clicked", "watch_time"} & set(rd.features.columns)
    # Raw values: counts are integers, durations seconds, never rescaled.
    assert tab["channel_watches"].dtype == np.int64 and tab["channel_watches"].max() > 20
    assert tab["duration"].min() >= 15 and tab["duration"].max() > 600
    assert all(c in tab.columns for c in CONTINUOUS_FEATURES)
    assert (tab["video_age_days"] >= 0).all()  # a video is shown only after its upload
    assert tab["last_search_topic"].notna().mean() > 0.5 and tab["days_since_impression"].notna().mean() > 0.02


def test_time_split(small):
    _, rd = small
    train, test = rd.split(quantile=0.8)
    assert isinstance(train, RankingData) and len(train) + len(test) == len(rd)
    assert train.table["timestamp"].max() < test.table["timestamp"].min()
    assert 0.75 < len(train) / len(rd) < 0.85
    assert not set(train.table["slate_id"]) & set(test.table["slate_id"])  # slates never straddle
    assert (train.truth.index == train.table.index).all() and len(test.truth) == len(test)
    cut = int(rd.table["timestamp"].iloc[100])
    train, test = rd.split(cut)
    assert (train.table["timestamp"] < cut).all() and (test.table["timestamp"] >= cut).all()


def test_bad_input_one_line_errors():
    ds = tiny()
    no_imp = Dataset("ml-100k", ds.interactions)
    with pytest.raises(ValueError, match=r"^ml-100k: no impressions to rank \(only the simulator logs them\)$"):
        ranking_table(no_imp)
    with pytest.raises(ValueError, match="items and users"):
        ranking_table(Dataset("x", ds.interactions, extras=ds.extras))
    bad = tiny()
    bad.extras["impressions"].loc[0, "item_id"] = 99
    with pytest.raises(ValueError, match="missing from the items table"):
        ranking_table(bad)
    with pytest.raises(ValueError, match=r"quantile must be in \(0, 1\), got 80"):
        ranking_table(ds).split(quantile=80)
    with pytest.raises(ValueError, match="no impressions to split"):
        RankingData(ranking_table(ds).table.iloc[:0], ranking_table(ds).truth.iloc[:0]).split()


def test_default_size_is_fast():
    ds = simulate().to_dataset()
    t0 = time.process_time()
    rd = ranking_table(ds)
    seconds = time.process_time() - t0
    assert len(rd) == 200_000
    assert seconds < 10, f"ranking_table took {seconds:.1f}s of CPU at the default size"
