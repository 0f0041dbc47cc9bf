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
* homepage impression slates with ``clicked`` and ``watch_time``.  Clicks respond to a
  latent "clickbait" quality that *shortens* watches, and watch time depends on user-video
  match and on duration, so weighted logistic regression has something CTR cannot see.
  Ground truth per impression: ``true_p_click``, ``true_relevance``,
  ``true_expected_watch_time`` (``= true_p_click * true_expected_watch_time_if_clicked``).

Determinism: one ``seed`` gives bit-identical DataFrames; every stage draws from its own
child generator, so changing e.g. the number of impressions leaves the watches unchanged.
Everything is vectorised with numpy; there is no Python loop over events.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

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
      (``search`` or ``browse``), sorted by timestamp
    * ``searches``: user_id, timestamp, session_id, tokens (list[str]); the session's first
      watch follows a few seconds later
    * ``impressions``: slate_id, user_id, item_id, timestamp, position, clicked, watch_time,
      and ground truth ``true_relevance``, ``true_p_click``, ``true_expected_watch_time``,
      ``true_expected_watch_time_if_clicked`` (not features!)

    Latent truth: ``user_factors`` (n_users, dim), ``video_factors`` (n_videos, dim),
    ``user_topic_pref`` (n_users, n_topics) rows summing to 1, and per-video arrays in
    ``video_latent`` (quality, clickbait, hype, peak_days).
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

    Default size (5k users, 3k videos, 500k watches) takes a few seconds on one core.
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

    watches, searches = _make_watches(
        cfg, r_sessions, r_choice, r_watch, r_search, videos, latent, video_factors,
        user_pref, user_factors, user_lang, activity, topic_names,
    )
    impressions = _make_impressions(
        cfg, r_slates, videos, latent, video_factors, user_pref, user_factors, user_lang, activity,
        users["device"].cat.codes.to_numpy().astype(np.int64),
    )
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


def _completion_mean(match_z, clickbait, duration, median_duration):
    """Expected fraction of a video watched once started: good matches are watched longer,
    clickbait and long videos are abandoned sooner."""
    return _sigmoid(0.3 + 0.9 * match_z - 1.5 * clickbait - 0.5 * np.log(duration / median_duration))


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
            "source": pd.Categorical.from_codes(is_search[sess_of].astype(np.int8), categories=["browse", "search"]),
        }
    )
    watches = watches.sort_values(["timestamp", "user_id", "session_id"], kind="stable").reset_index(drop=True)

    searches = _make_searches(cfg, r_search, np.flatnonzero(is_search), sess_user, sess_start, sess_topic, topic_names)
    return watches, searches


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


def _make_impressions(cfg, rng, videos, latent, video_factors, user_pref, user_factors, user_lang, activity, device):
    """Homepage slates chosen by an imperfect old recommender, with clicks and watch time."""
    n_slates, size = cfg.n_slates, cfg.slate_size
    start, end = cfg.start_time, cfg.start_time + cfg.n_days * DAY
    slate_user = rng.choice(cfg.n_users, n_slates, p=activity / activity.sum())
    slate_time = rng.integers(start, end, n_slates).astype(np.int64)
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

    mu, sd = _match_stats(user_factors, video_factors, rng)
    match_z = (np.einsum("nd,nd->n", user_factors[user], video_factors[item]) - mu) / sd
    duration = videos["duration"].to_numpy()[item]
    clickbait = latent["clickbait"][item]
    fresh = _freshness((t - videos["upload_time"].to_numpy()[item]) / DAY, latent["hype"][item], latent["peak_days"][item])
    device_bias = np.array([0.0, 0.2, 0.1, -0.3])[device[user]]  # TV thumbnails are small
    p_click = _sigmoid(-2.6 + 0.9 * match_z + 0.7 * clickbait + 0.3 * np.log(fresh) - 0.12 * position + device_bias)
    mean = _completion_mean(match_z, clickbait, duration, np.median(videos["duration"]))
    kappa = cfg.completion_concentration
    clicked = rng.random(n) < p_click
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
    return impressions

