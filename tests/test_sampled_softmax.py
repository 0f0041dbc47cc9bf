"""Assignment 03: the reference passes every graded case; classic mistakes fail the visible checks with
the matching hint and fail the graded cases; a hostile lookup table that also patches the comparisons
in-process scores nothing; the on-data claims of the notebook hold for the reference."""
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autograder.checks import record
from autograder.checks import sampled_softmax as checks
from autograder.checks.compare import as_array
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from solutions import sampled_softmax as ref

LOSS_TESTS = [g for g in checks.TESTS if g.startswith("test_loss")]
RECALL_TESTS = [g for g in checks.TESTS if g.startswith("test_recall")]
NDCG_TESTS = [g for g in checks.TESTS if g.startswith("test_ndcg")]


def graded(tmp_path, monkeypatch, loss=ref.sampled_softmax_loss, recall=ref.recall_at_k, ndcg=ref.ndcg_at_k) -> dict:
    monkeypatch.setenv("YTDNN_RECORDS", str(tmp_path))
    for grade_id in checks.TESTS:
        fn = loss if grade_id in LOSS_TESTS else recall if grade_id in RECALL_TESTS else ndcg
        checks.record_test(grade_id, fn)
    return judge(checks.ASSIGNMENT, read_record_files(tmp_path))


def failure(check, fn) -> str:
    with pytest.raises(CheckFailed) as err:
        check(fn)
    return str(err.value)


def test_the_reference_passes_every_graded_case(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}


def test_the_visible_checks_pass_the_reference_and_say_what_they_proved(capsys):
    checks.check_sampled_softmax_loss(ref.sampled_softmax_loss)
    checks.check_recall_at_k(ref.recall_at_k)
    checks.check_ndcg_at_k(ref.ndcg_at_k)
    out = capsys.readouterr().out
    assert out.count("check passed") == 3 and "gradients with respect to the user vectors" in out
    assert "Recall@3 = 0.600" in out and "NDCG@2 = 0.452" in out


def test_the_visible_cases_are_not_graded():
    graded_cases = {c for cases in checks.TESTS.values() for c in cases}
    assert all(not checks.CASES[c].get("visible") for c in graded_cases)
    assert {c for c, case in checks.CASES.items() if case.get("visible")} == {"loss.example", "recall.example", "ndcg.example"}


# --- mistakes in Task 1 -------------------------------------------------------------------------

def loss_without_correction(user, item_vectors, item_bias, labels, samples, log_q, *, logq_correction=True,
                            remove_accidental_hits=True):
    return ref.sampled_softmax_loss(user, item_vectors, item_bias, labels, samples, log_q, logq_correction=False,
                                    remove_accidental_hits=remove_accidental_hits)


def loss_adding_logq(user, item_vectors, item_bias, labels, samples, log_q, *, logq_correction=True,
                     remove_accidental_hits=True):
    flipped = -log_q - 2 * math.log(len(samples)) if logq_correction else log_q
    return ref.sampled_softmax_loss(user, item_vectors, item_bias, labels, samples, flipped,
                                    logq_correction=logq_correction, remove_accidental_hits=remove_accidental_hits)


def loss_keeping_hits(user, item_vectors, item_bias, labels, samples, log_q, *, logq_correction=True,
                      remove_accidental_hits=True):
    return ref.sampled_softmax_loss(user, item_vectors, item_bias, labels, samples, log_q,
                                    logq_correction=logq_correction, remove_accidental_hits=False)


def loss_summed(user, item_vectors, item_bias, labels, samples, log_q, **options):
    return len(labels) * ref.sampled_softmax_loss(user, item_vectors, item_bias, labels, samples, log_q, **options)


def loss_hits_zeroed(user, item_vectors, item_bias, labels, samples, log_q, *, logq_correction=True,
                     remove_accidental_hits=True):
    """Removes accidental hits by setting their logit to 0 instead of -inf."""
    true = (user * item_vectors[labels]).sum(1, keepdim=True)
    sampled = user @ item_vectors[samples].T
    if item_bias is not None:
        true, sampled = true + item_bias[labels][:, None], sampled + item_bias[samples][None, :]
    if logq_correction:
        log_expected = log_q + math.log(len(samples))
        true, sampled = true - log_expected[labels][:, None], sampled - log_expected[samples][None, :]
    if remove_accidental_hits:
        sampled = sampled.masked_fill(labels[:, None] == samples[None, :], 0.0)
    logits = torch.cat([true, sampled], 1)
    return F.cross_entropy(logits, torch.zeros(len(labels), dtype=torch.long))


