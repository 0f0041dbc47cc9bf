"""Assignment 02 (user tower): the reference passes, typical mistakes get the matching hint and lose the
graded cases, a hostile submission scores nothing, and ytdnn.features does what it says."""
import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.checks import record
from autograder.checks import user_tower as checks
from autograder.checks.compare import as_array
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from solutions import user_tower as ref
from ytdnn.features import add_demographics, demographic_sizes, keep_last, without_demographics
from ytdnn.examples import build_item_vocab, next_watch_examples


def failure(check, obj) -> str:
    with pytest.raises(CheckFailed) as err:
        check(obj)
    return str(err.value)


def graded(tmp_path, monkeypatch, mean_fn, tower_cls) -> dict:
    monkeypatch.setenv("YTDNN_RECORDS", str(tmp_path))
    for grade_id in checks.TESTS:
        checks.record_test(grade_id, mean_fn if "masked_mean" in grade_id else tower_cls)
    return judge(checks.ASSIGNMENT, read_record_files(tmp_path))


# --- the reference ---------------------------------------------------------------------------

def test_reference_passes_the_visible_checks(capsys):
    checks.check_masked_mean(ref.masked_mean)
    checks.check_user_tower(ref.UserTower)
    out = capsys.readouterr().out
    assert "Exercise 1 check passed" in out and "Exercise 2 check passed" in out
    assert "19 → 8 → 4" in out


def test_reference_passes_every_graded_case(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, ref.masked_mean, ref.UserTower)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}


def test_embedding_bag_and_a_masked_loop_pass_too(tmp_path, monkeypatch):
    def bag(embeddings, ids):
        return F.embedding_bag(ids, embeddings, mode="mean", padding_idx=0)

    class BagTower(ref.UserTower):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.watch_embedding = nn.EmbeddingBag(*self.watch_embedding.weight.shape, mode="mean", padding_idx=0)

    checks.check_masked_mean(bag)
    checks.check_user_tower(BagTower)
    verdicts = graded(tmp_path, monkeypatch, bag, BagTower)
    assert all(v.passed for v in verdicts.values())


@pytest.mark.parametrize("case_id", [c for c, case in checks.CASES.items() if case["exercise"] == "UserTower"])
def test_documented_state_dict_is_the_reference_one(case_id):
    args = checks.CASES[case_id]["args"]
    got = {k: tuple(v.shape) for k, v in ref.UserTower(**args).state_dict().items()}
    assert got == checks.state_shapes(args)


def test_reference_ignores_extra_padding_and_empty_histories_give_no_nan():
    args, batch, state = checks.example("task2.seed")
    tower = ref.UserTower(**args)
    tower.load_state_dict(state)
    u = tower(batch)
    longer = {**batch, "history": F.pad(batch["history"], (0, 5)), "search": F.pad(batch["search"], (0, 2))}
    assert torch.allclose(u, tower(longer)) and not torch.isnan(u).any()
    assert (u >= 0).all() and (u > 0).any(dim=1).all()  # every row of the example says something


# --- mistakes in Exercise 1 ------------------------------------------------------------------

def mean_sum(embeddings, ids):
    return (embeddings[ids] * (ids != 0).unsqueeze(-1)).sum(1)


def mean_over_padded_length(embeddings, ids):
    return mean_sum(embeddings, ids) / ids.shape[1]


def mean_with_padding(embeddings, ids):
    return embeddings[ids].mean(1)


def mean_nan_on_empty(embeddings, ids):
    mask = (ids != 0).unsqueeze(-1).float()
    return (embeddings[ids] * mask).sum(1) / mask.sum(1)


@pytest.mark.parametrize("fn, words", [
    (mean_sum, "sums of each row's embeddings"),
    (mean_over_padded_length, "divided by the padded length (4)"),
    (mean_with_padding, "padding id 0 is counted in the mean"),
    (mean_nan_on_empty, "clamped to at least 1"),
])
def test_masked_mean_mistakes_get_their_hint_and_fail_graded_cases(fn, words, tmp_path, monkeypatch):
    assert words in failure(checks.check_masked_mean, fn)
    verdicts = graded(tmp_path, monkeypatch, fn, ref.UserTower)
    assert not verdicts["test_masked_mean_seed"].passed and not verdicts["test_masked_mean_sizes"].passed


def test_not_written_says_so():
    def not_written(embeddings, ids):
        raise NotImplementedError()
    assert "not written yet" in failure(checks.check_masked_mean, not_written)


# --- mistakes in Exercise 2 ------------------------------------------------------------------

