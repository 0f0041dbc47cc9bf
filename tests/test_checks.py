"""Student-side checks: they pass correct networks, and for each classic mistake they say what
differs and give the matching hint."""
import ast
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from autograder import networks as checks
from autograder.report import CheckFailed
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
    assert "Hidden tests will also try other sizes" in out
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
    assert "user on the LEFT" in msg


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


# --- hidden tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["sizes_a", "sizes_b", "one_layer", "batch_of_one", "one_item_histories"])
def test_hidden_candidate_cases_pass_the_reference_and_fail_a_bug(case, monkeypatch):
    # The reference lives in `solutions`, which the integrity check refuses; pretend it is the
    # student's own class, as it is when copied into the source notebook.
    monkeypatch.setattr(checks, "_check_own_code", lambda cls: None)
    checks.check_candidate_generation_case(RefCandidate, case)
    with pytest.raises(CheckFailed):
        checks.check_candidate_generation_case(SumNotMean if case in ("sizes_a", "sizes_b", "one_layer") else NoSoftmax, case)


@pytest.mark.parametrize("case", ["sizes_a", "sizes_b", "one_layer", "one_scored_item", "one_item_history"])
def test_hidden_ranking_cases(case, monkeypatch):
    monkeypatch.setattr(checks, "_check_own_code", lambda cls: None)
    checks.check_ranking_case(RefRanking, case)
    with pytest.raises(CheckFailed):
        checks.check_ranking_case(NoOutputBias, case)


def test_gradient_checks(monkeypatch):
    monkeypatch.setattr(checks, "_check_own_code", lambda cls: None)
    checks.check_candidate_generation_gradients(RefCandidate)
    checks.check_ranking_gradients(RefRanking)

    class Detached(RefCandidate):
        def forward(self, user_histories):
            return super().forward(user_histories).detach()
    msg = failure(checks.check_candidate_generation_gradients, Detached)
    assert "does not require grad" in msg


def test_borrowed_reference_class_is_refused():
    msg = failure(checks.check_candidate_generation_gradients, RefCandidate)
    assert "reference solutions package" in msg


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


@pytest.mark.parametrize("package", ["autograder", "ytdnn"])
def test_student_packages_never_import_solutions(package):
    offenders = [str(p) for p in (REPO / package).rglob("*.py") if "solutions" in imported_modules(p)]
    assert offenders == []
