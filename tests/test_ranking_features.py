"""Assignment 06 (ranking features): the reference passes every graded case; typical mistakes get
the specific hint and fail their graded cases; a hostile lookup table of the visible answers scores 0."""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from autograder.checks import ranking_features as checks
from autograder.checks.record import visible
from autograder.checks.compare import as_array
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from course_helpers import failure, record_and_judge
from solutions import ranking_features as ref

REFERENCE = {"fit_quantiles": ref.fit_quantiles, "quantile_transform": ref.quantile_transform,
             "embedding_dim": ref.embedding_dim, "top_n_vocabulary": ref.top_n_vocabulary,
             "ZeroOOVEmbedding": ref.ZeroOOVEmbedding}


def graded(tmp_path, monkeypatch, **overrides) -> dict:
    """Record every test with the reference, except the exercises in ``overrides``; judge them."""
    return record_and_judge(checks, {**REFERENCE, **overrides}, tmp_path, monkeypatch)


def test_reference_passes_every_graded_case_and_visible_check(tmp_path, monkeypatch, capsys):
    verdicts = graded(tmp_path, monkeypatch)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}
    checks.check_fit_quantiles(ref.fit_quantiles)
    checks.check_quantile_transform(ref.quantile_transform)
    checks.check_embedding_dim(ref.embedding_dim)
    checks.check_top_n_vocabulary(ref.top_n_vocabulary)
    checks.check_zero_oov_embedding(ref.ZeroOOVEmbedding)
    assert capsys.readouterr().out.count("check passed") == 5


def test_reference_rules_by_hand():
    edges = ref.fit_quantiles(np.array([0.0, 0, 0, 0, 0, 1, 2, 3, 4]), 4)
    assert edges.tolist() == pytest.approx([0, 0, 0, 2, 4])
    t = ref.quantile_transform(np.array([-1.0, 0.0, 4.0, 9.0]), edges)[:, 0]
    assert t.tolist() == pytest.approx([0, 0.5, 1, 1])  # the tie at 0 gets its top: 2 of 4 segments
    with pytest.raises(ValueError, match="NaN"):
        ref.fit_quantiles(np.array([1.0, np.nan]), 2)
    assert [ref.embedding_dim(n) for n in (1, 2, 1000)] == [1, 4, 40]
    assert ref.top_n_vocabulary(np.array([5, 5, 2, 2, 9, -1, -1, -1]), 2).tolist() == [2, 5]


# --- typical mistakes ---------------------------------------------------------------------------

def quantiles_without_endpoints(x, q):
    return np.quantile(x, np.arange(q) / q)


def transform_np_interp_left_ties(x, edges):
    """np.searchsorted side='left': a tied value gets the BOTTOM of its tie."""
    q = len(edges) - 1
    k = np.clip(np.searchsorted(edges, x, side="left"), 1, q)
    lo, hi = edges[k - 1], edges[k]
    frac = np.where(hi > lo, np.clip((x - lo) / np.where(hi > lo, hi - lo, 1), 0, 1), 0.0)
    t = (k - 1 + frac) / q
    return np.stack([t, t ** 2, np.sqrt(t)], axis=1)


def transform_wrong_order(x, edges):
    return ref.quantile_transform(x, edges)[:, [0, 2, 1]]


def transform_unclipped(x, edges):
    t = (x - edges[0]) / (edges[-1] - edges[0])
    return np.stack([t, t ** 2, np.sqrt(np.abs(t))], axis=1)


def dim_natural_log(n, scale=4.0, max_dim=64):
    return int(min(max_dim, max(1, math.ceil(scale * math.log(n)))))


def dim_rounded(n, scale=4.0, max_dim=64):
    return int(min(max_dim, max(1, round(scale * math.log2(n)))))


def vocab_ties_by_larger_id(ids, top_n):
    values, counts = np.unique(ids[ids >= 0], return_counts=True)
    order = np.lexsort((-values, -counts))
    return values[order][:top_n]


class LearnedOOVRow(nn.Module):
    """The candidate generator's convention: one extra learned row for every unknown id."""
    def __init__(self, vocabulary, dim, seed):
        super().__init__()
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(len(vocabulary) + 1, dim)
        self.rows = {int(v): r for r, v in enumerate(vocabulary)}

    def forward(self, raw_ids):
        rows = [self.rows.get(int(i), len(self.rows)) for i in raw_ids.reshape(-1)]
        return self.embedding(torch.LongTensor(rows)).reshape(*raw_ids.shape, -1)