def loss_detached_items(user, item_vectors, item_bias, labels, samples, log_q, **options):
    return ref.sampled_softmax_loss(user, item_vectors.detach(), item_bias, labels, samples, log_q, **options)


def loss_as_float(*args, **options):
    return ref.sampled_softmax_loss(*args, **options).item()


def not_written(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("fn, words", [
    (loss_without_correction, ["WITHOUT the logQ correction", "user 0 (label 2"]),
    (loss_adding_logq, ["wrong sign", "SUBTRACT"]),
    (loss_keeping_hits, ["accidental hits were not removed", "-inf", "user 1 (label 5, 1 accidental hit(s) among the samples)", "no accidental hit"]),
    (loss_summed, ["SUM over the batch", "mean"]),
    (loss_hits_zeroed, ["(B, 1 + S) logits", "set accidental hits to -inf"]),
])
def test_loss_mistakes_get_their_hint(fn, words):
    msg = failure(checks.check_sampled_softmax_loss, fn)
    assert "the loss differs from the reference on the example" in msg and "expected" in msg
    for w in words:
        assert w in msg, (w, msg)


def test_loss_without_gradient_and_unwritten_loss_are_explained():
    msg = failure(checks.check_sampled_softmax_loss, loss_detached_items)
    assert "no gradient reached item_vectors" in msg
    assert "carries no gradient" in failure(checks.check_sampled_softmax_loss, loss_as_float) or \
        "expected a torch.Tensor" in failure(checks.check_sampled_softmax_loss, loss_as_float)
    assert "not written yet" in failure(checks.check_sampled_softmax_loss, not_written)


def test_loss_mistakes_fail_the_graded_cases(tmp_path, monkeypatch):
    for i, fn in enumerate([loss_without_correction, loss_adding_logq, loss_keeping_hits, loss_summed,
                            loss_hits_zeroed, loss_detached_items]):
        verdicts = graded(tmp_path / str(i), monkeypatch, loss=fn)
        assert not verdicts["test_loss_example"].passed, fn.__name__
        assert not all(verdicts[g].passed for g in LOSS_TESTS), fn.__name__
        assert all(verdicts[g].passed for g in RECALL_TESTS + NDCG_TESTS)
    # Each option's mistake is caught where that option is on, and only there.
    verdicts = graded(tmp_path / "logq", monkeypatch, loss=loss_without_correction)
    assert not verdicts["test_loss_shapes"].passed and "logq_correction=False: matched" in verdicts["test_loss_options"].message()


# --- mistakes in Task 2 -------------------------------------------------------------------------

def recall_seen_ignored(scores, targets, k, seen=None):
    return ref.recall_at_k(scores, targets, k, None)


def recall_oov_counts(scores, targets, k, seen=None):
    """Masks seen items but not PAD/OOV, and lets an OOV target be a hit."""
    s = scores.clone()
    if seen is not None:
        s = s.masked_fill(seen, float("-inf")) if seen.dtype == torch.bool else s.scatter(1, seen, float("-inf"))
    top = torch.topk(s, k=min(k, s.shape[1]), dim=1).indices
    return (top == targets[:, None]).any(1).float().mean().item()


def ndcg_natural_log(scores, targets, k=10, seen=None):
    rank = ref.hit_ranks(scores, targets, k, seen).float()
    return torch.where(rank > 0, 1.0 / torch.log(rank + 1.0), torch.zeros_like(rank)).mean().item()


def ndcg_rows(scores, targets, k=10, seen=None):
    rank = ref.hit_ranks(scores, targets, k, seen).float()
    return torch.where(rank > 0, 1.0 / torch.log2(rank + 1.0), torch.zeros_like(rank))  # (B,), no mean


def test_metric_mistakes_get_their_hint():
    msg = failure(checks.check_recall_at_k, recall_seen_ignored)
    assert "values with seen ignored" in msg and "user 1 (seen item 7 scores highest (mask it))" in msg
    msg = failure(checks.check_recall_at_k, recall_oov_counts)
    assert "mask PAD (column 0), OOV (column 1)" in msg
    assert "user 2 (target is OOV (never a hit); the OOV column scores highest (mask it))" in msg and "differs" in msg
    msg = failure(checks.check_ndcg_at_k, ndcg_natural_log)
    assert "log is base 2" in msg
    msg = failure(checks.check_ndcg_at_k, ndcg_rows)
    assert "expected one number" in msg and "mean" in msg


def test_metric_mistakes_fail_the_graded_cases(tmp_path, monkeypatch):
    verdicts = graded(tmp_path / "a", monkeypatch, recall=recall_seen_ignored, ndcg=ndcg_natural_log)
    assert not any(verdicts[g].passed for g in RECALL_TESTS + NDCG_TESTS)
    assert "seen=None: matched" in verdicts["test_recall_masking"].message()
    verdicts = graded(tmp_path / "b", monkeypatch, recall=recall_oov_counts, ndcg=ndcg_rows)
    assert not any(verdicts[g].passed for g in RECALL_TESTS + NDCG_TESTS)
    assert all(verdicts[g].passed for g in LOSS_TESTS)


# --- a hostile notebook -------------------------------------------------------------------------

def test_a_lookup_table_of_the_visible_answers_that_patches_comparisons_scores_zero(tmp_path, monkeypatch):
    """Returns the visible case's expected values whatever the input and makes every in-process
    comparison succeed: the visible checks pass in the notebook, the comparator gives 0 points."""
    shown = record.visible(checks.ASSIGNMENT)
    loss_value = float(as_array(shown["loss.example"]["arrays"]["loss"]))
    recall_values = as_array(shown["recall.example"]["arrays"]["values"]).tolist()
    ndcg_values = as_array(shown["ndcg.example"]["arrays"]["values"]).tolist()
    ks = checks.CASES["recall.example"]["ks"]

    def table_loss(user, item_vectors, item_bias, labels, samples, log_q, **options):
        return (user.sum() + item_vectors.sum() + (item_bias.sum() if item_bias is not None else 0)) * 0 + loss_value

    def table_recall(scores, targets, k, seen=None):
        return recall_values[ks.index(k)] if k in ks else 0.5

    def table_ndcg(scores, targets, k=10, seen=None):
        return ndcg_values[ks.index(k)] if k in ks else 0.5

    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(checks, "mismatch_lines", lambda *a, **k: [])
    monkeypatch.setattr(checks, "_close", lambda *a, **k: True)
    verdicts = graded(tmp_path, monkeypatch, table_loss, table_recall, table_ndcg)
    assert not any(v.passed for v in verdicts.values()), {g: v.passed for g, v in verdicts.items()}


# --- the notebook's claims on data, for the reference -------------------------------------------

def test_logq_brings_the_average_sampled_gradient_close_to_the_full_softmax():
    V, label, S, draws = 50, 20, 10, 300
    counts = 1000.0 / torch.arange(1, V + 1)
    log_q = torch.log_softmax(0.75 * counts.log(), 0)
    logits = 0.5 * torch.randn(V, generator=torch.Generator().manual_seed(1)) + 0.5 * counts.log()
    full = torch.softmax(logits, 0) - F.one_hot(torch.tensor(label), V)

    def mean_grad(correct: bool) -> torch.Tensor:
        g, total = torch.Generator().manual_seed(0), torch.zeros(V)
        for _ in range(draws):
            z = logits.clone()[None].requires_grad_(True)
            neg = torch.multinomial(log_q.exp(), S, replacement=True, generator=g)
            ref.sampled_softmax_loss(z, torch.eye(V), None, torch.tensor([label]), neg, log_q,
                                     logq_correction=correct).backward()
            total += z.grad[0]
        return total / draws

    with_logq, without = mean_grad(True), mean_grad(False)
    assert (with_logq - full).abs().sum() < 0.5 * (without - full).abs().sum()
    assert without[:5].sum() > 2 * full[:5].sum()  # popular items pushed down far too hard


def test_logq_is_invariant_to_a_constant_shift():
    x = checks.loss_inputs(checks.CASES["loss.example"])
    args = (x["user"], x["item_vectors"], x["item_bias"], x["labels"], x["samples"])
    a = ref.sampled_softmax_loss(*args, x["log_q"])
    b = ref.sampled_softmax_loss(*args, x["log_q"] - math.log(len(x["samples"])))
    assert torch.allclose(a, b, atol=1e-6)
