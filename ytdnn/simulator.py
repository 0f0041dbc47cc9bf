"""A small YouTube-like world: users, videos, watch sessions, searches and homepage impressions.

Real YouTube logs are not public, so the course's default data comes from this generator.
It carries every signal the paper's features need, and keeps the ground truth it used so
lessons can compare a model with the truth:

* users: demographics (``age_bucket``, ``gender``, ``country``, ``device``, ``logged_in``)
  that shift their latent taste over topics (so demographics help cold-start users);
* videos: ``channel_id``, ``topic``, ``upload_time``, ``duration``, ``language``;
* popularity that rises for a day or two after upload and then decays (paper Fig. 4), so
  *example age* matters;
* watch sessions that stay on one topic (so the last watch predicts the next one) and that
  sometimes start with a search query (``searches.tokens`` is a list of strings);
* homepage impression slates with ``clicked`` and ``watch_time``, living in the same world
  as the watches: a clicked impression is logged as a watch (``source == "homepage"``, same
  user, video and timestamp), and clicks depend on the user's past as the ranking features
  of paper section 4.1 describe: earlier watches of the video's channel, how recently the
  channel was watched, earlier impressions of the video the user ignored (churn), and
  whether the user's last search was about the video's topic.  Clicks also respond to a
  latent "clickbait" quality that *shortens* watches, and watch time depends on user-video
  match, duration and channel loyalty, so weighted logistic regression has something CTR
  cannot see.  Ground truth per impression: ``true_p_click``, ``true_relevance``,
  ``true_expected_watch_time`` (``= true_p_click * true_expected_watch_time_if_clicked``).

Determinism: one ``seed`` gives bit-identical DataFrames; every stage draws from its own
child generator, so changing e.g. the number of impressions leaves the organic (browse and
search) watches unchanged; only the homepage watches come and go with the impressions.
Everything is vectorised with numpy; the only loop walks a user's slates in order (the k-th
slate of every user at once), because a click changes the history the next slate sees.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from .ranking_data import events_before  # the same "strictly before" the ranking table uses
from .schema import Dataset

DAY = 86_400
START_TIME = 1_451_606_400  # 2016-01-01 00:00 UTC, the year the paper appeared.

TOPIC_NAMES = (
    "music", "gaming", "comedy", "news", "sports", "cooking", "science", "travel",
    "fitness", "fashion", "animals", "cars", "diy", "education", "movies", "tech",
    "kids", "history", "art", "finance",
)
AGE_BUCKETS = ("13-17", "18-24", "25-34", "35-44", "45-54", "55+")
AGE_P = (0.10, 0.25, 0.25, 0.18, 0.12, 0.10)
GENDERS = ("female", "male")
COUNTRIES = ("US", "GB", "IN", "BR", "DE", "FR", "JP", "MX", "ES", "CA")
COUNTRY_P = (0.32, 0.08, 0.15, 0.10, 0.07, 0.06, 0.07, 0.06, 0.05, 0.04)
COUNTRY_LANGUAGE = ("en", "en", "hi", "pt", "de", "fr", "ja", "es", "es", "en")
LANGUAGES = ("en", "hi", "pt", "de", "fr", "ja", "es")
DEVICES = ("mobile", "desktop", "tablet", "tv")
DEVICE_P = (0.55, 0.30, 0.08, 0.07)
GENERIC_TOKENS = ("how", "to", "best", "new", "live", "review", "top", "vs", "2016", "tutorial")
UNKNOWN = "unknown"  # observed age/gender of a logged-out user
SOURCES = ("browse", "search", "homepage")  # how a watch started; homepage = a clicked impression


@dataclass(frozen=True)
class SimConfig:
    """Knobs of the simulator; ``simulate(**overrides)`` replaces any of them."""

    n_users: int = 5_000
    n_videos: int = 3_000
    n_watches: int = 500_000
    n_days: int = 120  # length of the logged window
    n_topics: int = 20
    n_channels: int | None = None  # default: about 12 videos per channel
    dim: int = 16  # latent factor size
    backlog_fraction: float = 0.4  # share of videos uploaded before the window starts
    backlog_days: int = 365
    mean_session_len: float = 5.0
    max_session_len: int = 40
    explore: float = 0.15  # chance a session's topic ignores the user's taste
    search_prob: float = 0.3  # chance a session starts with a search query
    taste_sharpness: float = 1.6  # how peaked a user's topic distribution is
    beta: float = 2.0  # strength of user-video match within a topic
    other_language: float = 0.15  # relative appeal of a video in a foreign language
    hype_median: float = 10.0  # freshness boost at the popularity peak (median over videos)
    peak_days_median: float = 1.5  # days after upload when popularity peaks (median)
    candidates: int = 32  # proposals per choice (sampling-importance-resampling)
    recent_days: float = 14.0  # half the proposals come from videos this fresh
    n_slates: int = 20_000  # homepage impression slates
    slate_size: int = 10
    completion_concentration: float = 4.0  # Beta concentration of watch completion
    click_intercept: float = -3.7  # logit of a homepage click before any of the terms below
    # History terms of the homepage click model (logit units), paper section 4.1:
    click_channel: float = 0.5  # per log(1 + the user's earlier watches of the channel)
    click_recency: float = 1.2  # bonus for a channel watched just now, fading over recency_days
    recency_days: float = 3.0
    click_churn: float = 1.0  # penalty per earlier impression of the video the user ignored
    click_search: float = 0.6  # bonus when the user's last search was on the video's topic
    # ...and of watch completion once clicked (logit of the expected fraction watched):
    watch_channel: float = 0.15  # per log(1 + earlier watches of the channel): loyal fans stay
    watch_search: float = 0.2  # the user came looking for this topic
    start_time: int = START_TIME
    seed: int = 0

    def validate(self) -> None:
        if self.n_users < 1 or self.n_videos < 1 or self.n_watches < 0 or self.n_slates < 0:
            raise ValueError("n_users and n_videos must be >= 1, n_watches and n_slates >= 0")
        if self.n_topics < 1 or self.n_topics > self.n_videos:
            raise ValueError("need 1 <= n_topics <= n_videos")
        if self.n_days < 1:
            raise ValueError("n_days must be >= 1")


@dataclass(eq=False)
class World:
    """Everything the simulator produced.

    Observed tables (what a logging system would have):

    * ``users``: user_id, age_bucket, gender, country, device, logged_in (``unknown`` age and
      gender when logged out)
    * ``videos``: item_id, channel_id, topic, upload_time (s), duration (s), language
    * ``watches``: user_id, item_id, timestamp, watch_time (s), session_id, source
      (``browse``, ``search`` or ``homepage``: a clicked impression), sorted by timestamp;
      ``config.n_watches`` organic (browse + search) rows plus one per click
    * ``searches``: user_id, timestamp, session_id, tokens (list[str]); the session's first
      watch follows a few seconds later
    * ``impressions``: slate_id (numbered in time order), user_id, item_id, timestamp,
      position, clicked, watch_time, and ground truth ``true_relevance``, ``true_p_click``,
      ``true_expected_watch_time``, ``true_expected_watch_time_if_clicked`` (not features!)

    Latent truth: ``user_factors`` (n_users, dim), ``video_factors`` (n_videos, dim),
    ``user_topic_pref`` (n_users, n_topics) rows summing to 1, per-video arrays in
    ``video_latent`` (quality, clickbait, hype, peak_days), and ``impression_history``
    (one row per impression, aligned with ``impressions``): the history values the click
    model used, all from events strictly before the impression: ``channel_watches``,
    ``days_since_channel_watch`` (NaN when never), ``ignored_impressions``,
    ``search_on_topic``.
    """

    config: SimConfig
    users: pd.DataFrame
    videos: pd.DataFrame
    watches: pd.DataFrame
    searches: pd.DataFrame
    impressions: pd.DataFrame
    user_factors: np.ndarray
    video_factors: np.ndarray
    user_topic_pref: np.ndarray
    video_latent: dict[str, np.ndarray] = field(default_factory=dict)
    topic_names: tuple[str, ...] = ()
    impression_history: pd.DataFrame | None = None

    @property
    def start_time(self) -> int:
        return self.config.start_time

    @property
    def end_time(self) -> int:
        """End of the logged window (exclusive)."""
        return self.config.start_time + self.config.n_days * DAY

    def freshness(self, item_id: np.ndarray, t: np.ndarray | int) -> np.ndarray:
        """True popularity multiplier of videos ``item_id`` at times ``t`` (0 before upload)."""
        item_id = np.asarray(item_id)
        upload = self.videos["upload_time"].to_numpy()[item_id]
        return _freshness(
            (np.asarray(t) - upload) / DAY,
            self.video_latent["hype"][item_id],
            self.video_latent["peak_days"][item_id],
        )

    def match(self, user_id: np.ndarray, item_id: np.ndarray) -> np.ndarray:
        """True user-video affinity ``u . v`` for aligned arrays of ids (shape of the inputs)."""
        return np.einsum(
            "nd,nd->n",
            self.user_factors[np.ravel(user_id)],
            self.video_factors[np.ravel(item_id)],
        ).reshape(np.shape(user_id))

    def to_dataset(self) -> Dataset:
        """The common schema: interactions are the watches; items are the videos."""
        return Dataset(
            name="simulator",
            interactions=self.watches,
            items=self.videos,
            users=self.users,
            extras={"searches": self.searches, "impressions": self.impressions},
            world=self,
        )


def simulate(config: SimConfig | None = None, **overrides: Any) -> World:
    """Generate a world; e.g. ``simulate(n_users=500, n_videos=300, n_watches=20_000, seed=1)``.

    Default size (5k users, 3k videos, 500k organic watches, 20k slates) takes a few
    seconds on one core.
    """
    cfg = replace(config or SimConfig(), **overrides)
    cfg.validate()
    ss = np.random.SeedSequence(cfg.seed)
    r_users, r_videos, r_sessions, r_choice, r_watch, r_search, r_slates = (
        np.random.default_rng(s) for s in ss.spawn(7)
    )
    topic_names = _topic_names(cfg.n_topics)

    # Topics live in latent space; users and videos sit near the topics they like / belong to.
    topic_centers = r_videos.normal(0.0, 1.0, (cfg.n_topics, cfg.dim)) / np.sqrt(cfg.dim)

    users, user_pref, user_factors, user_lang, activity = _make_users(cfg, r_users, topic_centers)
    videos, video_factors, latent = _make_videos(cfg, r_videos, topic_centers, topic_names)

    organic, searches, search_topic, n_sessions = _make_watches(
        cfg, r_sessions, r_choice, r_watch, r_search, videos, latent, video_factors,
        user_pref, user_factors, user_lang, activity, topic_names,
    )
    impressions, homepage, history = _make_impressions(
        cfg, r_slates, videos, latent, video_factors, user_pref, user_factors, user_lang, activity,
        users["device"].cat.codes.to_numpy().astype(np.int64),
        organic, searches, search_topic, n_sessions,
    )
    watches = pd.concat([organic, homepage], ignore_index=True)
    watches = watches.sort_values(["timestamp", "user_id", "session_id"], kind="stable").reset_index(drop=True)
    return World(
        config=cfg,
        users=users,
        videos=videos,
        watches=watches,
        searches=searches,
        impressions=impressions,
        user_factors=user_factors,
        video_factors=video_factors,
        user_topic_pref=user_pref,
        video_latent=latent,
        topic_names=topic_names,
        impression_history=history,
    )


# --------------------------------------------------------------------------------------
# building blocks


def _topic_names(n: int) -> tuple[str, ...]:
    if n <= len(TOPIC_NAMES):
        return TOPIC_NAMES[:n]
    return TOPIC_NAMES + tuple(f"topic{i}" for i in range(len(TOPIC_NAMES), n))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _freshness(age_days: np.ndarray, hype: np.ndarray, peak_days: np.ndarray) -> np.ndarray:
    """Popularity multiplier: 0 before upload, a bump peaking ``peak_days`` after upload
    (height ``1 + hype``), then a slow long-run decay for old catalogue videos."""
    age = np.maximum(age_days, 0.0)
    x = age / peak_days
    bump = 1.0 + hype * x * np.exp(1.0 - x)
    return np.where(age_days >= 0, bump / np.sqrt(1.0 + age / 30.0), 0.0)


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of ``probs`` (rows sum to 1), vectorised by inverse CDF."""
    cdf = np.cumsum(probs, axis=1)
    u = rng.random((probs.shape[0], 1)) * cdf[:, -1:]
    return np.minimum((cdf < u).sum(axis=1), probs.shape[1] - 1)


