"""Retrieval reference: metrics (masking, OOV, NDCG by hand), the sampled-softmax loss, and the
``solutions.evaluate retrieval`` command on a small simulated world."""
from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from solutions.sampled_softmax import hit_ranks, ndcg_at_k, recall_at_k, sampled_softmax_loss, sampling_log_q
from solutions.retriever import training_loss
from ytdnn.vocab import OOV, PAD

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------------------
# metrics


def test_oov_is_never_a_hit() -> None:
    # Items 2..5 are real; the model puts PAD and OOV above everything.
    scores = torch.tensor([[9.0, 8.0, 1.0, 0.5, 0.2, 0.1]] * 2)
    targets = torch.tensor([OOV, 2])
    # Row 0's target is OOV: a miss even though OOV has the top score.
    # Row 1's target is the best *real* item: a hit at k=1 only if PAD/OOV columns are masked.
    assert hit_ranks(scores, targets, k=1).tolist() == [0, 1]
    assert recall_at_k(scores, targets, 1) == 0.5
    assert recall_at_k(scores, torch.tensor([OOV, OOV]), 6) == 0.0
    assert recall_at_k(scores, torch.tensor([PAD, PAD]), 6) == 0.0


def test_seen_items_are_masked_and_never_hits() -> None:
    scores = torch.tensor([[0.0, 0.0, 5.0, 4.0, 3.0, 2.0]])
    target = torch.tensor([4])
    assert hit_ranks(scores, target, 3).tolist() == [3]
    seen_ids = torch.tensor([[2, 3, PAD]])  # padded ids
    assert hit_ranks(scores, target, 3, seen_ids).tolist() == [1]
    seen_mask = torch.zeros(1, 6, dtype=torch.bool)
    seen_mask[0, [2, 3]] = True
    assert hit_ranks(scores, target, 3, seen_mask).tolist() == [1]
    # A target the user has already seen cannot be recommended, so it cannot be a hit.
    assert recall_at_k(scores, target, 6, torch.tensor([[4]])) == 0.0


def test_ndcg_by_hand() -> None:
    scores = torch.tensor([[0.0, 0.0, 4.0, 3.0, 2.0, 1.0]] * 4)
    targets = torch.tensor([2, 3, 4, 5])  # ranks 1, 2, 3, 4
    expected = (1 + 1 / math.log2(3) + 1 / 2 + 0) / 4  # rank 4 is outside the top 3
    assert ndcg_at_k(scores, targets, 3) == pytest.approx(expected, abs=1e-6)
    assert recall_at_k(scores, targets, 3) == 0.75
    # Masking item 2 moves every other target up one place.
    seen = torch.tensor([[2]] * 4)
    expected = (0 + 1 + 1 / math.log2(3) + 1 / 2) / 4
    assert ndcg_at_k(scores, targets, 3, seen) == pytest.approx(expected, abs=1e-6)


# ----------------------------------------------------------------------------------------
# sampled softmax


def _toy(seed: int = 0, b: int = 5, v: int = 12, d: int = 4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(b, d, generator=g), torch.randn(v, d, generator=g), torch.randn(v, generator=g),
            torch.randint(2, v, (b,), generator=g))


def test_sampled_softmax_over_every_item_is_the_full_softmax() -> None:
    user, items, bias, labels = _toy()
    v = len(items)
    samples = torch.arange(2, v)  # every real item once: the label is an accidental hit, removed
    log_q = sampling_log_q(torch.ones(v))  # uniform: the correction shifts every logit equally
    full = F.cross_entropy(user @ items[2:].T + bias[2:], labels - 2)
    got = sampled_softmax_loss(user, items, bias, labels, samples, log_q)
    assert got.item() == pytest.approx(full.item(), abs=1e-5)