def pieces(self, batch, mean=ref.masked_mean):
    age = batch["example_age"].float().unsqueeze(1)
    return [mean(self.watch_embedding.weight, batch["history"]), mean(self.search_embedding.weight, batch["search"]),
            self.age_embedding(batch["age_bucket"]), self.gender_embedding(batch["gender"]),
            self.country_embedding(batch["country"]), self.device_embedding(batch["device"]),
            batch["logged_in"].float().unsqueeze(1), age, age ** 2]


class SumTower(ref.UserTower):
    def forward(self, batch):
        return self.tower(torch.cat(pieces(self, batch, mean_sum), dim=1))


class PaddingTower(ref.UserTower):
    def forward(self, batch):
        return self.tower(torch.cat(pieces(self, batch, mean_with_padding), dim=1))


class SearchFirst(ref.UserTower):
    def forward(self, batch):
        p = pieces(self, batch)
        return self.tower(torch.cat([p[1], p[0], *p[2:]], dim=1))


class DemographicsFirst(ref.UserTower):
    def forward(self, batch):
        p = pieces(self, batch)
        return self.tower(torch.cat([*p[2:6], p[0], p[1], *p[6:]], dim=1))


class NoFinalReLU(ref.UserTower):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tower = nn.Sequential(*list(self.tower)[:-1])


class NoSquare(ref.UserTower):
    def __init__(self, n_videos, n_tokens, n_ages, n_genders, n_countries, n_devices, embedding_dim, demo_dim, hidden_dims):
        super().__init__(n_videos, n_tokens, n_ages, n_genders, n_countries, n_devices, embedding_dim, demo_dim, hidden_dims)
        first = self.tower[0]
        self.tower[0] = nn.Linear(first.in_features - 1, first.out_features)

    def forward(self, batch):
        return self.tower(torch.cat(pieces(self, batch)[:-1], dim=1))


class RenamedTable(ref.UserTower):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.video_embedding = self.watch_embedding
        del self.watch_embedding


class ReluOutsideSequential(ref.UserTower):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.tower = nn.Sequential(*[m for m in self.tower if isinstance(m, nn.Linear)])


def test_sum_instead_of_mean():
    assert "summed, not averaged" in failure(checks.check_user_tower, SumTower)


def test_padding_counted():
    assert "padding is counted" in failure(checks.check_user_tower, PaddingTower)


@pytest.mark.parametrize("cls, yours", [
    (SearchFirst, "yours is [search, watch, age_bucket"),
    (DemographicsFirst, "yours is [age_bucket, gender, country, device, watch, search"),
])
def test_wrong_concatenation_order_is_named(cls, yours):
    msg = failure(checks.check_user_tower, cls)
    assert yours in msg and "the required order is [watch, search, age_bucket" in msg


def test_missing_final_relu():
    msg = failure(checks.check_user_tower, NoFinalReLU)
    assert "no ReLU follows the last layer" in msg and "rows that match" in msg


def test_missing_square_of_example_age():
    msg = failure(checks.check_user_tower, NoSquare)
    assert "tower.0.weight has shape (8, 18), expected (8, 19)" in msg and "x AND x²" in msg


def test_state_dict_names_missing_and_unexpected_keys():
    msg = failure(checks.check_user_tower, RenamedTable)
    assert "missing watch_embedding.weight" in msg and "unexpected video_embedding.weight" in msg


def test_relu_outside_the_sequential():
    msg = failure(checks.check_user_tower, ReluOutsideSequential)
    assert "missing tower.2.weight" in msg and "put the nn.ReLU() modules inside the Sequential" in msg


@pytest.mark.parametrize("cls", [SumTower, PaddingTower, SearchFirst, NoFinalReLU, NoSquare, RenamedTable])
def test_tower_mistakes_fail_the_graded_cases(cls, tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, ref.masked_mean, cls)
    assert not verdicts["test_user_tower_seed"].passed and not verdicts["test_user_tower_sizes"].passed
    if cls is RenamedTable:
        assert "state_dict mismatch: missing watch_embedding.weight" in verdicts["test_user_tower_seed"].message()


def test_detached_output_loses_the_gradient_test(tmp_path, monkeypatch):
    class Detached(ref.UserTower):
        def forward(self, batch):
            return super().forward(batch).detach()
    verdicts = graded(tmp_path, monkeypatch, ref.masked_mean, Detached)
    assert not verdicts["test_user_tower_gradients"].passed and verdicts["test_user_tower_seed"].passed


# --- a hostile submission --------------------------------------------------------------------

