"""Student-side checks: they pass correct networks, and for each classic mistake they say what
differs and give the matching hint."""
import ast
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from autograder.checks import networks as checks
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from solutions import DeepCandidateGenerationModel as RefCandidate, DeepRankingModel as RefRanking

REPO = Path(__file__).resolve().parent.parent


def failure(check, cls) -> str:
    with pytest.raises(CheckFailed) as err:
        check(cls)
    return str(err.value)


# --- mistakes in Task 1 -------------------------------------------------------------------------

class NotWritten(nn.Module):
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__()
        raise NotImplementedError()


class SoftmaxDim0(RefCandidate):
    def forward(self, user_histories):
        x = torch.stack([self.embedding(h).mean(0) for h in user_histories])
        return torch.softmax(self.output(self.hidden(x)), dim=0)


class SumNotMean(RefCandidate):
    def forward(self, user_histories):
        x = torch.stack([self.embedding(h).sum(0) for h in user_histories])
        return torch.softmax(self.output(self.hidden(x)), dim=1)


class NoSoftmax(RefCandidate):
    def forward(self, user_histories):
        x = torch.stack([self.embedding(h).mean(0) for h in user_histories])
        return self.output(self.hidden(x))


class WithBias(RefCandidate):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output = nn.Linear(self.output.in_features, self.output.out_features, bias=True)


class OutputFirst(RefCandidate):
    """Right modules, created in the wrong order: the output layer before the embedding."""
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        nn.Module.__init__(self)
        torch.manual_seed(seed)
        output = nn.Linear(hidden_dim, n_items, bias=False)
        ref = RefCandidate(n_items, embedding_dim, hidden_dim, n_hidden_layers, seed + 1)
        self.embedding, self.hidden, self.output = ref.embedding, ref.hidden, output


class Transposed(RefCandidate):
    def forward(self, user_histories):
        return super().forward(user_histories).T


class Crashes(RefCandidate):
    def forward(self, user_histories):
        return self.hidden(self.embedding(user_histories[0]).mean(0)[None, :2])


def test_reference_and_an_independent_style_pass(capsys):
    checks.check_candidate_generation(RefCandidate)
    checks.check_ranking(RefRanking)
    out = capsys.readouterr().out
    assert "Task 1 check passed" in out and "Task 2 check passed" in out
    assert "this check's points come from the same example with another seed" in out
    assert "All tests passed" not in out


def test_not_written_says_so():
    msg = failure(checks.check_candidate_generation, NotWritten)
    assert "not written yet" in msg and "NotImplementedError" in msg


def test_softmax_over_wrong_dimension():
    msg = failure(checks.check_candidate_generation, SoftmaxDim0)
    assert "values differ" in msg and "max abs error" in msg
    assert "softmax over the wrong dimension" in msg and "dim=1" in msg
    assert "at [0, 0]: expected" in msg  # first mismatching position with both values


def test_sum_instead_of_mean_points_at_the_forward_pass():
    msg = failure(checks.check_candidate_generation, SumNotMean)
    assert "initial weights equal the reference, so the forward pass differs" in msg
    assert "mean, not sum" in msg
    assert "rows that match: user 1 (1 item), user 2 (1 item) — only one-item histories are right" in msg


def test_missing_softmax():
    assert "right scores before the softmax" in failure(checks.check_candidate_generation, NoSoftmax)


def test_bias_present():
    msg = failure(checks.check_candidate_generation, WithBias)
    assert "bias present?" in msg and "(12,)" in msg


def test_wrong_creation_order():
    msg = failure(checks.check_candidate_generation, OutputFirst)
    assert "embedding's initial weights differ" in msg and "create nn.Embedding" in msg


def test_transposed_output_shape():
    msg = failure(checks.check_candidate_generation, Transposed)
    assert "expected (4, 12), got (12, 4)" in msg and "transposed?" in msg


def test_exception_in_forward_is_reported_with_the_input_and_the_line():
    msg = failure(checks.check_candidate_generation, Crashes)
    assert "raised RuntimeError" in msg and "user_histories = [[7, 3, 9]" in msg
    assert "in forward, line" in msg and "return self.hidden(self.embedding(user_histories[0])" in msg