class RawIdAsRow(ref.ZeroOOVEmbedding):
    """Uses the raw id as the row index (when it fits) instead of its position in the vocabulary."""
    def forward(self, raw_ids):
        n = self.embedding.num_embeddings
        known = torch.isin(raw_ids, self.sorted_ids)
        return self.embedding(raw_ids.clamp(0, n - 1)) * known.unsqueeze(-1)


class OOVNotZero(ref.ZeroOOVEmbedding):
    """Maps unknown ids to row 0 and forgets the mask."""
    def forward(self, raw_ids):
        pos = torch.searchsorted(self.sorted_ids, raw_ids.contiguous()).clamp(max=len(self.sorted_ids) - 1)
        known = self.sorted_ids[pos] == raw_ids
        return self.embedding(torch.where(known, self.rows_of_sorted[pos], torch.zeros_like(pos)))


def test_quantile_mistakes():
    assert "Q + 1 edges" in failure(checks.check_fit_quantiles, quantiles_without_endpoints)
    assert "TOP of the tie" in failure(checks.check_quantile_transform, transform_np_interp_left_ties)
    assert "order [x̃, x̃², √x̃]" in failure(checks.check_quantile_transform, transform_wrong_order)
    assert "must stay in [0, 1]" in failure(checks.check_quantile_transform, transform_unclipped)


def test_dim_mistakes():
    assert "natural log" in failure(checks.check_embedding_dim, dim_natural_log)
    assert "round UP" in failure(checks.check_embedding_dim, dim_rounded)


def test_vocab_and_embedding_mistakes():
    assert "ties by the smaller id" in failure(checks.check_top_n_vocabulary, vocab_ties_by_larger_id)
    assert "candidate generator's choice" in failure(checks.check_zero_oov_embedding, LearnedOOVRow)
    assert "must be exactly zero" in failure(checks.check_zero_oov_embedding, OOVNotZero)
    assert "not row = raw id" in failure(checks.check_zero_oov_embedding, RawIdAsRow)


def test_mistakes_fail_their_graded_cases(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, fit_quantiles=quantiles_without_endpoints,
                      quantile_transform=transform_np_interp_left_ties, embedding_dim=dim_natural_log,
                      top_n_vocabulary=vocab_ties_by_larger_id, ZeroOOVEmbedding=OOVNotZero)
    failed = {g for g, v in verdicts.items() if not v.passed}
    assert {"test_quantiles_seed", "test_quantiles_hidden", "test_transform_hidden", "test_dim_seed",
            "test_dim_hidden", "test_vocab_hidden", "test_zero_seed", "test_zero_hidden"} <= failed
    assert "values differ" in verdicts["test_zero_seed"].message()
    assert "expected 0." not in "\n".join(v.message() for v in verdicts.values())


def test_a_lookup_table_of_the_visible_answers_scores_nothing(tmp_path, monkeypatch):
    """Hostile: return the shipped visible answers whatever the input, and patch comparisons in-process."""
    shipped = visible(checks.ASSIGNMENT)

    def answer(case_id, name):
        return as_array(shipped[case_id]["arrays"][name])

    def fake_fit(x, q):
        return answer("quantiles.seed", "edges")

    def fake_transform(x, edges):
        return answer("transform.seed", "features")

    def fake_dim(n, scale=4.0, max_dim=64):
        return 40

    def fake_vocab(ids, top_n):
        return answer("vocab.seed", "vocabulary")

    class FakeEmbedding(nn.Module):
        def __init__(self, vocabulary, dim, seed):
            super().__init__()
            self.embedding = nn.Embedding(len(vocabulary), dim)

        def forward(self, raw_ids):
            return torch.from_numpy(answer("zero.seed", "output"))

    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    verdicts = graded(tmp_path, monkeypatch, fit_quantiles=fake_fit, quantile_transform=fake_transform,
                      embedding_dim=fake_dim, top_n_vocabulary=fake_vocab, ZeroOOVEmbedding=FakeEmbedding)
    assert not any(v.passed for v in verdicts.values())