def test_lookup_table_of_visible_answers_that_patches_comparisons_scores_zero(tmp_path, monkeypatch):
    """Returns the shipped expected values whatever it is asked and makes every in-process comparison
    say 'equal'; the comparator, outside the student's process, still gives 0 points."""
    visible = record.visible(checks.ASSIGNMENT)
    mean_answer = torch.from_numpy(as_array(visible["task1.seed"]["arrays"]["output"]))
    tower_answer = torch.from_numpy(as_array(visible["task2.seed"]["arrays"]["output"]))

    def hostile_mean(embeddings, ids):
        return (mean_answer + 0 * embeddings.sum()).clone()

    class HostileTower(ref.UserTower):
        def forward(self, batch):
            return tower_answer + 0 * self.tower[0].bias.sum()

    with monkeypatch.context() as patch:
        patch.setattr(np, "allclose", lambda *a, **k: True)
        patch.setattr(torch, "allclose", lambda *a, **k: True)
        patch.setattr(checks, "mismatch_lines", lambda *a, **k: [])
        patch.setenv("YTDNN_RECORDS", str(tmp_path))
        checks.check_masked_mean(hostile_mean)  # fooled in its own process: it records, never decides
        checks.check_user_tower(HostileTower)
        for grade_id in checks.TESTS:
            checks.record_test(grade_id, hostile_mean if "masked_mean" in grade_id else HostileTower)
    verdicts = judge(checks.ASSIGNMENT, read_record_files(tmp_path))  # the comparator's own, unpatched process state
    assert not any(v.passed for v in verdicts.values())


def test_graded_cases_never_reuse_the_visible_inputs():
    seen = {repr({k: v for k, v in c.items() if k not in ("kind", "visible")}) for c in checks.CASES.values()}
    assert len(seen) == len(checks.CASES)
    assert all(not checks.CASES[c].get("visible") for cases in checks.TESTS.values() for c in cases)


# --- ytdnn.features --------------------------------------------------------------------------

def test_keep_last_keeps_the_most_recent_ids():
    ids = torch.LongTensor([[5, 6, 7, 0], [8, 0, 0, 0], [0, 0, 0, 0]])
    lengths = torch.LongTensor([3, 1, 0])
    assert keep_last(ids, lengths, 2).tolist() == [[6, 7], [8, 0], [0, 0]]
    assert keep_last(ids, lengths, 0).tolist() == [[0], [0], [0]]
    assert keep_last(ids, lengths, 9).tolist()[0] == [5, 6, 7, 0, 0, 0, 0, 0, 0]
    with pytest.raises(ValueError, match="k must be >= 0"):
        keep_last(ids, lengths, -1)


def test_add_demographics_and_the_blind_batch():
    users = pd.DataFrame({"user_id": [0, 1], "age_bucket": ["18-24", "unknown"], "gender": ["male", "unknown"],
                          "country": ["US", "DE"], "device": ["tv", "mobile"], "logged_in": [True, False]})
    watches = pd.DataFrame({"user_id": [0, 0, 1, 1, 2, 2], "item_id": [1, 2, 1, 3, 2, 1], "timestamp": [1, 2, 3, 4, 5, 6]})
    ex = next_watch_examples(watches, build_item_vocab(watches), max_examples_per_user=None)
    vocabs = add_demographics(ex, users)
    assert ex.features["logged_in"].tolist() == [1, 0, 0]  # user 2 is not in the table: logged out, OOV
    assert ex.features["country"].tolist()[-1] == 1
    assert demographic_sizes(vocabs) == {"n_ages": 4, "n_genders": 4, "n_countries": 4, "n_devices": 4}
    batch = {k: torch.as_tensor(v) for k, v in ex.features.items()}
    blind = without_demographics(batch)
    assert all((blind[c] == 1).all() for c in ("age_bucket", "gender", "country", "device"))
    assert (blind["logged_in"] == 0).all() and (batch["logged_in"] == torch.tensor([1, 0, 0])).all()
    with pytest.raises(ValueError, match="lacks column"):
        add_demographics(ex, users.drop(columns="device"))


# --- what students receive -------------------------------------------------------------------

def test_release_and_student_modules_give_no_answer_away():
    import inspect
    from pathlib import Path
    from autograder import release
    lines, inside = [], False
    for line in inspect.getsource(ref).splitlines():
        if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
            inside = "BEGIN" in line
        elif inside and len(line.strip()) > 12 and not line.strip().startswith("#"):
            lines.append(line.strip())
    assert len(lines) > 15
    repo = Path(__file__).resolve().parent.parent
    assert release.audit(repo / "course" / "release" / "02_user_tower", lines) == []
    shipped = (repo / "ytdnn" / "features.py").read_text() + (repo / "autograder" / "checks" / "user_tower.py").read_text()
    leaked = [line for line in lines if line in shipped and not line.startswith(("return", "in_dim = width"))]
    assert leaked == []