def test_logq_correction_and_accidental_hits_by_hand() -> None:
    user, items, bias, labels = _toy(1, b=1)
    counts = torch.arange(12.0)
    log_q = sampling_log_q(counts, alpha=1.0)
    y = labels.item()
    a, b = [j for j in (4, 7, 9) if j != y][:2]
    samples = torch.tensor([y, a, b])  # the label itself was drawn: an accidental hit
    logit = lambda j: (user[0] @ items[j] + bias[j] - (log_q[j] + math.log(3))).item()  # noqa: E731
    t = logit(y)
    expected = -t + math.log(math.exp(t) + math.exp(logit(a)) + math.exp(logit(b)))
    got = sampled_softmax_loss(user, items, bias, labels, samples, log_q)
    assert got.item() == pytest.approx(expected, abs=1e-5)
    # Keeping the accidental hit adds the true item a second time to the denominator.
    kept = sampled_softmax_loss(user, items, bias, labels, samples, log_q, remove_accidental_hits=False)
    assert kept.item() == pytest.approx(expected + math.log1p(math.exp(t) / math.exp(t + expected)), abs=1e-5)
    # No correction: plain logits.
    plain = sampled_softmax_loss(user, items, None, labels, samples[1:], log_q, logq_correction=False)
    z = [(user[0] @ items[j]).item() for j in (y, a, b)]
    assert plain.item() == pytest.approx(-z[0] + math.log(sum(map(math.exp, z))), abs=1e-5)
    assert torch.isinf(sampling_log_q(counts)[:2]).all()  # PAD/OOV are never drawn


def test_the_retrievers_training_loss_is_the_exercises_loss() -> None:
    """Same value and gradients as the exercise's answer, with repeated draws and accidental hits."""
    g = torch.Generator().manual_seed(3)
    b, v, d = 64, 40, 8
    labels = torch.randint(2, v, (b,), generator=g)
    log_q = sampling_log_q(torch.arange(v, dtype=torch.float64) ** 2, alpha=0.75)  # skewed: many repeats
    samples = torch.multinomial(log_q.exp(), 100, replacement=True, generator=g)
    assert len(samples.unique()) < 60 and bool(torch.isin(labels, samples).any())
    grads = []
    for loss_fn in (sampled_softmax_loss, training_loss):
        user, items, bias = (torch.randn(*s, generator=torch.Generator().manual_seed(7)).requires_grad_()
                             for s in ((b, d), (v, d), (v,)))
        loss = loss_fn(user, items, bias, labels, samples, log_q)
        loss.backward()
        grads.append((loss.detach(), user.grad, items.grad, bias.grad))
    for want, got in zip(*grads):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


# ----------------------------------------------------------------------------------------
# the command


