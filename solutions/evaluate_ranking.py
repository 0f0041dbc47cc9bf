"""Evaluate weighted (watch-time) and plain (click) logistic regression on held-out impressions.

    python -m solutions.evaluate_ranking --dataset simulator [--seed 0]
    python -m solutions.evaluate_ranking --dataset ml-latest-small [--root DIR]

The last line printed is JSON: ``{"dataset": ..., "n_train": ..., "n_test": ..., "models": {"weighted_lr":
{...}, "plain_lr": {...}}}`` with, per model, ``weighted_per_user_loss`` (paper 4.3: share of watch time on
(clicked, unclicked) pairs of one user ranked the wrong way), ``auc`` (clicked vs not, all test impressions)
and, on the simulator only, ``calibration_error``: the mean |log predicted - log true expected watch time|
(weighted LR predicts e^z; plain LR predicts p × the mean watch time of a training click).

Both models are the linear ranker of ``ytdnn.ranking_inputs`` fitted to their optimum by L-BFGS on the
first 80% of impressions in time; the rest is the test set.

MovieLens has no impressions and no watch times. What stands in (documented, not equivalent):
* every rating is a clicked impression whose "watch time" is the rating (0.5 to 5 stars): a weight
  for how much the user valued the movie;
* unclicked impressions: for each rating, 4 movies the user never rated, drawn in proportion to their
  number of ratings (a popularity-biased recommender showed them), at the same timestamp;
* features, each from ratings strictly before the impression: the movie's number of ratings so far,
  the user's number of ratings so far, the user's earlier ratings of the movie's first genre and the
  days since the last of them (the analogue of channel watches and recency in paper 4.1), the first
  genre one-hot, and a per-movie bias for the 1000 most rated training movies.
There is no true expected watch time, so no calibration error. Bad input: one line on stderr, exit 2.
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from solutions.watch_time import expected_watch_time, weighted_logistic_loss, weighted_per_user_loss
from ytdnn.data import DataError, load
from ytdnn.ranking_data import DAY, events_before, ranking_table
from ytdnn.ranking_inputs import LinearRanker, RankingInputs, build_inputs, continuous_block, fit_lbfgs, predict_logits
from ytdnn.vocab import Vocab

NEGATIVES_PER_RATING = 4
SIM_SIZE = dict(n_users=2000, n_videos=1000, n_watches=100_000, n_slates=10_000)


def plain_logistic_loss(logits: torch.Tensor, clicked: torch.Tensor, watch_time: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, clicked)


def auc(score: np.ndarray, clicked: np.ndarray) -> float:
    """Probability that a random clicked impression outscores a random unclicked one (ties half)."""
    ranks = pd.Series(score).rank(method="average").to_numpy()
    pos = np.asarray(clicked).astype(bool)
    n_pos, n_neg = pos.sum(), (~pos).sum()
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def movielens_impressions(ratings: pd.DataFrame, items: pd.DataFrame | None, seed: int = 0) -> pd.DataFrame:
    """One row per (rating or sampled unrated movie), with the stand-in features (module docstring)."""
    rng = np.random.default_rng(seed)
    r = ratings.sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(drop=True)
    counts = r["item_id"].value_counts()
    movies, p = counts.index.to_numpy(np.int64), (counts / counts.sum()).to_numpy()
    neg_item = rng.choice(movies, size=(len(r), NEGATIVES_PER_RATING), p=p)
    rated = set(zip(r["user_id"].to_numpy(), r["item_id"].to_numpy()))
    user_rep = np.repeat(r["user_id"].to_numpy(), NEGATIVES_PER_RATING)
    keep = np.array([(u, i) not in rated for u, i in zip(user_rep, neg_item.ravel())])
    imp = pd.concat([
        pd.DataFrame({"user_id": r["user_id"], "item_id": r["item_id"], "timestamp": r["timestamp"],
                      "clicked": 1, "watch_time": r["rating"].astype(float)}),
        pd.DataFrame({"user_id": user_rep[keep], "item_id": neg_item.ravel()[keep],
                      "timestamp": np.repeat(r["timestamp"].to_numpy(), NEGATIVES_PER_RATING)[keep],
                      "clicked": 0, "watch_time": 0.0}),
    ]).sort_values(["timestamp", "user_id", "item_id"], kind="stable").reset_index(drop=True)
    if items is not None and "genres" in items.columns:
        first = items.set_index("item_id")["genres"].astype(str).str.split("|").str[0]
    else:
        first = pd.Series(dtype=object)
    imp["genre"] = first.reindex(imp["item_id"]).fillna("(unknown)").to_numpy()
    w_user, w_item, w_t = (r[c].to_numpy(np.int64) for c in ("user_id", "item_id", "timestamp"))
    q_user, q_item, q_t = (imp[c].to_numpy(np.int64) for c in ("user_id", "item_id", "timestamp"))
    imp["movie_ratings"] = events_before(w_item, w_t, q_item, q_t)[0]
    imp["user_ratings"] = events_before(w_user, w_t, q_user, q_t)[0]
    codes = pd.Index(pd.unique(imp["genre"]))
    w_genre = codes.get_indexer(first.reindex(r["item_id"]).fillna("(unknown)").to_numpy()).astype(np.int64)
    q_genre = codes.get_indexer(imp["genre"]).astype(np.int64)
    n = np.int64(len(codes))
    count, last = events_before(w_user * n + w_genre, w_t, q_user * n + q_genre, q_t)
    imp["genre_ratings"] = count
    imp["days_since_genre_rating"] = np.where(last >= 0, (q_t - w_t[np.maximum(last, 0)]) / DAY, np.nan)
    return imp


def movielens_inputs(imp: pd.DataFrame, quantile: float = 0.8) -> tuple[RankingInputs, RankingInputs, Vocab]:
    cut = np.quantile(imp["timestamp"], quantile)
    train, test = imp[imp["timestamp"] < cut], imp[imp["timestamp"] >= cut]
    a, b, cols = continuous_block(train, test, ("movie_ratings", "user_ratings", "genre_ratings", "days_since_genre_rating"))
    levels = pd.Index(pd.unique(train["genre"]))
    for df, out in ((train, a), (test, b)):
        codes = levels.get_indexer(df["genre"])
        out.extend((codes[None, :] == np.arange(len(levels))[:, None]).astype(float))
    cols += [f"genre={g}" for g in levels]
    vocab = Vocab.build(train["item_id"][train["clicked"] == 1], top_n=1000)

    def tensors(df: pd.DataFrame, dense: list) -> RankingInputs:
        return RankingInputs(torch.tensor(np.stack(dense, 1), dtype=torch.float32),
                             torch.from_numpy(vocab.encode(df["item_id"].to_numpy())),
                             torch.tensor(df["clicked"].to_numpy(), dtype=torch.float32),
                             torch.tensor(df["watch_time"].to_numpy(), dtype=torch.float32),
                             torch.tensor(df["user_id"].to_numpy(), dtype=torch.int64), list(cols))
    return tensors(train, a), tensors(test, b), vocab


def evaluate(x_train: RankingInputs, x_test: RankingInputs, vocab: Vocab, truth: np.ndarray | None) -> dict:
    out = {}
    per_click = x_train.watch_time[x_train.clicked > 0].mean().item()
    for name, loss_fn, scale in (("weighted_lr", weighted_logistic_loss, per_click), ("plain_lr", plain_logistic_loss, 1.0)):
        model = LinearRanker(x_train.dense.shape[1], len(vocab))
        fit_lbfgs(model, x_train, loss_fn, loss_scale=scale)
        z = predict_logits(model, x_test)
        c = x_test.clicked.numpy()
        m = {"weighted_per_user_loss": weighted_per_user_loss(x_test.user_id.numpy(), z.numpy(), c, x_test.watch_time.numpy()),
             "auc": auc(z.numpy(), c)}
        if truth is not None:
            pred = expected_watch_time(z) if name == "weighted_lr" else torch.sigmoid(z) * per_click
            m["calibration_error"] = float(np.abs(np.log(pred.double().numpy()) - np.log(truth)).mean())
        out[name] = {k: round(v, 4) for k, v in m.items()}
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="simulator", help="simulator or ml-latest-small")
    parser.add_argument("--root", default=None, help="the MovieLens folder (default: ytdnn.data's search path)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    torch.manual_seed(args.seed)
    try:
        if args.dataset == "simulator":
            if args.root is not None:
                raise DataError("--root: the simulator reads no files")
            ds = load("simulator", seed=args.seed, **SIM_SIZE)
            train, test = ranking_table(ds).split(quantile=0.8)
            x_train, x_test, vocab = build_inputs(train.table, test.table)
            truth = test.truth["true_expected_watch_time"].to_numpy()
        elif args.dataset == "ml-latest-small":
            ds = load("ml-latest-small", args.root)
            x_train, x_test, vocab = movielens_inputs(movielens_impressions(ds.interactions, ds.items, args.seed))
            truth = None
        else:
            raise DataError(f"{args.dataset}: unknown dataset (simulator or ml-latest-small)")
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        raise SystemExit(2)
    result = {"dataset": args.dataset, "n_train": len(x_train), "n_test": len(x_test),
              "models": evaluate(x_train, x_test, vocab, truth)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
