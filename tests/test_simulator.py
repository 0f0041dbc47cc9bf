"""The simulator is deterministic and carries the signals the course's lessons rely on."""
from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from ytdnn.simulator import DAY, SimConfig, simulate

SMALL = dict(n_users=400, n_videos=300, n_watches=40_000, n_slates=3_000)


@pytest.fixture(scope="module")
def small():
    return simulate(seed=3, **SMALL)


TABLES = ("users", "videos", "watches", "searches", "impressions")


def test_same_seed_is_bit_identical(small):
    again = simulate(seed=3, **SMALL)
    for name in TABLES:
        pd.testing.assert_frame_equal(getattr(small, name), getattr(again, name), check_exact=True)
    assert np.array_equal(small.user_factors, again.user_factors)
    assert np.array_equal(small.video_factors, again.video_factors)
    for key, arr in small.video_latent.items():
        assert np.array_equal(arr, again.video_latent[key]), key
    pd.testing.assert_frame_equal(small.impression_history, again.impression_history, check_exact=True)
    # Object columns: compare the token lists themselves, not just their repr.
    assert small.searches["tokens"].tolist() == again.searches["tokens"].tolist()


def test_different_seeds_differ(small):
    other = simulate(seed=4, **SMALL)
    # n_watches counts the organic watches; every click on an impression adds one more.
    organic = [w.watches[w.watches["source"] != "homepage"] for w in (small, other)]
    assert len(organic[0]) == len(organic[1]) == SMALL["n_watches"]
    for w in (small, other):
        assert len(w.watches) == SMALL["n_watches"] + w.impressions["clicked"].sum()
    same_item = (organic[1]["item_id"].to_numpy() == organic[0]["item_id"].to_numpy()).mean()
    assert same_item < 0.05
    assert not np.array_equal(other.user_factors, small.user_factors)
    assert not other.impressions["clicked"].equals(small.impressions["clicked"])


def test_impressions_leave_the_organic_watches_alone(small):
    """Each stage has its own generator: fewer slates change only the homepage watches."""
    fewer = simulate(seed=3, **dict(SMALL, n_slates=100))
    organic = [w.watches[w.watches["source"] != "homepage"].reset_index(drop=True) for w in (small, fewer)]
    pd.testing.assert_frame_equal(organic[0], organic[1], check_exact=True)
    assert (fewer.watches["source"] == "homepage").sum() == fewer.impressions["clicked"].sum() < 200


def check_default_size(world):
    w = world
    assert (len(w.users), len(w.videos), len(w.impressions)) == (5_000, 3_000, 200_000)
    # 500k organic watches, plus one homepage watch per clicked impression.
    assert (w.watches["source"] != "homepage").sum() == 500_000
    assert len(w.watches) == 500_000 + w.impressions["clicked"].sum()
    assert list(w.watches.columns[:3]) == ["user_id", "item_id", "timestamp"]
    assert set(w.users.columns) >= {"user_id", "age_bucket", "gender", "country", "device", "logged_in"}
    assert set(w.videos.columns) >= {"item_id", "channel_id", "topic", "upload_time", "duration", "language"}
    assert w.user_factors.shape == (5_000, 16) and w.video_factors.shape == (3_000, 16)
    assert np.allclose(w.user_topic_pref.sum(axis=1), 1.0)


def check_watches_are_physically_consistent(world):
    w = world
    wt = w.watches
    upload = w.videos["upload_time"].to_numpy()[wt["item_id"]]
    duration = w.videos["duration"].to_numpy()[wt["item_id"]]
    assert (wt["timestamp"].to_numpy() >= upload).all(), "a video was watched before its upload"
    assert wt["timestamp"].between(w.start_time, w.end_time - 1).all()
    assert (wt["watch_time"] >= 1).all() and (wt["watch_time"].to_numpy() <= duration).all()
    assert wt["timestamp"].is_monotonic_increasing
    # Logged-out users show no demographics.
    out = w.users[~w.users["logged_in"]]
    assert len(out) > 0 and (out["age_bucket"] == "unknown").all() and (out["gender"] == "unknown").all()


