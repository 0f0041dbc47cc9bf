"""Assignment 04: the reference passes every graded case, typical mistakes get their hint and lose
the points, a table of the visible answers scores nothing, and the course's support model trains."""
import numpy as np
import pytest
import torch

from autograder.checks import example_age as checks
from autograder.checks import record
from autograder.checks.report import CheckFailed
from autograder.comparator import judge, read_record_files
from solutions.example_age import example_age_feature, select_examples

DAY = 86_400


def failure(check, fn) -> str:
    with pytest.raises(CheckFailed) as err:
        check(fn)
    return str(err.value)


def graded(tmp_path, monkeypatch, age_fn, select_fn) -> dict:
    monkeypatch.setenv("YTDNN_RECORDS", str(tmp_path))
    for grade_id in checks.TESTS:
        checks.record_test(grade_id, age_fn if grade_id.startswith("test_age") else select_fn)
    return judge(checks.ASSIGNMENT, read_record_files(tmp_path))


def test_the_reference_passes_the_checks_and_every_graded_case(tmp_path, monkeypatch, capsys):
    checks.check_example_age_feature(example_age_feature)
    checks.check_select_examples(select_examples)
    out = capsys.readouterr().out
    assert "Task 1 check passed" in out and "Task 2 check passed" in out
    verdicts = graded(tmp_path, monkeypatch, example_age_feature, select_examples)
    assert {g: v.passed for g, v in verdicts.items()} == {g: True for g in checks.TESTS}


def test_reference_by_hand():
    feats = example_age_feature(torch.tensor([1000 - 3 * DAY, 1000, 1000 + DAY]), 1000, False, scale_days=1.0)
    assert feats.dtype == torch.float32 and feats.tolist() == [[3.0, 9.0], [0.0, 0.0], [0.0, 0.0]]
    assert example_age_feature(torch.tensor([5, 6]), 10**9, True).abs().sum() == 0
    # user 1: times 5, 5, 7 -> only the 7 has a strictly earlier watch; user 2: 1, 2, 3 -> 2 and 3.
    kept = select_examples(np.array([1, 2, 1, 2, 1, 2]), np.array([5, 1, 5, 2, 7, 3]), None, 0)
    assert kept.tolist() == [3, 4, 5]
    capped = select_examples(np.array([1, 2, 1, 2, 1, 2]), np.array([5, 1, 5, 2, 7, 3]), 1, 0)
    assert len(capped) == 2 and 4 in capped and ({3, 5} & set(capped.tolist()))


# --- Task 1 mistakes ------------------------------------------------------------------------------

def age_in_seconds(label_time, window_end, serving, scale_days=30.0):
    age = torch.zeros(len(label_time)) if serving else (window_end - label_time).clamp(min=0).double()
    return torch.stack([age, age ** 2], 1).float()


def age_only(label_time, window_end, serving, scale_days=30.0):
    return example_age_feature(label_time, window_end, serving, scale_days)[:, :1]


def float32_first(label_time, window_end, serving, scale_days=30.0):
    t = label_time.to(torch.float32)
    age = torch.zeros(len(t)) if serving else ((torch.tensor(float(window_end)) - t).clamp(min=0) / 86400 / scale_days)
    return torch.stack([age, age ** 2], 1)


def wrong_sign(label_time, window_end, serving, scale_days=30.0):
    age = example_age_feature(label_time, window_end, serving, scale_days)[:, 0]
    return torch.stack([-age, age ** 2], 1)


def no_zero_at_serving(label_time, window_end, serving, scale_days=30.0):
    return example_age_feature(label_time, window_end, False, scale_days)


@pytest.mark.parametrize("fn, hint", [
    (age_in_seconds, "divide by 86400"),
    (age_only, "only one column: return the age AND its square"),
    (float32_first, "Subtract window_end - label_time in int64 first"),
    (wrong_sign, "wrong sign"),
])
def test_task1_mistakes_get_their_hint_and_lose_the_points(fn, hint, tmp_path, monkeypatch):
    assert hint in failure(checks.check_example_age_feature, fn)
    verdicts = graded(tmp_path, monkeypatch, fn, select_examples)
    assert not verdicts["test_age_seed"].passed


def test_forgetting_serving_loses_the_serving_test(tmp_path, monkeypatch):
    checks.check_example_age_feature(no_zero_at_serving)  # the visible example is a training-time one
    verdicts = graded(tmp_path, monkeypatch, no_zero_at_serving, select_examples)
    assert verdicts["test_age_seed"].passed and not verdicts["test_age_serving"].passed