def _evaluate(*args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "solutions.evaluate", "retrieval", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_evaluate_small_simulator_beats_popularity() -> None:
    proc = _evaluate("--dataset", "simulator", "--sim-users", "300", "--seeds", "0", "--max-epochs", "4", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    models = out["models"]
    assert set(models) == {"youtube_dnn", "popularity", "item_knn"}
    assert set(models["youtube_dnn"]) == {"recall@10", "recall@50", "recall@100", "ndcg@10", "train_seconds"}
    assert models["youtube_dnn"]["recall@50"] > models["popularity"]["recall@50"], models
    [seed] = out["youtube_dnn_per_seed"]
    assert seed["seed"] == 0 and 1 <= seed["epochs"] <= 4
    assert seed["recall@50"] == pytest.approx(models["youtube_dnn"]["recall@50"], abs=1e-4)


def _movielens_folder(root: Path, name: str, n_users: int = 60, n_items: int = 80, per_user: int = 25) -> Path:
    """A small ``name`` folder in the archive's own format: ratings with demographics, users
    preferring items near their own id (so there is something to learn)."""
    rng = np.random.default_rng(0)
    ratings, users = [], []
    for u in range(1, n_users + 1):
        items = (u + rng.integers(0, 15, size=3 * per_user)) % n_items + 1
        for j, i in enumerate(dict.fromkeys(items.tolist()).keys()):
            if j == per_user:
                break
            ratings.append((u, i, int(rng.integers(1, 6)), 978300000 + 1000 * u + j))
        users.append((u, "MF"[u % 2], (1, 18, 25, 35)[u % 4], u % 21, f"{10000 + u}"))
    root.mkdir()
    if name == "ml-1m":
        (root / "ratings.dat").write_text("".join("::".join(map(str, r)) + "\n" for r in ratings), encoding="latin-1")
        (root / "users.dat").write_text("".join("::".join(map(str, r)) + "\n" for r in users), encoding="latin-1")
    else:
        (root / "u.data").write_text("".join("\t".join(map(str, r)) + "\n" for r in ratings))
        (root / "u.user").write_text("".join(f"{u}|{20 + a}|{g}|student|{z}\n" for u, g, a, _, z in users))
    return root


@pytest.mark.parametrize("name", ["ml-1m", "ml-100k"])
def test_evaluate_movielens_formats_end_to_end(tmp_path: Path, name: str) -> None:
    """The command reads each archive's format (ratings and users files) from --root and beats
    popularity on a world with a clear signal (the real archives are not on this machine)."""
    root = _movielens_folder(tmp_path / name, name)
    proc = _evaluate("--dataset", name, "--root", str(root), "--seeds", "0", "--max-epochs", "3", "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["dataset"], out["users"]) == (name, 60)
    models = out["models"]
    assert models["youtube_dnn"]["recall@10"] > models["popularity"]["recall@10"], models


@pytest.mark.parametrize("args", [("--dataset", "nope"), ("--dataset", "ml-100k", "--root", "/no/such/folder"),
                                  ("--dataset", "ml-100k", "--sim-users", "50")])
def test_bad_input_is_one_line_and_exit_2(args: tuple[str, ...]) -> None:
    proc = _evaluate(*args)
    assert proc.returncode == 2, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stderr.startswith("error: ")


# ----------------------------------------------------------------------------------------
# retraining on train + validation targets


def _toy_dataset(seed: int = 0):
    import numpy as np
    import pandas as pd

    from ytdnn.schema import Dataset

    rng = np.random.default_rng(seed)
    rows = []
    for user in range(30):
        n = int(rng.integers(6, 14))
        items = rng.choice(40, size=n, replace=False)
        times = np.sort(rng.integers(0, 50, size=n))  # ties: same-second ratings, as in MovieLens
        rows += [(user, int(i), int(t)) for i, t in zip(items, times)]
    return Dataset(name="toy", interactions=pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


def test_refit_learns_validation_targets_and_never_sees_test_targets() -> None:
    import numpy as np

    from solutions.retriever import RetrievalData, RetrieverConfig, train_retriever
    from ytdnn.split import leave_last_out_split
    from ytdnn.vocab import OOV

    ds = _toy_dataset()
    split = leave_last_out_split(ds.interactions)
    cfg = RetrieverConfig(refit=True, dim=8, hidden=(16,), epochs=2, patience=1, batch_size=32)
    data = RetrievalData.build(ds, split, cfg)
    q, users = data.refit, data.refit_user
    assert q is not None and len(users) == len(q)
    raw_user = np.sort(split.train["user_id"].unique())[users]  # refit_user is a dense index
    test_item = dict(zip(split.test["user_id"], data.vocab.encode(split.test["item_id"].to_numpy())))
    val_item = dict(zip(split.val["user_id"], data.vocab.encode(split.val["item_id"].to_numpy())))
    # Every test item here is in the vocabulary (the toy reuses 40 items), so a leak would show.
    assert all(i != OOV for i in test_item.values())
    for j in range(len(q)):
        u = raw_user[j]
        seen = set(q.items[q.start[j] : q.end[j]].tolist()) | {int(q.label[j])}
        assert test_item.get(u) not in seen, f"user {u}: a refit example contains the test target"
    # Each evaluated user's validation watch is now a label, predicted from their whole training history.
    learnt = {(raw_user[j], int(q.label[j])) for j in range(len(q))}
    assert all((u, i) in learnt for u, i in val_item.items() if i != OOV)
    assert len(q.items) == len(split.train) + len(split.val)
    model, info = train_retriever(data, cfg)
    assert info["best_epoch"] >= 1
    with pytest.raises(ValueError, match="refit"):
        train_retriever(RetrievalData.build(ds, split, RetrieverConfig(dim=8, epochs=1)), cfg)


def test_recent_average_skips_dropout_holes() -> None:
    """History dropout leaves PAD inside a history: the ``recent`` average must still take the
    last real items, as if the holes were not there."""
    from solutions.retriever import CandidateGenerator, RetrieverConfig

    model = CandidateGenerator(10, RetrieverConfig(dim=4, hidden=(8,), recent=2, half_life=3.0), {}, 0)
    holes = {"history": torch.tensor([[3, 0, 5, 0, 7, 0]]), "age": torch.zeros(1)}
    packed = {"history": torch.tensor([[3, 5, 7]]), "age": torch.zeros(1)}
    with torch.no_grad():
        assert torch.allclose(model(holes), model(packed), atol=1e-6)


def test_validation_score_is_the_mean_recall_over_its_cut_offs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Targets ranked 1st, 3rd and 5th (after masking a seen item) and one never in the top 5:
    Recall@2 1/4, Recall@5 3/4, mean 1/2."""
    from solutions import retriever

    scores = torch.tensor([[0, 0, 9, 8, 7, 6, 5, 4, 3]] * 4, dtype=torch.float32)  # item 2 best, then 3, 4, ...
    monkeypatch.setattr(retriever, "score_users", lambda *args: scores)
    q = retriever.Queries(items=np.zeros(0, np.int64), start=np.zeros(4, np.int64), end=np.zeros(4, np.int64),
                          label=np.array([2, 4, 7, 8]), age=np.zeros(4, np.float32),
                          seen=np.array([[0], [0], [3], [0]]))  # user 3 saw item 3: item 7 moves up to 5th
    assert retriever.validation_score(None, q, (2, 5), 50) == pytest.approx(0.5)
    assert retriever.validation_score(None, q, (5,), 50) == pytest.approx(0.75)


def test_history_averages_by_hand() -> None:
    """Half-life weights on the whole history, a plain mean of the last ``recent`` real items, PAD
    holes skipped, and zeros for an empty history."""
    from solutions.retriever import CandidateGenerator, RetrieverConfig

    model = CandidateGenerator(10, RetrieverConfig(dim=2, hidden=(4,), recent=2, half_life=1.0), {}, 0)
    with torch.no_grad():
        model.item_in.weight.copy_(torch.arange(20.0).reshape(10, 2))
    v = model.item_in.weight.detach()
    history, recent = model._history_means(torch.tensor([[3, 0, 5, 0, 7], [0, 0, 0, 0, 0]]))
    want = (0.25 * v[3] + 0.5 * v[5] + 1.0 * v[7]) / 1.75
    torch.testing.assert_close(history, torch.stack([want, torch.zeros(2)]))
    torch.testing.assert_close(recent, torch.stack([(v[5] + v[7]) / 2, torch.zeros(2)]))


def test_the_weight_average_is_what_is_validated_and_returned(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``ema`` the model returned is the running average of the weights, not the last step's.
    It is bias-corrected: the first step's weights replace the initial ones, and step t moves the
    average ``(1 - ema) / (1 - ema ** t)`` of the way to the model (1 / (1 + ema) at t = 2)."""
    import copy
    from dataclasses import replace

    from solutions import retriever
    from solutions.retriever import RetrievalData, RetrieverConfig, _epoch, _start, train_retriever
    from solutions.sampled_softmax import sampling_log_q
    from ytdnn.split import leave_last_out_split

    ds = _toy_dataset()
    split = leave_last_out_split(ds.interactions)
    cfg = RetrieverConfig(dim=8, hidden=(16,), epochs=1, batch_size=10_000, ema=0.9)  # one batch: one step
    data = RetrievalData.build(ds, split, cfg)
    model, average, opt, rng, gen = _start(data, cfg)
    before = copy.deepcopy(model)
    log_q = sampling_log_q(np.bincount(data.train.label, minlength=data.n_items), cfg.sampling_alpha)
    _epoch(model, opt, data.train, data.train_user, cfg, rng, gen, True, log_q, average)
    first = copy.deepcopy(model)
    assert not torch.allclose(first.item_out.weight, before.item_out.weight)  # the step did move
    for m, a in zip(first.parameters(), average.parameters()):
        assert torch.allclose(a, m, atol=1e-6)  # no share for the random initial weights
    _epoch(model, opt, data.train, data.train_user, cfg, rng, gen, True, log_q, average)
    for f, m, a in zip(first.parameters(), model.parameters(), average.parameters()):
        assert torch.allclose(a, f + (m - f) / 1.9, atol=1e-6)
    assert not torch.allclose(average.item_out.weight, model.item_out.weight)
    # train_retriever (same seed, two steps) returns the average, not the raw weights; a rising
    # validation score makes the second epoch the one kept.
    calls = iter([0.1, 0.2])
    monkeypatch.setattr(retriever, "validation_score", lambda *args: next(calls))
    returned, info = train_retriever(data, replace(cfg, epochs=2))
    assert info["best_epoch"] == 2
    assert torch.allclose(returned.item_out.weight, average.item_out.weight, atol=1e-6)