def watches_per_video_day(world) -> np.ndarray:
    """Fig. 4 of the paper: watches per video on day d after upload, for videos uploaded
    inside the window, divided by how many of them had reached day d by its end."""
    v = world.videos
    fresh = v["upload_time"].to_numpy() >= world.start_time
    wt = world.watches
    up = v["upload_time"].to_numpy()[wt["item_id"]]
    age_days = (wt["timestamp"].to_numpy() - up) // DAY
    # Count day d of a video only if the whole day lies inside the window.
    keep = fresh[wt["item_id"]] & (world.end_time - up >= (age_days + 1) * DAY)
    n_days = world.config.n_days
    counts = np.bincount(age_days[keep], minlength=n_days)[:n_days]
    days_observed = (world.end_time - v["upload_time"].to_numpy()[fresh]) // DAY
    exposure = np.array([(days_observed > d).sum() for d in range(n_days)])
    return counts / np.maximum(exposure, 1)


def check_popularity_rises_after_upload_then_decays(world):
    rate = watches_per_video_day(world)
    peak = int(np.argmax(rate))
    assert 1 <= peak <= 3, rate[:8]
    assert rate[0] < rate[peak]  # it rises first...
    assert rate[peak] > 5 * rate[30:60].mean()  # ...then falls well below the peak
    assert rate[10] > rate[30:60].mean()  # a gradual decay, not a cliff


def check_watch_time_depends_on_match_and_duration(world):
    w = world
    wt = w.watches
    duration = w.videos["duration"].to_numpy()[wt["item_id"]]
    completion = wt["watch_time"].to_numpy() / duration
    match = w.match(wt["user_id"].to_numpy(), wt["item_id"].to_numpy())
    assert np.corrcoef(completion, match)[0, 1] > 0.3
    assert np.corrcoef(completion, np.log(duration))[0, 1] < -0.1


def check_impressions_truth_is_calibrated_and_clickbait_misleads(world):
    imp = world.impressions
    assert {"clicked", "watch_time", "true_p_click", "true_expected_watch_time", "true_relevance"} <= set(imp.columns)
    assert (imp.loc[imp["clicked"] == 0, "watch_time"] == 0).all()
    deciles = pd.qcut(imp["true_p_click"], 10)
    by = imp.groupby(deciles, observed=True)
    gap = (by["clicked"].mean() - by["true_p_click"].mean()).abs()
    assert gap.max() < 0.02, gap
    assert abs(imp["watch_time"].mean() / imp["true_expected_watch_time"].mean() - 1) < 0.05
    # Relevant impressions are clicked more and watched longer once clicked.
    top = imp["true_relevance"] > imp["true_relevance"].quantile(0.75)
    low = imp["true_relevance"] < imp["true_relevance"].quantile(0.25)
    clicked = imp["clicked"] == 1
    assert imp.loc[top, "clicked"].mean() > 3 * imp.loc[low, "clicked"].mean()
    assert imp.loc[top & clicked, "watch_time"].mean() > 2 * imp.loc[low & clicked, "watch_time"].mean()
    # Clickbait raises clicks but shortens watches: CTR alone would rank it too high.
    bait = world.video_latent["clickbait"][imp["item_id"]]
    assert np.corrcoef(imp["clicked"], bait)[0, 1] > 0.05
    frac = imp["watch_time"] / world.videos["duration"].to_numpy()[imp["item_id"]]
    assert np.corrcoef(frac[clicked], bait[clicked])[0, 1] < -0.05


def check_history_drives_clicks(world):
    """Paper section 4.1: the user's past with the channel, its recency, churn and the last
    search all move the click rate, also among impressions of equally relevant videos."""
    imp = world.impressions.join(world.impression_history)
    relevance = pd.qcut(imp["true_relevance"], 4, labels=False)

    def ctr(mask):  # click rate per relevance quartile, (4,)
        return imp["clicked"][mask].groupby(relevance[mask]).mean().reindex(range(4)).to_numpy()

    n_ch, days = imp["channel_watches"], imp["days_since_channel_watch"]
    never, loyal = ctr(n_ch == 0), ctr(n_ch >= 6)
    assert (loyal > 2 * never).all(), (never, loyal)
    recent, stale = ctr(days < 1), ctr(days > 30)
    assert (recent > 1.8 * stale).all(), (recent, stale)
    fresh, ignored = ctr(imp["ignored_impressions"] == 0), ctr(imp["ignored_impressions"] >= 1)
    assert (ignored[1:] < 0.8 * fresh[1:]).all(), (fresh, ignored)  # quartile 0 clicks too rarely to tell
    on, off = ctr(imp["search_on_topic"]), ctr(~imp["search_on_topic"])
    assert (on > 1.5 * off).all(), (on, off)