def test_wrong_tower_widths():
    class Narrow(RefCandidate):
        def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
            super().__init__(n_items, embedding_dim, hidden_dim, n_hidden_layers - 1, seed)
    msg = failure(checks.check_candidate_generation, Narrow)
    assert "parameter shapes differ" in msg and "48 → 24 → 12 → 6" in msg


# --- mistakes in Task 2 -------------------------------------------------------------------------

class UserOnTheRight(RefRanking):
    def forward(self, user_history, scored_item):
        user = self.embedding(user_history).mean(0)
        items = self.embedding(scored_item)
        x = torch.cat([items, user.expand(len(items), -1)], dim=1)
        return torch.sigmoid(self.output(self.hidden(x)))


class NoOutputBias(RefRanking):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.output = nn.Linear(self.output.in_features, 1, bias=False)


class NoSigmoid(RefRanking):
    def forward(self, user_history, scored_item):
        return torch.logit(super().forward(user_history, scored_item))


class TwoTables(RefRanking):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.item_embedding = nn.Embedding(*self.embedding.weight.shape)


class Squeezed(RefRanking):
    def forward(self, user_history, scored_item):
        return super().forward(user_history, scored_item).squeeze(1)


def test_user_concatenated_on_the_right():
    msg = failure(checks.check_ranking, UserOnTheRight)
    assert "average is on the RIGHT of the concatenation" in msg and "user first" in msg


def test_missing_output_bias():
    assert "output layer needs a bias" in failure(checks.check_ranking, NoOutputBias)


def test_missing_sigmoid():
    assert "right scores before the sigmoid" in failure(checks.check_ranking, NoSigmoid)


def test_two_embedding_tables():
    msg = failure(checks.check_ranking, TwoTables)
    assert "2 embedding tables of shape (12, 3)" in msg and "ONE shared nn.Embedding" in msg


def test_squeezed_output():
    msg = failure(checks.check_ranking, Squeezed)
    assert "expected (12, 1), got (12,)" in msg and "no squeeze" in msg


# --- more hints ----------------------------------------------------------------------------------

class LogSoftmax(RefCandidate):
    def forward(self, user_histories):
        return torch.log(super().forward(user_histories))


class PaddingIdx(RefCandidate):
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__(n_items, embedding_dim, hidden_dim, n_hidden_layers, seed)
        torch.manual_seed(seed)
        self.embedding = nn.Embedding(n_items, embedding_dim, padding_idx=0)


class FirstLayerTooNarrow(RefRanking):
    def __init__(self, n_items, embedding_dim, hidden_dim, n_hidden_layers, seed):
        super().__init__(n_items, embedding_dim, hidden_dim, n_hidden_layers, seed)
        first = self.hidden[0]
        self.hidden[0] = nn.Linear(embedding_dim, first.out_features, bias=False)


class NoLastRelu(RefCandidate):
    def forward(self, user_histories):
        x = torch.stack([self.embedding(h).mean(0) for h in user_histories])
        x = self.hidden[:-1](x)  # drops the final ReLU
        return torch.softmax(self.output(x), dim=1)


class ExtraOutputRelu(RefCandidate):
    def forward(self, user_histories):
        x = torch.stack([self.embedding(h).mean(0) for h in user_histories])
        return torch.softmax(torch.relu(self.output(self.hidden(x))), dim=1)


class MissingMiddleRelu(RefRanking):
    def forward(self, user_history, scored_item):
        user = self.embedding(user_history).mean(0)
        items = self.embedding(scored_item)
        x = torch.cat([user.expand(len(items), -1), items], dim=1)
        x = self.hidden[0](x)  # no ReLU after the first hidden layer
        return torch.sigmoid(self.output(self.hidden[2:](x)))