def test_not_written_says_so():
    def todo(*args, **kwargs):
        raise NotImplementedError()
    assert "not written yet" in failure(checks.check_example_age_feature, todo)
    assert "not written yet" in failure(checks.check_select_examples, todo)


# --- Task 2 mistakes ------------------------------------------------------------------------------

def less_or_equal(user_ids, timestamps, max_per_user, seed):
    """Counts a watch in the same second as the user's first watch as having history."""
    first = {u: timestamps[user_ids == u].min() for u in set(user_ids.tolist())}
    order = np.lexsort((timestamps, user_ids))
    is_first = np.zeros(len(user_ids), bool)
    for u in first:
        is_first[order[np.flatnonzero(user_ids[order] == u)[0]]] = True
    cand = np.flatnonzero(~is_first)
    keys = np.random.default_rng(seed).random(len(cand))
    keep = [c for u in sorted(first) for c in cand[user_ids[cand] == u][np.argsort(keys[user_ids[cand] == u])][:max_per_user or len(cand)]]
    return np.sort(np.array(keep, dtype=np.int64))


def global_cap(user_ids, timestamps, max_per_user, seed):
    kept = select_examples(user_ids, timestamps, None, seed)
    return kept[:max_per_user] if max_per_user else kept


def unsorted(user_ids, timestamps, max_per_user, seed):
    return select_examples(user_ids, timestamps, max_per_user, seed)[::-1].copy()


def keys_for_every_row(user_ids, timestamps, max_per_user, seed):
    keys = np.random.default_rng(seed).random(len(user_ids))
    cand = select_examples(user_ids, timestamps, None, seed)
    keep = [c for u in np.unique(user_ids[cand]) for c in cand[user_ids[cand] == u][np.argsort(keys[cand][user_ids[cand] == u])][:max_per_user]]
    return np.sort(np.array(keep, dtype=np.int64))


def mask_not_indices(user_ids, timestamps, max_per_user, seed):
    mask = np.zeros(len(user_ids), bool)
    mask[select_examples(user_ids, timestamps, max_per_user, seed)] = True
    return mask


@pytest.mark.parametrize("fn, hint", [
    (less_or_equal, "compare with <, not <="),
    (global_cap, "the cap is per user"),
    (unsorted, "sorted in increasing order"),
    (keys_for_every_row, "one key per candidate in increasing row index"),
    (mask_not_indices, "boolean mask"),
])
def test_task2_mistakes_get_their_hint_and_lose_the_points(fn, hint, tmp_path, monkeypatch):
    assert hint in failure(checks.check_select_examples, fn)
    verdicts = graded(tmp_path, monkeypatch, example_age_feature, fn)
    assert not verdicts["test_select_seed"].passed
    assert not all(verdicts[g].passed for g in ("test_select_sizes", "test_select_edges"))


# --- a table of the visible answers, with every comparison patched, still scores nothing -----------

def test_a_lookup_table_of_the_visible_cases_scores_nothing(tmp_path, monkeypatch):
    age_table = torch.from_numpy(record.visible_array(checks.ASSIGNMENT, "age.seed", "features"))
    select_table = record.visible_array(checks.ASSIGNMENT, "select.seed", "indices").astype(np.int64)

    def hostile_age(label_time, window_end, serving, scale_days=30.0):
        return age_table.clone()

    def hostile_select(user_ids, timestamps, max_per_user, seed):
        return select_table.copy()

    # Patch every comparison the student's kernel could use; the comparator runs apart and ignores them.
    monkeypatch.setattr(np, "allclose", lambda *a, **k: True)
    monkeypatch.setattr(np, "array_equal", lambda *a, **k: True)
    monkeypatch.setattr(torch, "allclose", lambda *a, **k: True)
    checks.check_example_age_feature(hostile_age)
    checks.check_select_examples(hostile_select)
    monkeypatch.undo()
    verdicts = graded(tmp_path, monkeypatch, hostile_age, hostile_select)
    assert not any(v.passed for v in verdicts.values())


# --- the support model of the notebook --------------------------------------------------------------