def _make_users(cfg: SimConfig, rng: np.random.Generator, topic_centers: np.ndarray):
    n, k = cfg.n_users, cfg.n_topics
    age = rng.choice(len(AGE_BUCKETS), n, p=AGE_P)
    gender = rng.integers(0, len(GENDERS), n)
    country = rng.choice(len(COUNTRIES), n, p=COUNTRY_P)
    device = rng.choice(len(DEVICES), n, p=DEVICE_P)
    logged_in = rng.random(n) < 0.8
    activity = rng.lognormal(0.0, 1.0, n)  # heavy tail: a few users watch a lot

    # Demographics shift topic tastes, so they are a useful prior for new users.
    age_eff = rng.normal(0, 1.0, (len(AGE_BUCKETS), k))
    gender_eff = rng.normal(0, 0.7, (len(GENDERS), k))
    country_eff = rng.normal(0, 0.5, (len(COUNTRIES), k))
    logits = age_eff[age] + gender_eff[gender] + country_eff[country] + rng.normal(0, 1.2, (n, k))
    logits = cfg.taste_sharpness * logits
    pref = np.exp(logits - logits.max(axis=1, keepdims=True))
    pref /= pref.sum(axis=1, keepdims=True)
    factors = (pref @ topic_centers) * 2.0 + rng.normal(0, 1.0, (n, cfg.dim)) / np.sqrt(cfg.dim)

    age_obs = np.array(AGE_BUCKETS + (UNKNOWN,), dtype=object)[np.where(logged_in, age, len(AGE_BUCKETS))]
    gender_obs = np.array(GENDERS + (UNKNOWN,), dtype=object)[np.where(logged_in, gender, len(GENDERS))]
    users = pd.DataFrame(
        {
            "user_id": np.arange(n, dtype=np.int64),
            "age_bucket": pd.Categorical(age_obs, categories=AGE_BUCKETS + (UNKNOWN,)),
            "gender": pd.Categorical(gender_obs, categories=GENDERS + (UNKNOWN,)),
            "country": pd.Categorical.from_codes(country, categories=COUNTRIES),
            "device": pd.Categorical.from_codes(device, categories=DEVICES),
            "logged_in": logged_in,
        }
    )
    lang_index = {lang: i for i, lang in enumerate(LANGUAGES)}
    user_lang = np.array([lang_index[COUNTRY_LANGUAGE[c]] for c in range(len(COUNTRIES))])[country]
    return users, pref, factors.astype(np.float32), user_lang, activity