def check_clicks_are_homepage_watches(world):
    imp, wt = world.impressions, world.watches
    home = wt[wt["source"] == "homepage"]
    clicked = imp[imp["clicked"] == 1]
    assert len(home) == len(clicked) > 0
    keys = ["user_id", "item_id", "timestamp", "watch_time"]
    # The same rows, as multisets: sort both by every key and compare.
    a = clicked[keys].sort_values(keys).to_numpy()
    b = home[keys].sort_values(keys).to_numpy()
    assert np.array_equal(a, b)
    # A slate shows each video once.
    assert not imp.duplicated(["slate_id", "item_id"]).any()
    # A homepage visit is one session; its clicks share it and no organic session.
    sessions = home.groupby("session_id")["timestamp"].nunique()
    assert (sessions == 1).all() and home["session_id"].min() > wt.loc[wt["source"] != "homepage", "session_id"].max()


def test_default_size_world():
    """The one test at the default size (5k users, 3k videos, 500k watches)."""
    # CPU time, not wall time: a busy CI machine must not fail the test.
    t0 = time.process_time()
    world = simulate()
    seconds = time.process_time() - t0
    assert seconds < 20, f"simulate() took {seconds:.1f}s of CPU"
    check_default_size(world)
    check_watches_are_physically_consistent(world)
    check_popularity_rises_after_upload_then_decays(world)
    check_watch_time_depends_on_match_and_duration(world)
    check_impressions_truth_is_calibrated_and_clickbait_misleads(world)
    check_clicks_are_homepage_watches(world)
    check_history_drives_clicks(world)


def test_demographics_and_history_carry_signal(small):
    w = small
    watches = w.watches.merge(w.users, on="user_id").merge(w.videos[["item_id", "topic"]], on="item_id")
    watches = watches[watches["logged_in"]]
    mix = pd.crosstab(watches["age_bucket"], watches["topic"], normalize="index")
    tv_distance = 0.5 * (mix.loc["13-17"] - mix.loc["55+"]).abs().sum()
    assert tv_distance > 0.2
    # Sessions stay on a topic, so the last watch says something about the next one.
    seq = w.watches.merge(w.videos[["item_id", "topic"]], on="item_id").sort_values(["user_id", "timestamp"], kind="stable")
    same_user = seq["user_id"].to_numpy()[1:] == seq["user_id"].to_numpy()[:-1]
    same_topic = seq["topic"].to_numpy()[1:] == seq["topic"].to_numpy()[:-1]
    assert same_topic[same_user].mean() > 0.6


def test_search_queries_are_token_lists_about_the_session(small):
    s = small.searches
    assert len(s) > 0 and all(isinstance(t, list) and 1 <= len(t) <= 4 for t in s["tokens"])
    first_watch = small.watches.drop_duplicates("session_id").merge(small.videos[["item_id", "topic"]], on="item_id")
    m = s.merge(first_watch[["session_id", "topic", "timestamp"]], on="session_id", suffixes=("", "_watch"))
    assert len(m) == len(s)
    assert (m["timestamp"] < m["timestamp_watch"]).all()  # the query comes before the watch
    topic_of_token = m["tokens"].str[0].str.rsplit("_", n=1).str[0]
    assert (topic_of_token == m["topic"].astype(str)).all()


def test_large_catalogue_works():
    t0 = time.process_time()
    w = simulate(n_users=2_000, n_videos=100_000, n_watches=50_000, n_slates=500, seed=1)
    assert time.process_time() - t0 < 20
    assert len(w.videos) == 100_000 and w.watches["item_id"].max() < 100_000
    assert w.watches["item_id"].nunique() > 10_000  # the long tail is reachable