def test_candidate_model_trains_with_every_encoder_and_input():
    from ytdnn.candidate_model import CandidateModel, recall, train_full_softmax
    from ytdnn.examples import add_user_features, build_item_vocab, build_token_vocab, next_watch_examples
    from ytdnn.simulator import simulate

    world = simulate(n_users=60, n_videos=40, n_watches=2_000, n_slates=0, seed=3)
    vocab = build_item_vocab(world.watches)
    tokens = build_token_vocab(world.searches)
    ex = next_watch_examples(world.watches, vocab, max_history=8, max_examples_per_user=5,
                             searches=world.searches, token_vocab=tokens)
    cat = add_user_features(ex, world.users, ["country", "device"])
    dense = torch.randn(len(ex), 2)
    for encoder in ("mean", "max", "lstm"):
        for n_layers in (0, 2):
            model = CandidateModel(len(vocab), dim=8, encoder=encoder, n_tokens=len(tokens),
                                   categorical={k: len(v) for k, v in cat.items()}, n_dense=2, n_layers=n_layers, width=8)
            losses = train_full_softmax(model, ex, dense=dense, epochs=3, lr=3e-2)
            assert losses[-1] < losses[0]
            assert 0.0 <= recall(model, ex, 10, dense=dense) <= 1.0


def test_heldout_examples_take_the_context_around_the_label():
    import pandas as pd
    from ytdnn.examples import build_item_vocab
    from ytdnn.heldout_examples import heldout_examples

    log = pd.DataFrame({"user_id": [1] * 5, "item_id": [10, 11, 12, 13, 14], "timestamp": [1, 2, 3, 4, 5]})
    vocab = build_item_vocab(log)
    ex = heldout_examples(log, vocab, n_per_user=8, max_history=2, seed=0)
    assert len(ex) == 8
    for j in range(len(ex)):
        label = int(ex.label_item_id[j])
        history = [int(v) for v in vocab.values[ex.history(j) - 2]]
        others = [v for v in range(10, 15) if v != label]
        at = sum(v < label for v in others)  # where the label sits among the other watches
        start = min(max(at - 1, 0), len(others) - 2)
        assert history == others[start:start + 2], (label, history)


# --- what students receive gives nothing away --------------------------------------------------------

def answer_lines(text: str) -> list[str]:
    """Non-trivial lines between nbgrader's solution markers."""
    lines, inside = [], False
    for line in text.splitlines():
        if "BEGIN SOLUTION" in line:
            inside = True
        elif "END SOLUTION" in line:
            inside = False
        elif inside and len(line.strip()) > 12 and not line.strip().startswith(("#", "return")):
            lines.append(line.strip())
    return lines


def test_shipped_files_of_this_assignment_hold_no_answer_line_of_any_assignment():
    from pathlib import Path
    from autograder import release
    repo = Path(__file__).resolve().parent.parent
    lines = {line for path in (repo / "solutions").glob("*.py") for line in answer_lines(path.read_text())}
    ours = answer_lines((repo / "solutions" / "example_age.py").read_text())
    assert len(ours) > 10 and set(ours) <= lines
    assert release.audit(repo / "course" / "release" / checks.ASSIGNMENT, sorted(lines)) == []
    shipped = {p: p.read_text() for p in [repo / "ytdnn" / "candidate_model.py", repo / "ytdnn" / "heldout_examples.py",
                                          repo / "autograder" / "checks" / "example_age.py"]}
    leaked = {p.name: [line for line in lines if line in text] for p, text in shipped.items()}
    assert leaked == {p.name: [] for p in shipped}


def test_no_hidden_expected_value_is_shipped():
    import json
    from pathlib import Path
    repo = Path(__file__).resolve().parent.parent
    hidden = json.loads((repo / "autograder" / "hidden" / f"{checks.ASSIGNMENT}.json").read_text())
    secrets = {repr(v) for case in hidden["cases"].values() for a in case["arrays"].values()
               for v in a["values"] if isinstance(v, float) and v not in (0.0, 1.0)}
    assert len(secrets) > 10
    shipped = [repo / "autograder" / "checks" / "expected" / f"{checks.ASSIGNMENT}.json",
               repo / "autograder" / "checks" / "example_age.py", repo / "ytdnn" / "candidate_model.py",
               *(repo / "course" / "release" / checks.ASSIGNMENT).glob("*.ipynb")]
    for path in shipped:
        leaked = [s for s in secrets if s in path.read_text()]
        assert not leaked, f"{path.name} holds hidden expected values, e.g. {leaked[:3]}"
