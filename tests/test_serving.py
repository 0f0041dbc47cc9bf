"""Assignment 05 (serving): the reference passes every check and graded case; classic mistakes get
the specific hint and fail the graded cases; a lookup table of the visible answers scores nothing."""
from pathlib import Path

import numpy as np
import pytest
import torch

from autograder.checks import serving as checks
from autograder.checks.record import visible
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from solutions import serving as ref

REPO = Path(__file__).resolve().parent.parent
ANSWERS = {"export_vectors": ref.export_vectors, "brute_force_topk": ref.brute_force_topk,
           "simple_lsh_items": ref.simple_lsh_items, "simple_lsh_query": ref.simple_lsh_query}


def failure(check, *fns) -> str:
    with pytest.raises(CheckFailed) as err:
        check(*fns)
    return str(err.value)


def graded(tmp_path, monkeypatch, **overrides) -> dict:
    """Record every graded test with the reference, some exercises replaced; the comparator's verdicts."""
    monkeypatch.setenv("YTDNN_RECORDS", str(tmp_path))
    fns = {**ANSWERS, **overrides}
    for grade_id, case_ids in checks.TESTS.items():
        checks.record_test(grade_id, fns[checks.CASES[case_ids[0]]["exercise"]], quiet=True)
    return judge(checks.ASSIGNMENT, read_record_files(tmp_path))


def test_every_test_grades_cases_of_one_exercise():
    for grade_id, case_ids in checks.TESTS.items():
        assert len({checks.CASES[c]["exercise"] for c in case_ids}) == 1, grade_id


def test_reference_passes_every_visible_check(capsys):
    checks.check_export_vectors(ref.export_vectors)
    checks.check_brute_force_topk(ref.brute_force_topk)
    checks.check_simple_lsh_items(ref.simple_lsh_items)
    checks.check_simple_lsh_query(ref.simple_lsh_query)
    checks.check_rankings_agree(ref.simple_lsh_items, ref.simple_lsh_query)
    out = capsys.readouterr().out
    for task in ("Task 1", "Task 2", "Task 3a", "Task 3b", "Task 3c"):
        assert f"{task} check passed" in out
    assert "All tests passed" not in out


def test_reference_passes_every_graded_case(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}


def test_ranking_cases_need_the_transform():
    """Plain cosine ranks most of the top-k differently from the inner product on these cases."""
    for case_id in ("rank.seed", "rank.seed_variant", "rank.larger"):
        x = checks.inputs(checks.CASES[case_id])
        exact = torch.topk(x["queries"] @ x["items"].T, x["k"]).indices
        padded = torch.cat([x["items"], torch.zeros(len(x["items"]), 1)], dim=1)
        assert (checks.cosine_topk(padded, x["queries"], x["k"]) == exact).float().mean() < 0.5, case_id


# --- Task 1 mistakes --------------------------------------------------------------------------


def one_last(user, weight, bias):
    return torch.cat([user, torch.ones(len(user), 1)], 1), torch.cat([weight, bias[:, None]], 1)


def bias_last(user, weight, bias):
    return torch.cat([torch.ones(len(user), 1), user], 1), torch.cat([weight, bias[:, None]], 1)


def no_bias(user, weight, bias):
    return user, weight


def swapped(user, weight, bias):
    q, i = ref.export_vectors(user, weight, bias)
    return i, q


@pytest.mark.parametrize("fn, hint", [
    (one_last, "the 1 goes FIRST"),
    (bias_last, "the bias goes FIRST"),
    (no_bias, "one more coordinate"),
    (swapped, "outputs are swapped"),
])
def test_export_mistakes(fn, hint, tmp_path, monkeypatch):
    msg = failure(checks.check_export_vectors, fn)
    assert hint in msg
    verdicts = graded(tmp_path, monkeypatch, export_vectors=fn)
    assert not verdicts["test_export_seed"].passed and not verdicts["test_export_sizes"].passed


def test_export_not_written():
    def fn(user, weight, bias):
        raise NotImplementedError()
    assert "not written yet" in failure(checks.check_export_vectors, fn)