def _make_videos(cfg: SimConfig, rng: np.random.Generator, topic_centers: np.ndarray, topic_names):
    n, k = cfg.n_videos, cfg.n_topics
    n_channels = cfg.n_channels or max(k, n // 12)
    n_channels = min(n_channels, n)
    ch_topic = np.arange(n_channels) % k  # every topic gets channels
    rng.shuffle(ch_topic)
    ch_lang = rng.choice(len(LANGUAGES), n_channels, p=(0.55, 0.1, 0.08, 0.07, 0.06, 0.06, 0.08))
    ch_size = rng.lognormal(0.0, 1.0, n_channels)
    ch_pop = rng.lognormal(0.0, 0.5, n_channels)
    ch_offset = rng.normal(0, 1.0, (n_channels, cfg.dim)) / np.sqrt(cfg.dim)

    # First n_channels videos seed each channel once; the rest go to channels by size.
    channel = np.concatenate([
        rng.permutation(n_channels),
        rng.choice(n_channels, n - n_channels, p=ch_size / ch_size.sum()),
    ])[:n]
    topic = np.where(rng.random(n) < 0.85, ch_topic[channel], rng.integers(0, k, n))
    topic[:n_channels] = ch_topic[channel[:n_channels]]  # so that no topic is left empty

    start, end = cfg.start_time, cfg.start_time + cfg.n_days * DAY
    backlog = rng.random(n) < cfg.backlog_fraction
    # Every topic needs at least one video that exists from the start of the window.
    first_of_topic = np.unique(topic, return_index=True)[1]
    backlog[first_of_topic] = True
    upload = np.where(
        backlog,
        rng.integers(start - cfg.backlog_days * DAY, start, n),
        rng.integers(start, end, n),
    ).astype(np.int64)

    topic_median = rng.lognormal(np.log(420.0), 0.6, k)  # seconds; gaming long, news short...
    duration = np.clip(rng.lognormal(np.log(topic_median[topic]), 0.6), 15, 4 * 3600).astype(np.int64)

    factors = topic_centers[topic] + 0.6 * ch_offset[channel] + rng.normal(0, 0.6, (n, cfg.dim)) / np.sqrt(cfg.dim)
    latent = {
        "quality": (ch_pop[channel] * rng.lognormal(0.0, 0.5, n)),
        "clickbait": rng.normal(0.0, 1.0, n),
        "hype": rng.lognormal(np.log(cfg.hype_median), 0.7, n),
        "peak_days": rng.lognormal(np.log(cfg.peak_days_median), 0.4, n),
        "language": ch_lang[channel],
    }
    videos = pd.DataFrame(
        {
            "item_id": np.arange(n, dtype=np.int64),
            "channel_id": channel.astype(np.int64),
            "topic": pd.Categorical.from_codes(topic, categories=list(topic_names)),
            "upload_time": upload,
            "duration": duration,
            "language": pd.Categorical.from_codes(ch_lang[channel], categories=LANGUAGES),
        }
    )
    return videos, factors.astype(np.float32), latent


class _Chooser:
    """Pick a video for (user, topic, time) among videos of that topic already uploaded.

    Target: p(v) proportional to exp(beta * u.v) * freshness * quality * language appeal.
    Scoring every video for every event would cost events x videos, so we use
    sampling-importance-resampling: ``candidates`` proposals (half uniform over the topic's
    uploaded videos, half over its recent uploads, where the freshness mass is), reweighted
    by target / proposal density and resampled with the Gumbel-max trick.
    """

    def __init__(self, cfg: SimConfig, videos: pd.DataFrame, latent, video_factors, user_factors, user_lang):
        topic = videos["topic"].cat.codes.to_numpy().astype(np.int64)
        upload = videos["upload_time"].to_numpy()
        self.order = np.lexsort((upload, topic))  # videos sorted by (topic, upload time)
        self.span = np.int64(cfg.backlog_days * DAY + cfg.n_days * DAY + 10 * DAY)
        self.base = np.int64(cfg.start_time - cfg.backlog_days * DAY - DAY)
        self.keys = topic[self.order] * self.span + (upload[self.order] - self.base)
        self.topic_start = np.searchsorted(topic[self.order], np.arange(cfg.n_topics))
        self.cfg, self.latent, self.upload = cfg, latent, upload
        self.vf, self.uf, self.user_lang = video_factors, user_factors, user_lang
        self.log_quality = np.log(latent["quality"])

    def choose(self, rng: np.random.Generator, user: np.ndarray, topic: np.ndarray, t: np.ndarray, beta: float) -> np.ndarray:
        out = np.empty(len(user), dtype=np.int64)
        chunk = 32_768  # bounds memory: chunk * candidates * dim floats
        for lo in range(0, len(user), chunk):
            sl = slice(lo, lo + chunk)
            out[sl] = self._choose(rng, user[sl], topic[sl], t[sl], beta)
        return out

    def _choose(self, rng, user, topic, t, beta):
        cfg, k = self.cfg, self.cfg.candidates
        first = self.topic_start[topic]
        hi = np.searchsorted(self.keys, topic * self.span + (t - self.base), side="right")
        lo_recent = np.searchsorted(
            self.keys, topic * self.span + (t - int(cfg.recent_days * DAY) - self.base), side="right"
        )
        lo_recent = np.maximum(lo_recent, first)
        n_all = (hi - first)[:, None]  # >= 1: every topic has a backlog video
        n_recent = (hi - lo_recent)[:, None]
        use_recent = (rng.random((len(user), k)) < 0.5) & (n_recent > 0)
        u = rng.random((len(user), k))
        pos = np.where(
            use_recent,
            lo_recent[:, None] + (u * n_recent).astype(np.int64),
            first[:, None] + (u * n_all).astype(np.int64),
        )
        pos = np.minimum(pos, hi[:, None] - 1)
        cand = self.order.take(pos)
        is_recent = pos >= lo_recent[:, None]
        q = 0.5 / n_all + np.where(is_recent & (n_recent > 0), 0.5 / np.maximum(n_recent, 1), 0.0)
        q = np.where(n_recent > 0, q, 1.0 / n_all)

        match = np.einsum("nd,nkd->nk", self.uf.take(user, axis=0), self.vf.take(cand, axis=0))
        lat = self.latent
        age = (t[:, None] - self.upload.take(cand)) / DAY
        fresh = _freshness(age, lat["hype"].take(cand), lat["peak_days"].take(cand))
        foreign = lat["language"].take(cand) != self.user_lang.take(user)[:, None]
        logw = beta * match + np.log(fresh) + self.log_quality.take(cand) - np.log(q)
        logw += np.where(foreign, np.log(cfg.other_language), 0.0)
        # Gumbel-max: argmax(logw + Gumbel noise) samples proportionally to exp(logw).
        u = rng.random(logw.shape, dtype=np.float32)
        pick = np.argmax(logw - np.log(-np.log(np.maximum(u, 1e-30))), axis=1)
        return cand[np.arange(len(user)), pick]


def _completion_mean(match_z, clickbait, duration, median_duration, extra=0.0):
    """Expected fraction of a video watched once started: good matches are watched longer,
    clickbait and long videos are abandoned sooner; ``extra`` adds history terms (logit)."""
    return _sigmoid(0.3 + 0.9 * match_z - 1.5 * clickbait - 0.5 * np.log(duration / median_duration) + extra)


def _match_stats(user_factors, video_factors, rng: np.random.Generator):
    """Mean and sd of u.v over random pairs, to put matches on a z scale."""
    n = 20_000
    u = rng.integers(0, len(user_factors), n)
    v = rng.integers(0, len(video_factors), n)
    m = np.einsum("nd,nd->n", user_factors[u], video_factors[v])
    return float(m.mean()), float(m.std() + 1e-9)


def _make_watches(cfg, r_sessions, r_choice, r_watch, r_search, videos, latent, video_factors,
                  user_pref, user_factors, user_lang, activity, topic_names):
    n_watch = cfg.n_watches
    start, end = cfg.start_time, cfg.start_time + cfg.n_days * DAY
    # Sessions until the watch budget is spent; the last one is cut short.
    n_sess = int(np.ceil(n_watch / cfg.mean_session_len * 1.2)) + 16
    lengths = np.minimum(r_sessions.geometric(1.0 / cfg.mean_session_len, n_sess), cfg.max_session_len)
    cum = np.cumsum(lengths)
    n_sess = int(np.searchsorted(cum, n_watch) + 1) if n_watch > 0 else 0
    while n_sess > len(lengths):  # astronomically unlikely, but keep the budget exact
        extra = np.minimum(r_sessions.geometric(1.0 / cfg.mean_session_len, n_sess), cfg.max_session_len)
        lengths = np.concatenate([lengths, extra])
        cum = np.cumsum(lengths)
        n_sess = int(np.searchsorted(cum, n_watch) + 1)
    lengths = lengths[:n_sess].copy()
    if n_sess:
        lengths[-1] -= cum[n_sess - 1] - n_watch

    sess_user = r_sessions.choice(cfg.n_users, n_sess, p=activity / activity.sum())
    sess_start = r_sessions.integers(start, end - 6 * 3600, n_sess).astype(np.int64)
    explore = r_sessions.random(n_sess) < cfg.explore
    sess_topic = np.where(
        explore, r_sessions.integers(0, cfg.n_topics, n_sess), _categorical(r_sessions, user_pref[sess_user])
    )
    is_search = r_sessions.random(n_sess) < cfg.search_prob

    sess_of = np.repeat(np.arange(n_sess), lengths)
    user = sess_user[sess_of]
    chooser = _Chooser(cfg, videos, latent, video_factors, user_factors, user_lang)
    # Availability is judged at session start: a session lasts hours, a catalogue months.
    item = chooser.choose(r_choice, user, sess_topic[sess_of], sess_start[sess_of], cfg.beta)
    # People rarely rewatch a video within one sitting: re-draw repeats a few times.
    for _ in range(4):
        dup = pd.DataFrame({"s": sess_of, "i": item}).duplicated().to_numpy()
        if not dup.any():
            break
        rows = np.flatnonzero(dup)
        item[rows] = chooser.choose(r_choice, user[rows], sess_topic[sess_of][rows], sess_start[sess_of][rows], cfg.beta)

    duration = videos["duration"].to_numpy()[item]
    mu, sd = _match_stats(user_factors, video_factors, r_watch)
    match_z = (np.einsum("nd,nd->n", user_factors[user], video_factors[item]) - mu) / sd
    mean = _completion_mean(match_z, latent["clickbait"][item], duration, np.median(videos["duration"]))
    kappa = cfg.completion_concentration
    completion = r_watch.beta(mean * kappa, (1 - mean) * kappa)
    watch_time = np.maximum(1, np.round(duration * completion)).astype(np.int64)

    # Watches in a session follow each other: start + previous watch times + short pauses.
    step = watch_time + r_watch.integers(5, 60, len(item))
    csum = np.cumsum(step)
    first_idx = np.concatenate([[0], np.cumsum(lengths)[:-1]]) if n_sess else np.zeros(0, np.int64)
    before = csum - step  # cumulative steps before each watch, globally
    offset = before - before[first_idx][sess_of]
    # A session that would run past the window end is squeezed to fit (clipping would pile
    # watches up on the last second); order and upload-before-watch both survive.
    span = np.zeros(n_sess, dtype=np.int64)
    np.maximum.at(span, sess_of, offset)
    room = end - 1 - sess_start
    squeeze = np.where(span > room, room / np.maximum(span, 1), 1.0)
    timestamp = (sess_start[sess_of] + np.floor(offset * squeeze[sess_of])).astype(np.int64)

    watches = pd.DataFrame(
        {
            "user_id": user.astype(np.int64),
            "item_id": item,
            "timestamp": timestamp,
            "watch_time": watch_time,
            "session_id": sess_of.astype(np.int64),
            "source": pd.Categorical.from_codes(is_search[sess_of].astype(np.int8), categories=list(SOURCES)),
        }
    )
    watches = watches.sort_values(["timestamp", "user_id", "session_id"], kind="stable").reset_index(drop=True)

    searches = _make_searches(cfg, r_search, np.flatnonzero(is_search), sess_user, sess_start, sess_topic, topic_names)
    # The topic each query was about (the simulator's truth; a model reads the tokens).
    search_topic = sess_topic[searches["session_id"].to_numpy()].astype(np.int64)
    return watches, searches, search_topic, n_sess


def _make_searches(cfg, rng, sess, sess_user, sess_start, sess_topic, topic_names):
    """Search queries (1-4 tokens) about the session's topic, issued just before it starts."""
    n = len(sess)
    n_words = 30
    n_tok = rng.integers(1, 5, n)
    owner = np.repeat(np.arange(n), n_tok)
    total = int(n_tok.sum())
    # Zipf-like word choice within a topic; the first token is always topical.
    word = np.minimum(rng.zipf(1.6, total) - 1, n_words - 1)
    first = np.concatenate([[0], np.cumsum(n_tok)[:-1]]) if n else np.zeros(0, np.int64)
    is_generic = rng.random(total) < 0.3
    is_generic[first] = False
    generic = rng.integers(0, len(GENERIC_TOKENS), total)
    topic_vocab = np.array([f"{t}_{w}" for t in topic_names for w in range(n_words)], dtype=object)
    topical = topic_vocab[sess_topic[sess][owner] * n_words + word]
    tokens = np.where(is_generic, np.array(GENERIC_TOKENS, dtype=object)[generic], topical)
    token_lists = [list(a) for a in np.split(tokens, first[1:])] if n else []
    searches = pd.DataFrame(
        {
            "user_id": sess_user[sess].astype(np.int64),
            "timestamp": np.maximum(sess_start[sess] - rng.integers(5, 60, n), cfg.start_time).astype(np.int64),
            "session_id": sess.astype(np.int64),
            "tokens": pd.Series(token_lists, dtype=object),
        }
    )
    return searches.sort_values(["timestamp", "user_id"], kind="stable").reset_index(drop=True)


def _make_impressions(
    cfg, rng, videos, latent, video_factors, user_pref, user_factors, user_lang, activity, device,
    organic: pd.DataFrame, searches: pd.DataFrame, search_topic: np.ndarray, n_sessions: int,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Homepage slates chosen by an imperfect old recommender, with clicks and watch time.

    Returns ``(impressions, homepage, history)``: the impression log (n_slates * slate_size
    rows, slates in time order), the watches the clicks became (one row per click, watch
    columns, session ids after the organic ones), and the history values the click model
    used (rows aligned with ``impressions``; see ``World``).
    """
    n_slates, size = cfg.n_slates, cfg.slate_size
    start, end = cfg.start_time, cfg.start_time + cfg.n_days * DAY
    slate_user = rng.choice(cfg.n_users, n_slates, p=activity / activity.sum())
    slate_time = rng.integers(start, end, n_slates).astype(np.int64)
    # Number slates in time order, so slate_id follows the clock.
    by_time = np.lexsort((slate_user, slate_time))
    slate_user, slate_time = slate_user[by_time], slate_time[by_time]
    n = n_slates * size
    slate = np.repeat(np.arange(n_slates), size)
    user = slate_user[slate]
    t = slate_time[slate]
    position = np.tile(np.arange(size), n_slates)
    # The old system knows tastes only roughly: half taste, half uniform, softer match.
    mix = 0.5 * user_pref[user] + 0.5 / cfg.n_topics
    topic = _categorical(rng, mix)
    chooser = _Chooser(cfg, videos, latent, video_factors, user_factors, user_lang)
    item = chooser.choose(rng, user, topic, t, 0.5 * cfg.beta)
    # A slate shows a video once: re-draw repeats, topic included (a topic's few fresh hits
    # would come up again), a few times; a tiny catalogue may keep some.
    for _ in range(16):
        dup = np.flatnonzero(pd.DataFrame({"s": slate, "i": item}).duplicated().to_numpy())
        if not len(dup):
            break
        topic[dup] = _categorical(rng, mix[dup])
        item[dup] = chooser.choose(rng, user[dup], topic[dup], t[dup], 0.5 * cfg.beta)

    mu, sd = _match_stats(user_factors, video_factors, rng)
    match_z = (np.einsum("nd,nd->n", user_factors[user], video_factors[item]) - mu) / sd
    duration = videos["duration"].to_numpy()[item]
    clickbait = latent["clickbait"][item]
    fresh = _freshness((t - videos["upload_time"].to_numpy()[item]) / DAY, latent["hype"][item], latent["peak_days"][item])
    device_bias = np.array([0.0, 0.2, 0.1, -0.3])[device[user]]  # TV thumbnails are small
    base_logit = cfg.click_intercept + 0.9 * match_z + 0.8 * clickbait + 0.3 * np.log(fresh) - 0.12 * position + device_bias
    u_click = rng.random(n)  # drawn up front: the walk below then needs no generator

    hist = _impression_history(cfg, videos, user, item, t, slate, slate_user, organic, searches, search_topic)
    channel_watches = hist["organic_channel_watches"]
    last_channel = hist["organic_last_channel"]  # time of the last channel watch, -1 if none
    ignored = np.zeros(n, np.int64)
    p_click = np.zeros(n)
    clicked = np.zeros(n, dtype=bool)
    rank = hist["slate_rank"][slate]
    n_user_slates = hist["user_slates"][slate]
    by_rank = np.argsort(rank, kind="stable")
    bounds = np.searchsorted(rank[by_rank], np.arange(int(rank.max(initial=-1)) + 2))
    ch_group, it_group = hist["channel_group"], hist["item_group"]
    active = np.arange(n)  # impressions of users who still have slates to come
    # Walk the slates in per-user order: the k-th slate of every user at once.  A click on
    # slate k is a channel watch for slate k+1, and an ignored impression is churn for it.
    for k in range(len(bounds) - 1):
        if k == 0 or 2 * (n_user_slates[active] > k).sum() < len(active):
            # Every step costs O(len(active)) and few users have many slates: drop the
            # users who have none left once they are half the work.
            active = active[n_user_slates[active] > k]
            ch_blk = _blocks(ch_group[active], t[active])
            it_blk = _blocks(it_group[active], t[active])
        rows = by_rank[bounds[k] : bounds[k + 1]]
        local = np.searchsorted(active, rows)
        c = clicked[active]
        n_hp, last_hp = _clicks_before(c, ch_blk, local, want_last=True)
        ignored[rows] = it_blk[2][local] - _clicks_before(c, it_blk, local)[0]
        channel_watches[rows] += n_hp
        hp_time = np.where(last_hp >= 0, t[active[np.maximum(last_hp, 0)]], -1)
        last_channel[rows] = np.maximum(last_channel[rows], hp_time)
        days = (t[rows] - last_channel[rows]) / DAY
        recent = np.where(last_channel[rows] >= 0, np.exp(-days / cfg.recency_days), 0.0)
        logit = (
            base_logit[rows]
            + cfg.click_channel * np.log1p(channel_watches[rows])
            + cfg.click_recency * recent
            - cfg.click_churn * ignored[rows]
            + cfg.click_search * hist["search_on_topic"][rows]
        )
        p_click[rows] = _sigmoid(logit)
        clicked[rows] = u_click[rows] < p_click[rows]

    extra = cfg.watch_channel * np.log1p(channel_watches) + cfg.watch_search * hist["search_on_topic"]
    mean = _completion_mean(match_z, clickbait, duration, np.median(videos["duration"]), extra)
    kappa = cfg.completion_concentration
    completion = rng.beta(mean * kappa, (1 - mean) * kappa)
    watch_time = np.where(clicked, np.maximum(1, np.round(duration * completion)), 0).astype(np.int64)
    ewt_clicked = duration * mean

    impressions = pd.DataFrame(
        {
            "slate_id": slate.astype(np.int64),
            "user_id": user.astype(np.int64),
            "item_id": item,
            "timestamp": t,
            "position": position.astype(np.int64),
            "clicked": clicked.astype(np.int8),
            "watch_time": watch_time,
            "true_relevance": match_z.astype(np.float64),
            "true_p_click": p_click,
            "true_expected_watch_time": p_click * ewt_clicked,
            "true_expected_watch_time_if_clicked": ewt_clicked,
        }
    )
    rows = np.flatnonzero(clicked)
    homepage = pd.DataFrame(
        {
            "user_id": user[rows].astype(np.int64),
            "item_id": item[rows],
            "timestamp": t[rows],
            "watch_time": watch_time[rows],
            # A homepage visit is a session of its own; its clicks share it.
            "session_id": (n_sessions + slate[rows]).astype(np.int64),
            "source": pd.Categorical.from_codes(np.full(len(rows), SOURCES.index("homepage"), np.int8), categories=list(SOURCES)),
        }
    )
    history = pd.DataFrame(
        {
            "channel_watches": channel_watches,
            "days_since_channel_watch": np.where(last_channel >= 0, (t - last_channel) / DAY, np.nan),
            "ignored_impressions": ignored,
            "search_on_topic": hist["search_on_topic"].astype(bool),
        }
    )
    return impressions, homepage, history


def _impression_history(
    cfg: SimConfig, videos: pd.DataFrame, user: np.ndarray, item: np.ndarray, t: np.ndarray, slate: np.ndarray,
    slate_user: np.ndarray, organic: pd.DataFrame, searches: pd.DataFrame, search_topic: np.ndarray,
) -> dict[str, np.ndarray]:
    """What the click model needs that does not depend on earlier clicks, for n impressions.

    * ``organic_channel_watches`` (n,) int64 and ``organic_last_channel`` (n,) int64 (time,
      -1 if none): the user's organic watches of the video's channel strictly before ``t``;
    * ``search_on_topic`` (n,) float: 1 if the user's last search strictly before ``t``
      was about the video's topic;
    * ``slate_rank`` (n_slates,) int64: 0 for a user's first slate, 1 for the next...;
      ``user_slates`` (n_slates,) int64: how many slates the slate's user gets;
    * ``channel_group``, ``item_group`` (n,) int64: (user, channel) and (user, video)
      folded into one id each, for :func:`_blocks`.
    """
    channel_of = videos["channel_id"].to_numpy().astype(np.int64)
    topic_of = videos["topic"].cat.codes.to_numpy().astype(np.int64)
    n_ch, n_items = np.int64(channel_of.max() + 1), np.int64(len(channel_of))
    w_user = organic["user_id"].to_numpy()
    w_item = organic["item_id"].to_numpy()
    w_t = organic["timestamp"].to_numpy()
    ch_group = user * n_ch + channel_of[item]
    count, last = events_before(w_user * n_ch + channel_of[w_item], w_t, ch_group, t)
    last_time = _take_or(w_t, last, -1)

    _, last_search = events_before(searches["user_id"].to_numpy(), searches["timestamp"].to_numpy(), user, t)
    search_on_topic = _take_or(search_topic, last_search, -1) == topic_of[item]

    # Slates are in time order; a stable sort by user keeps each user's slates in that order.
    by_user = np.argsort(slate_user, kind="stable")
    su = slate_user[by_user]
    run_start = np.maximum.accumulate(np.where(np.r_[True, su[1:] != su[:-1]], np.arange(len(su)), 0)) if len(su) else su
    rank = np.empty(len(su), np.int64)
    rank[by_user] = np.arange(len(su)) - run_start

    return {
        "organic_channel_watches": count,
        "organic_last_channel": last_time.astype(np.int64),
        "search_on_topic": search_on_topic.astype(np.float64),
        "slate_rank": rank,
        "user_slates": np.bincount(slate_user, minlength=cfg.n_users)[slate_user],
        "channel_group": ch_group,
        "item_group": user * n_items + item,
    }


def _take_or(values: np.ndarray, index: np.ndarray, fill: int) -> np.ndarray:
    """``values[index]`` where ``index >= 0``, else ``fill`` (also when ``values`` is empty)."""
    if not len(values):
        return np.full(len(index), fill, dtype=np.int64)
    return np.where(index >= 0, values[np.maximum(index, 0)], fill)


def _blocks(group: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sort impressions by (group, time); impression j's strictly earlier same-group
    impressions are ``order[lo[j] : lo[j] + count[j]]``.  Returns ``(order, lo, count)``,
    each (n,) int64 (what :func:`events_before` counts, found in one pass over the sort)."""
    order = np.lexsort((t, group))
    gs, ts = group[order], t[order]
    n = len(order)
    new_group = np.r_[True, gs[1:] != gs[:-1]] if n else np.zeros(0, bool)
    new_time = new_group | (np.r_[True, ts[1:] != ts[:-1]] if n else new_group)
    pos = np.arange(n)
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0)) if n else pos
    time_start = np.maximum.accumulate(np.where(new_time, pos, 0)) if n else pos  # ties share it
    lo, count = np.empty(n, np.int64), np.empty(n, np.int64)
    lo[order] = group_start
    count[order] = time_start - group_start
    return order, lo, count


def _clicks_before(
    clicked: np.ndarray, blocks: tuple[np.ndarray, np.ndarray, np.ndarray], rows: np.ndarray, want_last: bool = False,
) -> tuple[np.ndarray, np.ndarray | None]:
    """For impressions ``rows``: how many of their earlier same-group impressions were
    clicked, and (``want_last``) the index of the latest clicked one (-1 if none; else
    None).  Only impressions of earlier slates can be earlier, and those are final when
    ``rows`` are processed."""
    order, lo, count = blocks
    c = clicked[order]
    csum = np.concatenate([[0], np.cumsum(c)])
    lo_r, hi_r = lo[rows], lo[rows] + count[rows]
    n = (csum[hi_r] - csum[lo_r]).astype(np.int64)
    if not want_last:
        return n, None
    last_pos = np.maximum.accumulate(np.where(c, np.arange(len(c)), -1))
    j = last_pos[np.maximum(hi_r - 1, 0)]  # the latest click up to the block's end
    return n, np.where(n > 0, order[np.maximum(j, 0)], -1)
