"""Assignment 07 (watch time): graded cases, typical mistakes, a hostile lookup table, and on the
simulator: weighted LR's e^z tracks the true expected watch time better than plain LR, and the
relationship features of paper 4.1 lower the weighted per-user loss."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.checks import watch_time as checks
from autograder.checks.compare import as_array
from autograder.checks.record import visible
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from course_helpers import failure, record_and_judge
from solutions import watch_time as ref

REFERENCE = {"weighted_logistic_loss": ref.weighted_logistic_loss, "expected_watch_time": ref.expected_watch_time,
             "weighted_per_user_loss": ref.weighted_per_user_loss}


def graded(tmp_path, monkeypatch, **overrides) -> dict:
    """Record every test with the reference, except the exercises in ``overrides``; judge them."""
    return record_and_judge(checks, {**REFERENCE, **overrides}, tmp_path, monkeypatch)


def test_reference_passes_every_graded_case_and_visible_check(tmp_path, monkeypatch, capsys):
    verdicts = graded(tmp_path, monkeypatch)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}
    checks.check_weighted_logistic_loss(ref.weighted_logistic_loss)
    checks.check_expected_watch_time(ref.expected_watch_time)
    checks.check_weighted_per_user_loss(ref.weighted_per_user_loss)
    assert capsys.readouterr().out.count("check passed") == 3


def brute_force_per_user_loss(user, score, clicked, watch):
    mis = total = 0.0
    for i in range(len(user)):
        for j in range(len(user)):
            if user[i] == user[j] and clicked[i] and not clicked[j]:
                total += watch[i]
                mis += watch[i] * ((score[j] > score[i]) + 0.5 * (score[j] == score[i]))
    return mis / total


def test_per_user_loss_equals_brute_force():
    rng = np.random.default_rng(0)
    for _ in range(5):
        n = 60
        user, score = rng.integers(0, 6, n), np.round(rng.normal(size=n), 1)
        clicked = rng.random(n) < 0.4
        watch = np.where(clicked, rng.integers(1, 100, n), 0)
        assert ref.weighted_per_user_loss(user, score, clicked, watch) == pytest.approx(
            brute_force_per_user_loss(user, score, clicked, watch))
    with pytest.raises(ValueError, match="no"):
        ref.weighted_per_user_loss(np.array([0, 1]), np.array([0.1, 0.2]), np.array([1, 0]), np.array([5, 0]))


# --- typical mistakes ---------------------------------------------------------------------------

def unweighted(logits, clicked, watch_time):
    return F.binary_cross_entropy_with_logits(logits, clicked)


def negatives_weighted_zero(logits, clicked, watch_time):
    return (watch_time * F.binary_cross_entropy_with_logits(logits, clicked, reduction="none")).mean()


def summed(logits, clicked, watch_time):
    return ref.weighted_logistic_loss(logits, clicked, watch_time) * len(logits)


def unstable(logits, clicked, watch_time):
    p = torch.sigmoid(logits)
    w = torch.where(clicked > 0, watch_time, torch.ones_like(watch_time))
    return (-w * (clicked * torch.log(p) + (1 - clicked) * torch.log(1 - p))).mean()


def served_sigmoid(logits):
    return torch.sigmoid(logits)


def pooled_users(user, score, clicked, watch):
    return ref.weighted_per_user_loss(np.zeros_like(user), score, clicked, watch)


def ties_ignored(user, score, clicked, watch):
    return ref.weighted_per_user_loss(user, score + 1e-9 * clicked, clicked, watch)


def pairs_unweighted(user, score, clicked, watch):
    return ref.weighted_per_user_loss(user, score, clicked, np.where(np.asarray(clicked) > 0, 1.0, 0.0))


def test_loss_mistakes():
    assert "unweighted logistic loss" in failure(checks.check_weighted_logistic_loss, unweighted)
    assert "every unclicked impression by 1" in failure(checks.check_weighted_logistic_loss, negatives_weighted_zero)
    assert "that is the sum" in failure(checks.check_weighted_logistic_loss, summed)
    assert "that is the sigmoid" in failure(checks.check_expected_watch_time, served_sigmoid)


def test_per_user_loss_mistakes():
    assert "WITHIN each user" in failure(checks.check_weighted_per_user_loss, pooled_users)
    assert "counts half" in failure(checks.check_weighted_per_user_loss, ties_ignored)
    assert "not 1" in failure(checks.check_weighted_per_user_loss, pairs_unweighted)


def test_mistakes_fail_their_graded_cases(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, weighted_logistic_loss=unstable, expected_watch_time=served_sigmoid,
                      weighted_per_user_loss=pooled_users)
    assert not verdicts["test_loss_hidden"].passed
    assert verdicts["test_loss_seed"].passed  # the unstable form is right on moderate logits
    assert not verdicts["test_serve_seed"].passed
    assert not verdicts["test_pairs_seed"].passed and not verdicts["test_pairs_hidden"].passed
    verdicts = graded(tmp_path, monkeypatch, weighted_logistic_loss=negatives_weighted_zero, weighted_per_user_loss=ties_ignored)
    assert not verdicts["test_loss_seed"].passed and not verdicts["test_loss_hidden"].passed
    assert not verdicts["test_pairs_hidden"].passed


def test_a_lookup_table_of_the_visible_answers_scores_nothing(tmp_path, monkeypatch):
    shipped = visible(checks.ASSIGNMENT)
    loss_value = float(as_array(shipped["loss.seed"]["arrays"]["loss"]))
    grad = torch.tensor(as_array(shipped["loss.seed"]["arrays"]["grad"]), dtype=torch.float64)

    def fake_loss(logits, clicked, watch_time):
        # Right value and gradient for the visible example, whatever the input.
        return (logits[: len(grad)] * grad).sum() - (logits[: len(grad)] * grad).sum().detach() + loss_value

    def fake_serve(logits):
        return torch.tensor(as_array(shipped["serve.seed"]["arrays"]["watch_time"]))

    def fake_pairs(*args):
        return float(as_array(shipped["pairs.seed"]["arrays"]["loss"]))

    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    verdicts = graded(tmp_path, monkeypatch, weighted_logistic_loss=fake_loss, expected_watch_time=fake_serve,
                      weighted_per_user_loss=fake_pairs)
    assert not any(v.passed for v in verdicts.values())


# --- the claims of the notebook, on the simulator ------------------------------------------------

@pytest.fixture(scope="module")
def simulated():
    from ytdnn.ranking_data import ranking_table
    from ytdnn.simulator import simulate
    world = simulate(n_users=2000, n_videos=1000, n_watches=100_000, n_slates=10_000, seed=0)
    return ranking_table(world.to_dataset()).split(quantile=0.8)


def _fit(inputs, vocab, loss_fn):
    from ytdnn.ranking_inputs import LinearRanker, fit_lbfgs
    model = LinearRanker(inputs.dense.shape[1], len(vocab))
    scale = inputs.watch_time[inputs.clicked > 0].mean().item() if loss_fn is ref.weighted_logistic_loss else 1.0
    fit_lbfgs(model, inputs, loss_fn, loss_scale=scale)
    return model


def test_weighted_lr_tracks_expected_watch_time_and_relationship_features_help(simulated):
    from ytdnn.ranking_inputs import build_inputs, predict_logits
    train, test = simulated
    x_train, x_test, vocab = build_inputs(train.table, test.table)
    weighted, plain = _fit(x_train, vocab, ref.weighted_logistic_loss), _fit(x_train, vocab, unweighted)
    truth = np.log(test.truth.true_expected_watch_time.to_numpy())
    z_w, z_p = predict_logits(weighted, x_test), predict_logits(plain, x_test)
    log_weighted = np.log(ref.expected_watch_time(z_w).numpy())
    log_plain = np.log(torch.sigmoid(z_p).numpy() * x_train.watch_time[x_train.clicked > 0].mean().item())
    assert np.abs(log_weighted - truth).mean() < np.abs(log_plain - truth).mean() - 0.1
    assert np.corrcoef(log_weighted, truth)[0, 1] > np.corrcoef(log_plain, truth)[0, 1] + 0.1

    u, c, w = x_test.user_id.numpy(), x_test.clicked.numpy(), x_test.watch_time.numpy()
    loss_weighted = ref.weighted_per_user_loss(u, z_w.numpy(), c, w)
    assert loss_weighted < ref.weighted_per_user_loss(u, z_p.numpy(), c, w)
    x_train_n, x_test_n, vocab_n = build_inputs(train.table, test.table, relationship=False)
    without = _fit(x_train_n, vocab_n, ref.weighted_logistic_loss)
    assert loss_weighted < ref.weighted_per_user_loss(u, predict_logits(without, x_test_n).numpy(), c, w) - 0.05


# --- solutions.evaluate_ranking -------------------------------------------------------------------

def test_auc_equals_pair_counting():
    from solutions.evaluate_ranking import auc
    rng = np.random.default_rng(1)
    s, c = np.round(rng.normal(size=50), 1), rng.random(50) < 0.3
    pairs = [(1.0 if a > b else 0.5 if a == b else 0.0) for a in s[c] for b in s[~c]]
    assert auc(s, c) == pytest.approx(np.mean(pairs))


def test_movielens_stand_in_impressions_are_leak_free():
    import pandas as pd
    from solutions.evaluate_ranking import NEGATIVES_PER_RATING, movielens_impressions
    ratings = pd.DataFrame({"user_id": [1, 1, 1, 2, 2], "item_id": [10, 11, 12, 10, 13],
                            "timestamp": [100, 200, 200, 150, 400], "rating": [4.0, 3.5, 5.0, 2.0, 1.0]})
    items = pd.DataFrame({"item_id": [10, 11, 12, 13], "genres": ["Drama|War", "Drama", "Comedy", "Drama|Crime"]})
    imp = movielens_impressions(ratings, items, seed=0)
    pos = imp[imp.clicked == 1].set_index(["user_id", "item_id"])
    assert len(pos) == 5 and (imp.clicked == 0).sum() <= 5 * NEGATIVES_PER_RATING
    assert pos.loc[(1, 11), "genre_ratings"] == 1            # the Drama rating at t=100, not the one at t=200
    assert pos.loc[(1, 12), "genre_ratings"] == 0 and pos.loc[(1, 11), "user_ratings"] == 1
    assert pos.loc[(1, 11), "days_since_genre_rating"] == pytest.approx(100 / 86400)
    assert pos.loc[(2, 13), "watch_time"] == 1.0
    neg = imp[imp.clicked == 0]
    assert not set(zip(neg.user_id, neg.item_id)) & set(zip(ratings.user_id, ratings.item_id))