# --- Task 2 mistakes --------------------------------------------------------------------------


def unmasked(queries, items, k, seen=None):
    return ref.brute_force_topk(queries, items, k)


def masked_with_zero(queries, items, k, seen=None):
    scores = (queries @ items.T).masked_fill(ref.seen_mask(seen, len(queries), len(items)), 0.0)
    top = torch.topk(scores, k, dim=1)
    return top.values, top.indices


def smallest(queries, items, k, seen=None):
    scores = (queries @ items.T).masked_fill(ref.seen_mask(seen, len(queries), len(items)), float("inf"))
    top = torch.topk(scores, k, dim=1, largest=False)
    return top.values, top.indices


def transposed(queries, items, k, seen=None):
    scores, ids = ref.brute_force_topk(queries, items, k, seen)
    return scores.T, ids.T


@pytest.mark.parametrize("fn, hint", [
    (unmasked, "already watched"),
    (masked_with_zero, "masking with 0 is not enough"),
    (smallest, "take the largest"),
    (transposed, "transposed?"),
])
def test_topk_mistakes(fn, hint, tmp_path, monkeypatch):
    msg = failure(checks.check_brute_force_topk, fn)
    assert hint in msg
    verdicts = graded(tmp_path, monkeypatch, brute_force_topk=fn)
    assert not verdicts["test_topk_seed"].passed and not verdicts["test_topk_masks"].passed


def test_topk_first_mismatch_is_shown():
    msg = failure(checks.check_brute_force_topk, unmasked)
    assert "at [0, " in msg and "expected" in msg


# --- Task 3 mistakes --------------------------------------------------------------------------


def per_row_normalised(items):
    x = items / items.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return torch.cat([x, torch.zeros(len(x), 1)], 1)


def paddle_variant(items):
    """Seed 004's [x, sqrt(m^2 - ||x||^2)]: ranks the same, but rows are not unit norm."""
    n = items.norm(dim=1)
    return torch.cat([items, (n.max() ** 2 - n ** 2).clamp_min(0).sqrt()[:, None]], 1)


def extra_first(items):
    out = ref.simple_lsh_items(items)
    return torch.cat([out[:, -1:], out[:, :-1]], 1)


def no_extra(items):
    return items / items.norm(dim=1).max()


@pytest.mark.parametrize("fn, hint", [
    (per_row_normalised, "normalised by its OWN norm"),
    (paddle_variant, "first D columns are the raw items"),
    (extra_first, "extra coordinate goes LAST"),
    (no_extra, "append one coordinate"),
])
def test_lsh_items_mistakes(fn, hint, tmp_path, monkeypatch):
    msg = failure(checks.check_simple_lsh_items, fn)
    assert hint in msg
    verdicts = graded(tmp_path, monkeypatch, simple_lsh_items=fn)
    assert not verdicts["test_lsh_items_seed"].passed and not verdicts["test_lsh_items_sizes"].passed


def test_nan_from_an_unclamped_square_root_is_explained():
    def nan_row(items):
        out = ref.simple_lsh_items(items)
        out[0, -1] = float("nan")
        return out
    assert "clamp it at 0" in failure(checks.check_simple_lsh_items, nan_row)


def test_rankings_fail_without_the_transform_or_with_per_row_normalisation(tmp_path, monkeypatch):
    def pad_zero(items):
        return torch.cat([items, torch.zeros(len(items), 1)], 1)
    for fn in (pad_zero, per_row_normalised):
        assert "differs from the exact inner-product top-5" in failure(checks.check_rankings_agree, fn, ref.simple_lsh_query)
        verdicts = graded(tmp_path, monkeypatch, simple_lsh_items=fn)
        assert not verdicts["test_rankings_seed"].passed and not verdicts["test_rankings_larger"].passed