@pytest.mark.parametrize("cls, check, words", [
    (NoLastRelu, "check_candidate_generation", "the ReLU after the LAST hidden layer is missing"),
    (ExtraOutputRelu, "check_candidate_generation", "a ReLU after the output layer is extra"),
    (MissingMiddleRelu, "check_ranking", "the ReLU after hidden layer 1 is missing"),
])
def test_which_relu_is_missing_or_extra(cls, check, words):
    assert words in failure(getattr(checks, check), cls)


def test_log_softmax_is_named():
    assert "not log_softmax" in failure(checks.check_candidate_generation, LogSoftmax)


def test_padding_idx_is_named_not_creation_order():
    msg = failure(checks.check_candidate_generation, PaddingIdx)
    assert "padding_idx" in msg and "item 0 is a real item" in msg


def test_ranking_first_layer_takes_the_concatenation():
    msg = failure(checks.check_ranking, FirstLayerTooNarrow)
    assert "2·embedding_dim = 6" in msg and "nn.Linear(6, 48, bias=False)" in msg


# --- graded cases: recorded in the notebook, judged by the comparator ----------------------------

def graded(tmp_path, monkeypatch, task1, task2) -> dict:
    monkeypatch.setenv("YTDNN_RECORDS", str(tmp_path))
    for grade_id in checks.TESTS:
        checks.record_test(grade_id, task1 if "task1" in grade_id else task2)
    return judge(checks.ASSIGNMENT, read_record_files(tmp_path))


def test_the_reference_passes_every_graded_case(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, RefCandidate, RefRanking)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}


def test_each_bug_fails_the_graded_cases_it_should(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, SumNotMean, NoOutputBias)
    # Sum and mean agree on one-item histories, so only those cases match.
    assert not verdicts["test_task1_sizes"].passed and not verdicts["test_task1_seed"].passed
    assert "one-item histories: matched" in verdicts["test_task1_batches"].message()
    assert "values differ" in verdicts["test_task1_sizes"].message()
    assert not any(v.passed for g, v in verdicts.items() if g.startswith("test_task2") and g != "test_task2_gradients")


def test_comparator_feedback_never_shows_expected_values(tmp_path, monkeypatch):
    verdicts = graded(tmp_path, monkeypatch, NoSoftmax, Squeezed)
    text = "\n".join(v.message() for v in verdicts.values())
    assert "expected 0." not in text and "at [" not in text
    assert "shape differs (got (5,), expected (5, 1))" in text


def test_gradient_cases(tmp_path, monkeypatch):
    class Detached(RefCandidate):
        def forward(self, user_histories):
            return super().forward(user_histories).detach()
    verdicts = graded(tmp_path, monkeypatch, Detached, TwoTables)
    assert "raised" in verdicts["test_task1_gradients"].message()
    assert "found 2" in verdicts["test_task2_gradients"].message()


def test_a_missing_or_forged_record_scores_nothing(tmp_path, monkeypatch):
    graded(tmp_path, monkeypatch, RefCandidate, RefRanking)
    (tmp_path / "task1.sizes_a.npz").unlink()
    (tmp_path / "task1.gradients.npz").write_bytes(b"not a zip")
    (tmp_path / "task2.seed_variant.npz").unlink()
    (tmp_path / "task2.seed_variant.npz").symlink_to(REPO / "autograder" / "hidden" / "01_networks.json")
    verdicts = judge(checks.ASSIGNMENT, read_record_files(tmp_path))
    assert "not recorded" in verdicts["test_task1_sizes"].message() and not verdicts["test_task1_sizes"].passed
    assert "unreadable record" in verdicts["test_task1_gradients"].message()
    assert "unreadable record" in verdicts["test_task2_seed"].message()


def test_failure_renders_without_traceback():
    err = CheckFailed("Task 1: something", ["detail"], hint="try this")
    lines = err._render_traceback_()
    assert "Task 1: something" in lines[0] and lines[1:] == ["  detail", "Hint: try this"]


# --- what students receive never imports the answers ---------------------------------------------

def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["autograder/checks", "ytdnn"])
def test_student_packages_never_import_solutions(package):
    offenders = [str(p) for p in (REPO / package).rglob("*.py") if "solutions" in imported_modules(p)]
    assert offenders == []