def test_config_validation_and_dataset_view(small):
    with pytest.raises(TypeError):
        simulate(n_user=10)  # misspelt knob
    with pytest.raises(ValueError):
        simulate(n_users=10, n_videos=5, n_topics=20)
    ds = small.to_dataset()
    assert ds.name == "simulator" and ds.world is small
    assert ds.interactions[["user_id", "item_id", "timestamp"]].dtypes.tolist() == [np.int64] * 3
    assert set(ds.extras) == {"searches", "impressions"}
    assert isinstance(small.config, SimConfig)


def test_small_world_clicks_are_watches(small):
    check_clicks_are_homepage_watches(small)
    check_watches_are_physically_consistent(small)


def _logit(p):
    return np.log(p) - np.log1p(-p)


HISTORY_OFF = dict(click_channel=0.0, click_recency=0.0, click_churn=0.0, click_search=0.0, watch_channel=0.0, watch_search=0.0)


def test_ground_truth_is_the_history_click_model(small):
    """The truth columns are the model that drew the clicks: against a world with every
    history term off (same slates: choosing them draws nothing from the history), the
    click and completion logits move by exactly the documented history terms."""
    cfg, imp, h = small.config, small.impressions, small.impression_history
    off = simulate(seed=3, **SMALL, **HISTORY_OFF)
    assert off.impressions["item_id"].equals(imp["item_id"])
    recent = np.where(h["days_since_channel_watch"].notna(), np.exp(-h["days_since_channel_watch"].fillna(0) / cfg.recency_days), 0.0)
    terms = (
        cfg.click_channel * np.log1p(h["channel_watches"]) + cfg.click_recency * recent
        - cfg.click_churn * h["ignored_impressions"] + cfg.click_search * h["search_on_topic"]
    )
    delta = _logit(imp["true_p_click"]) - _logit(off.impressions["true_p_click"])
    assert np.allclose(delta, terms, atol=1e-6)
    duration = small.videos["duration"].to_numpy()[imp["item_id"]]
    watch_terms = cfg.watch_channel * np.log1p(h["channel_watches"]) + cfg.watch_search * h["search_on_topic"]
    frac, frac_off = (w.impressions["true_expected_watch_time_if_clicked"] / duration for w in (small, off))
    assert np.allclose(_logit(frac) - _logit(frac_off), watch_terms, atol=1e-6)
    assert np.allclose(imp["true_expected_watch_time"], imp["true_p_click"] * imp["true_expected_watch_time_if_clicked"], rtol=1e-12)
    # Each term is really exercised by this data, and the clicks follow the truth.
    assert (h["channel_watches"] > 0).mean() > 0.2 and (h["ignored_impressions"] > 0).mean() > 0.02
    assert h["search_on_topic"].mean() > 0.1 and np.isfinite(h["days_since_channel_watch"]).mean() > 0.2
    assert abs(imp["clicked"].mean() - imp["true_p_click"].mean()) < 0.01


def test_history_knobs_off_remove_the_channel_and_churn_signals(small):
    """Without the history terms what is left of the channel and churn effects is
    confounding (users watch channels they match; an ignored video was a poor pick):
    with them, both effects are much stronger."""
    off = simulate(seed=3, **SMALL, **HISTORY_OFF)
    channel, churn = [], []
    for w in (small, off):
        imp = w.impressions.join(w.impression_history)
        p, ch, ign = imp["true_p_click"], imp["channel_watches"], imp["ignored_impressions"]
        channel.append(p[ch >= 3].mean() / p[ch == 0].mean())
        churn.append(p[ign >= 1].mean() / p[ign == 0].mean())
    assert channel[0] > 1.5 * channel[1], channel
    assert churn[0] < 0.7 * churn[1], churn


@pytest.mark.parametrize("sizes", [dict(n_watches=0, n_slates=30), dict(n_watches=500, n_slates=0), dict(n_watches=0, n_slates=0)])
def test_empty_logs_work(sizes):
    w = simulate(n_users=50, n_videos=40, seed=2, **sizes)
    assert len(w.impressions) == 10 * sizes["n_slates"] and len(w.impression_history) == len(w.impressions)
    assert len(w.watches) == sizes["n_watches"] + w.impressions["clicked"].sum()
    if sizes["n_watches"] == 0:  # no organic history: clicks only see earlier clicks
        assert (w.watches["source"] == "homepage").all()