def test_rankings_pass_with_the_paddle_variant(tmp_path, monkeypatch):
    """Seed 004's unscaled variant keeps the ranking (only the norm-1 property is lost)."""
    def query(q):
        return torch.cat([q, torch.zeros(len(q), 1)], 1)
    checks.check_rankings_agree(paddle_variant, query)
    verdicts = graded(tmp_path, monkeypatch, simple_lsh_items=paddle_variant)
    assert verdicts["test_rankings_seed"].passed and verdicts["test_rankings_larger"].passed


def test_rankings_width_mismatch():
    msg = failure(checks.check_rankings_agree, ref.simple_lsh_items, lambda q: q)
    assert "same width" in msg


def not_normalised(queries):
    return torch.cat([queries, torch.zeros(len(queries), 1)], 1)


def columns_normalised(queries):
    x = queries / queries.norm(dim=0, keepdim=True)
    return torch.cat([x, torch.zeros(len(x), 1)], 1)


def appends_one(queries):
    x = queries / queries.norm(dim=1, keepdim=True)
    return torch.cat([x, torch.ones(len(x), 1)], 1)


@pytest.mark.parametrize("fn, hint", [
    (not_normalised, "divide each query by its own norm"),
    (columns_normalised, "normalised the columns"),
    (appends_one, "appended coordinate is 0"),
    (lambda q: q / q.norm(dim=1, keepdim=True), "append a 0"),
])
def test_lsh_query_mistakes(fn, hint, tmp_path, monkeypatch):
    msg = failure(checks.check_simple_lsh_query, fn)
    assert hint in msg
    verdicts = graded(tmp_path, monkeypatch, simple_lsh_query=fn)
    assert not verdicts["test_lsh_query_seed"].passed and not verdicts["test_lsh_query_sizes"].passed


# --- a hostile submission -----------------------------------------------------------------------


def test_a_lookup_table_of_the_visible_answers_with_patched_comparisons_scores_nothing(tmp_path, monkeypatch):
    shipped = visible(checks.ASSIGNMENT)

    def table(case_id, *names):
        out = tuple(torch.from_numpy(np.asarray(
            np.array(shipped[case_id]["arrays"][n]["values"]).reshape(shipped[case_id]["arrays"][n]["shape"])))
            for n in names)
        return out if len(out) > 1 else out[0]

    hostile = dict(
        export_vectors=lambda user, weight, bias: table("export.seed", "queries", "items"),
        brute_force_topk=lambda queries, items, k, seen=None: table("topk.seed", "scores", "ids"),
        simple_lsh_items=lambda items: table("items.seed", "transformed"),
        simple_lsh_query=lambda queries: table("query.seed", "transformed"),
    )
    # Everything in this process says "equal"; the comparator does not run here.
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(torch, "equal", lambda *a, **k: True)
    verdicts = graded(tmp_path, monkeypatch, **hostile)
    monkeypatch.undo()
    assert not any(v.passed for v in verdicts.values()), {g: v.message() for g, v in verdicts.items() if v.passed}


# --- what students receive gives nothing away ---------------------------------------------------


def test_release_holds_no_line_of_the_answers():
    from autograder import release
    from course_helpers import solution_lines
    lines = solution_lines(ref)
    assert len(lines) > 10
    assert release.audit(REPO / "course" / "release" / checks.ASSIGNMENT, lines) == []


def test_no_hidden_expected_value_is_shipped():
    import json
    hidden = json.loads((REPO / "autograder" / "hidden" / f"{checks.ASSIGNMENT}.json").read_text())
    secrets = {repr(v) for case in hidden["cases"].values() for a in case["arrays"].values()
               for v in a["values"] if isinstance(v, float) and v not in (0.0, 1.0)}
    assert len(secrets) > 50
    shipped = [REPO / "autograder" / "checks" / "expected" / f"{checks.ASSIGNMENT}.json",
               REPO / "autograder" / "checks" / "serving.py",
               *(REPO / "course" / "release" / checks.ASSIGNMENT).glob("*.ipynb")]
    for path in shipped:
        text = path.read_text()
        leaked = [s for s in secrets if s in text]
        assert not leaked, f"{path.name} holds hidden expected values, e.g. {leaked[:3]}"
