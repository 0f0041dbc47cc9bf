"""The shared training loop and metrics."""
import math

import numpy as np
import pytest
import torch

from ytdnn.metrics import popularity_scores, recall_at_k
from ytdnn.training import fit, uniform_loss


def test_recall_at_k_counts_hits_in_the_top_k():
    scores = torch.tensor([[0.1, 0.9, 0.5], [0.8, 0.1, 0.3], [0.2, 0.3, 0.1]])
    labels = torch.tensor([2, 1, 0])
    assert recall_at_k(scores, labels, k=1) == 0.0
    assert recall_at_k(scores, labels, k=2) == pytest.approx(2 / 3)
    assert recall_at_k(scores, labels, k=3) == 1.0


def test_popularity_scores_count_labels():
    assert popularity_scores(np.array([2, 2, 3]), 5).tolist() == [0, 0, 2, 1, 0]


def test_fit_lowers_the_loss_and_records_metrics():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long()
    batches = [{"x": x[i:i + 32], "y": y[i:i + 32]} for i in range(0, 256, 32)]
    model = torch.nn.Linear(4, 2)
    loss = lambda m, b: torch.nn.functional.cross_entropy(m(b["x"]), b["y"])
    history = fit(model, batches, loss, epochs=5, lr=0.05, log_every=4, live=False,
                  evaluate=lambda m: {"accuracy": (m(x).argmax(1) == y).float().mean().item()})
    assert history["loss"].iloc[-1] < history["loss"].iloc[0] * 0.7
    assert history["accuracy"].dropna().iloc[-1] > 0.9
    assert list(history["epoch"].unique()) == [1, 2, 3, 4, 5]


def test_fit_stops_on_a_non_finite_loss():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(FloatingPointError, match="loss is nan at step 0"):
        fit(model, [{}], lambda m, b: m.weight.sum() * float("nan"), live=False)


def test_uniform_loss():
    assert uniform_loss(100) == pytest.approx(math.log(100))


def test_fit_evaluates_every_n_steps_and_logs_baselines():
    torch.manual_seed(0)
    x = torch.randn(256, 4)
    y = (x[:, 0] > 0).long()
    batches = [{"x": x[i:i + 32], "y": y[i:i + 32]} for i in range(0, 256, 32)]
    model = torch.nn.Linear(4, 2)
    loss = lambda m, b: torch.nn.functional.cross_entropy(m(b["x"]), b["y"])
    history = fit(model, batches, loss, epochs=2, lr=0.05, log_every=4, live=False, evaluate_every=3,
                  evaluate=lambda m: {"accuracy": (m(x).argmax(1) == y).float().mean().item()},
                  baselines={"accuracy (majority class)": 0.5})
    evaluated = history.dropna(subset=["accuracy"])
    assert evaluated["step"].tolist() == [3, 6, 8, 9, 12, 15, 16]  # every 3 steps, and at each epoch's end (8 batches an epoch)
    assert (evaluated["accuracy (majority class)"] == 0.5).all()


def test_auc_counts_ordered_pairs_and_ties_half():
    from ytdnn.metrics import auc
    assert auc(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1])) == pytest.approx(0.75)
    assert auc(torch.tensor([0.5, 0.5]), torch.tensor([1, 0])) == pytest.approx(0.5)
    assert math.isnan(auc(torch.tensor([0.5, 0.2]), torch.tensor([1, 1])))
