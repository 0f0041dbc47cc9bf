"""Checks for assignment 01 (the two seed networks).

Cases: ``CASES`` holds every case's inputs (constructor arguments, histories, items). ``TESTS`` maps
each test cell of the notebook (its nbgrader ``grade_id``) to the graded cases it records; their
expected values are the instructor's (``autograder/hidden/01_networks.json``) and the comparator
decides the points. The visible checks (``check_candidate_generation``, ``check_ranking``) compare
the seed's example in the notebook with ``autograder/checks/expected/01_networks.json`` and explain
any difference; their points ride on a graded variant of the same example (another seed).
Nothing here computes a forward pass of its own: every expected number is frozen by
``python -m solutions.expected``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from . import record
from .compare import as_array, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed, student_line

ASSIGNMENT = "01_networks"
ATOL = 1e-6

SEED_ARGS = dict(n_items=12, embedding_dim=3, hidden_dim=6, n_hidden_layers=4, seed=6789)
SIZES_A = dict(n_items=20, embedding_dim=5, hidden_dim=4, n_hidden_layers=2, seed=1)
SIZES_B = dict(n_items=50, embedding_dim=8, hidden_dim=16, n_hidden_layers=3, seed=2024)
ONE_LAYER = dict(n_items=7, embedding_dim=2, hidden_dim=5, n_hidden_layers=1, seed=15)
# Graded cases never reuse the visible example's weights: a table of its outputs must not pass them.
BATCH_ARGS = {**SEED_ARGS, "seed": 4242}
GRADIENT_ARGS = dict(n_items=9, embedding_dim=4, hidden_dim=8, n_hidden_layers=2, seed=5)

C, R = "DeepCandidateGenerationModel", "DeepRankingModel"
# Each case: the exercise it runs, what kind of case it is (feedback names it), its inputs.
# "visible" cases ship with their expected values; every other case is graded by the comparator.
CASES: dict[str, dict] = {
    "task1.seed": dict(exercise=C, kind="the seed example", visible=True, args=SEED_ARGS,
                       histories=[[7, 3, 9], [11], [0], [10, 1, 4, 8]]),
    "task1.seed_variant": dict(exercise=C, kind="the seed example's sizes with another seed and batch",
                               args={**SEED_ARGS, "seed": 9876}, histories=[[1, 2], [11, 0, 5], [4]]),
    "task1.sizes_a": dict(exercise=C, kind="other sizes and seeds", args=SIZES_A,
                          histories=[[0, 19, 3], [5, 5], [7, 1, 2, 3, 4, 18], [12]]),
    "task1.sizes_b": dict(exercise=C, kind="other sizes and seeds", args=SIZES_B,
                          histories=[[49, 0], [10, 20, 30, 40], [3]]),
    "task1.one_layer": dict(exercise=C, kind="a single hidden layer", args=ONE_LAYER, histories=[[6, 0], [2]]),
    "task1.batch_of_one": dict(exercise=C, kind="a batch of one user", args=BATCH_ARGS, histories=[[5]]),
    "task1.one_item_histories": dict(exercise=C, kind="one-item histories", args=BATCH_ARGS,
                                     histories=[[0], [11], [5], [5]]),
    "task1.gradients": dict(exercise=C, kind="gradients of a loss on the output", args=GRADIENT_ARGS,
                            histories=[[1, 2], [2, 6]], targets=[3, 4]),
    "task2.seed": dict(exercise=R, kind="the seed example", visible=True, args=SEED_ARGS,
                       history=[7, 3, 9], scored=list(range(12))),
    "task2.seed_variant": dict(exercise=R, kind="the seed example's sizes with another seed and items",
                               args={**SEED_ARGS, "seed": 9876}, history=[0, 11, 4], scored=[3, 3, 8, 1]),
    "task2.sizes_a": dict(exercise=R, kind="other sizes and seeds", args=SIZES_A,
                          history=[0, 19, 3, 3], scored=[19, 0, 4, 4, 8]),
    "task2.sizes_b": dict(exercise=R, kind="other sizes and seeds", args=SIZES_B,
                          history=[10, 20, 30], scored=list(range(0, 50, 7))),
    "task2.one_layer": dict(exercise=R, kind="a single hidden layer", args=ONE_LAYER, history=[6], scored=[0, 1, 2]),
    "task2.one_scored_item": dict(exercise=R, kind="a single scored item", args=BATCH_ARGS, history=[7, 3, 9], scored=[4]),
    "task2.one_item_history": dict(exercise=R, kind="a one-item history", args=BATCH_ARGS, history=[2], scored=[2, 11, 0]),
    "task2.gradients": dict(exercise=R, kind="gradients of a logistic loss", args=GRADIENT_ARGS,
                            history=[1, 2], scored=[3, 7], targets=[1.0, 0.0]),
}

# Test cell (grade_id) -> the graded cases it records. Points are the notebook's; a test earns its
# points when every one of its cases matches.
TESTS: dict[str, list[str]] = {
    "test_task1_seed": ["task1.seed_variant"],
    "test_task1_sizes": ["task1.sizes_a", "task1.sizes_b", "task1.one_layer"],
    "test_task1_batches": ["task1.batch_of_one", "task1.one_item_histories"],
    "test_task1_gradients": ["task1.gradients"],
    "test_task2_seed": ["task2.seed_variant"],
    "test_task2_sizes": ["task2.sizes_a", "task2.sizes_b", "task2.one_layer"],
    "test_task2_batches": ["task2.one_scored_item", "task2.one_item_history"],
    "test_task2_gradients": ["task2.gradients"],
}


def _forward(model: torch.nn.Module, case: dict) -> torch.Tensor:
    if "histories" in case:
        return model([torch.LongTensor(h) for h in case["histories"]])
    return model(torch.LongTensor(case["history"]), torch.LongTensor(case["scored"]))


def _embedding_table(model: torch.nn.Module, args: dict) -> torch.Tensor:
    shape = (args["n_items"], args["embedding_dim"])
    tables = [p for p in model.parameters() if tuple(p.shape) == shape]
    if len(tables) != 1:
        raise ValueError(f"expected one embedding table of shape {shape_str(shape)}, found {len(tables)}")
    return tables[0]


def run_case(cls, case: dict) -> dict[str, np.ndarray]:
    """What a case records: the output, or for a gradient case, which embedding rows got a gradient."""
    model = cls(**case["args"])
    out = _forward(model, case)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"forward returned {type(out).__name__}, expected a torch.Tensor")
    if "targets" not in case:
        return {"output": out.detach().to(torch.float32).cpu().numpy()}
    if "histories" in case:
        loss = -out[torch.arange(len(out)), torch.tensor(case["targets"])].log().sum()
    else:
        loss = torch.nn.functional.binary_cross_entropy(out.reshape(-1), torch.tensor(case["targets"]))
    loss.backward()
    grad = _embedding_table(model, case["args"]).grad
    if grad is None:
        raise ValueError("no gradient reached the embedding table")
    return {"grad_rows": (grad.abs().sum(dim=1) > 0).numpy()}


def visible_extras(cls, case: dict) -> dict:
    """Shipped with a visible case: the initial weights, so a check can tell a wrong creation order."""
    from .compare import freeze
    model = cls(**case["args"])
    return {"params": [freeze(p.detach()) for p in model.parameters()]}


def record_test(grade_id: str, cls, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, cls, quiet)


@dataclass(frozen=True)
class Task:
    """What differs between the two exercises, for the visible checks' messages."""
    number: int
    class_name: str
    describe_input: Callable[[dict], str]
    output_hint: Callable[[np.ndarray, np.ndarray], str | None]
    forward_hint: str
    shape_meaning: str


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _candidate_output_hint(out: np.ndarray, want: np.ndarray) -> str | None:
    if out.ndim != 2:
        return None
    if np.allclose(np.exp(out), want, atol=1e-5):
        return "these are log-probabilities: use torch.softmax(..., dim=1), not log_softmax, at the end."
    if np.allclose(_softmax(out), want, atol=1e-5):
        return "these are the right scores before the softmax: apply torch.softmax(..., dim=1) at the end."
    rows, cols = out.sum(axis=1), out.sum(axis=0)
    if np.allclose(rows, 1, atol=1e-5):
        return None
    if np.allclose(cols, 1, atol=1e-5):
        return "the columns sum to 1 instead of the rows: softmax over the wrong dimension? Use dim=1 (over items)."
    if (out < 0).any() or (out > 1).any():
        return "values outside [0, 1]: apply torch.softmax(..., dim=1) to the output layer."
    return "each row should sum to 1 (a probability distribution over the items): apply softmax over dim=1."


def _ranking_output_hint(out: np.ndarray, want: np.ndarray) -> str | None:
    if np.allclose(1 / (1 + np.exp(-out)), want, atol=1e-5):
        return "these are the right scores before the sigmoid: apply torch.sigmoid to the output layer."
    if (out < 0).any() or (out > 1).any():
        return "values outside (0, 1): apply torch.sigmoid to the output layer."
    return None


CANDIDATE = Task(
    1, C, lambda c: f"user_histories = {c['histories']}", _candidate_output_hint,
    "average (mean, not sum) the embeddings of each history; a ReLU after every hidden layer, the last "
    "one included; no activation between the output layer and the softmax",
    "(batch, n_items)")
RANKING = Task(
    2, R, lambda c: f"user_history = {c['history']}, scored_item = {c['scored']}", _ranking_output_hint,
    "average (mean) the history's embeddings; concatenate [user, item] with the user on the LEFT; a ReLU "
    "after every hidden layer; sigmoid on the output layer",
    "(n_scored, 1)")


def _args_str(args: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


def _build(cls, task: Task, args: dict) -> torch.nn.Module:
    where = f"{task.class_name}({_args_str(args)})"
    try:
        return cls(**args)
    except NotImplementedError:
        raise CheckFailed(f"Task {task.number} is not written yet: {where} raised NotImplementedError.",
                          hint="replace `raise NotImplementedError()` in __init__ and forward with your code, "
                               "then run the class cell again before this check.") from None
    except Exception as err:  # the student's code may raise anything; say what and where
        raise CheckFailed(f"Creating {where} raised {type(err).__name__}: {err}",
                          hint="read the layer sizes in the task again; hidden layers go hidden_dim·2^(n−1) … hidden_dim.") from None


def _run(model, task: Task, case: dict) -> np.ndarray:
    try:
        out = _forward(model, case)
    except NotImplementedError:
        raise CheckFailed(f"Task {task.number}: forward is not written yet (it raised NotImplementedError).",
                          hint="replace `raise NotImplementedError()` in forward with your code.") from None
    except Exception as err:
        where = student_line(err)
        raise CheckFailed(f"Task {task.number}: calling the model on {task.describe_input(case)} raised "
                          f"{type(err).__name__}: {err}", [where] if where else [],
                          hint="print the shape of each intermediate tensor to see where it stops fitting; "
                               "each history embeds to (length, embedding_dim).") from None
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"Task {task.number}: forward returned {type(out).__name__}, expected a torch.Tensor.",
                          hint="make forward end with `return x`, x being the output tensor.")
    return out.detach().to(torch.float32).cpu().numpy()



def _check_parameters(model, task: Task, frozen_params: list[dict], args: dict) -> None:
    want = [tuple(p["shape"]) for p in frozen_params]
    got = [tuple(p.shape) for p in model.parameters()]
    want_bias = [s for s in want if len(s) == 1]
    got_bias = [s for s in got if len(s) == 1]
    if task is CANDIDATE and got_bias:
        raise CheckFailed(f"Task 1: your network has {len(got_bias)} bias vector(s) {got_bias}; the task says no layer has a bias.",
                          hint="bias present? Pass bias=False to every nn.Linear.")
    if task is RANKING and len(got_bias) != len(want_bias):
        hint = ("the hidden layers must not have a bias: bias=False there, bias=True on the output layer only."
                if len(got_bias) > len(want_bias) else "the output layer needs a bias: nn.Linear(hidden_dim, 1, bias=True).")
        raise CheckFailed(f"Task 2: expected exactly one bias (shape (1,), the output layer's), found {len(got_bias)}: {got_bias}.", hint=hint)
    table = (args["n_items"], args["embedding_dim"])
    if got.count(table) > want.count(table):
        raise CheckFailed(f"Task {task.number}: your network has {got.count(table)} embedding tables of shape "
                          f"{shape_str(table)}; expected {want.count(table)}.",
                          hint="use ONE shared nn.Embedding for the history and the scored items." if task is RANKING
                          else "one nn.Embedding(n_items, embedding_dim) is enough.")
    if sorted(got) != sorted(want):
        n, h, e = args["n_hidden_layers"], args["hidden_dim"], args["embedding_dim"]
        widths = " → ".join(str(h * 2 ** (n - 1 - i)) for i in range(n))
        first = h * 2 ** (n - 1)
        hint = (f"embedding ({args['n_items']}, {e}); nn.Linear stores weights as (out, in); "
                f"the hidden layers' widths are {widths}.")
        if task is RANKING and (first, e) in got and (first, 2 * e) not in got:
            hint = (f"the first hidden layer takes the concatenation [user, item], so its input size is "
                    f"2·embedding_dim = {2 * e}: nn.Linear({2 * e}, {first}, bias=False).")
        raise CheckFailed(
            f"Task {task.number}: the parameter shapes differ from the expected architecture "
            f"for {task.class_name}({_args_str(args)}).",
            [f"expected (in order of use): {', '.join(map(shape_str, want))}",
             f"got:                       {', '.join(map(shape_str, got))}"], hint=hint)


def _rows_note(out: np.ndarray, want: np.ndarray, histories: list[list[int]]) -> str:
    """Which users' rows match: a clue when only the one-item histories are right (sum vs mean)."""
    ok = [i for i in range(len(histories)) if np.allclose(out[i], want[i], atol=ATOL)]
    lengths = ", ".join(f"user {i} ({len(h)} item{'s' if len(h) > 1 else ''})" for i, h in enumerate(histories) if i in ok)
    note = f"rows that match: {lengths or 'none'}"
    if ok and all(len(histories[i]) == 1 for i in ok) and len(ok) < len(histories):
        note += " — only one-item histories are right, so look at how you combine several embeddings"
    return note


def _weights_hint(model, task: Task, frozen_params: list[dict], case: dict) -> str:
    """Tell a wrong initialisation (padding_idx, creation order) from a wrong forward pass."""
    if any(isinstance(m, torch.nn.Embedding) and m.padding_idx is not None for m in model.modules()):
        return ("your nn.Embedding has padding_idx set, which zeroes a row of it; here item 0 is a real item "
                "(the histories contain 0), so create nn.Embedding(n_items, embedding_dim) without padding_idx.")
    params = [p.detach().float().numpy() for p in model.parameters()]
    found = [any(p.shape == as_array(f).shape and np.allclose(p, as_array(f), atol=ATOL) for p in params)
             for f in frozen_params]
    if all(found):
        return _relu_hint(model, task, case) or \
            f"your initial weights equal the reference, so the forward pass differs: {task.forward_hint}."
    if not found[0]:
        return ("the embedding's initial weights differ from the reference: right after torch.manual_seed(seed), "
                "create nn.Embedding(n_items, embedding_dim) first, then the hidden layers first to last, then the output layer.")
    return ("the embedding is right but later layers start from other random weights: create the modules in the order "
            "they are applied (hidden layers first to last, then the output layer) and no extra random modules.")


def _relu_hint(model, task: Task, case: dict) -> str | None:
    """Which ReLU is missing or extra, read off the inputs the student's own Linear layers receive."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    seen: list[tuple[torch.nn.Linear, torch.Tensor, torch.Tensor]] = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m, i[0].detach(), o.detach()))) for m in linears]
    try:
        with torch.no_grad():
            out = _forward(model, case)
    except Exception:
        return None
    finally:
        for h in hooks:
            h.remove()
    if len(seen) < 2:
        return None
    *hidden, (last_layer, last_in, logits) = seen
    for k, (_, inputs, _) in enumerate(hidden[1:], start=2):
        if (inputs < 0).any():
            return f"hidden layer {k} receives negative values: the ReLU after hidden layer {k - 1} is missing."
    if (last_in < 0).any():
        return ("the output layer receives negative values: the ReLU after the LAST hidden layer is missing "
                "(the user vector u is the output of a ReLU).")
    if not (hidden[0][1] < 0).any() and (model.state_dict()[next(iter(model.state_dict()))] < 0).any():
        return "the first hidden layer receives no negative values: a ReLU before it (on the averaged embeddings) is extra."
    if task is RANKING and hidden[0][1].shape[0] > 1:
        first_in, half = hidden[0][1], hidden[0][1].shape[1] // 2
        same = lambda x: bool(torch.allclose(x, x[:1].expand_as(x)))
        if same(first_in[:, half:]) and not same(first_in[:, :half]):
            return "the user's average is on the RIGHT of the concatenation: use torch.cat([user, item], dim=1), user first."
    final = torch.softmax(torch.relu(logits), dim=1) if task is CANDIDATE else torch.sigmoid(torch.relu(logits))
    if (logits < 0).any() and final.shape == out.shape and torch.allclose(out.detach(), final, atol=1e-6):
        return "a ReLU after the output layer is extra: the scores go straight into the " + \
            ("softmax." if task is CANDIDATE else "sigmoid.")
    return None


def _check_visible(cls, task: Task, case_id: str) -> tuple[np.ndarray, np.ndarray]:
    """Compare the visible case in the notebook and explain any difference."""
    case, frozen = CASES[case_id], record.visible(ASSIGNMENT)[case_id]
    args = case["args"]
    model = _build(cls, task, args)
    _check_parameters(model, task, frozen["params"], args)
    out = _run(model, task, case)
    want = as_array(frozen["arrays"]["output"])
    where = f"{task.class_name}({_args_str(args)}) on {task.describe_input(case)}"
    if out.shape != want.shape:
        hint = f"the output should be {task.shape_meaning}."
        if out.shape == tuple(reversed(want.shape)):
            hint = f"transposed? The output should be {task.shape_meaning}."
        elif out.size == want.size:
            hint = f"same number of values, other shape: keep {task.shape_meaning} (e.g. no squeeze)."
        raise CheckFailed(f"Task {task.number}: wrong output shape for {where}.",
                          [f"expected {shape_str(want.shape)}, got {shape_str(out.shape)}"], hint=hint)
    details = mismatch_lines(out, want, ATOL)
    if details:
        if task is CANDIDATE:
            details.append(_rows_note(out, want, case["histories"]))
        hint = task.output_hint(out, want) or _weights_hint(model, task, frozen["params"], case)
        raise CheckFailed(f"Task {task.number}: the output values differ from the reference for {where}.", details, hint=hint)
    return out, want


def check_candidate_generation(cls) -> None:
    """Visible check of Task 1 on the seed's example; records the graded variant first."""
    record_test("test_task1_seed", cls, quiet=True)
    out, want = _check_visible(cls, CANDIDATE, "task1.seed")
    passed("Task 1 check passed: DeepCandidateGenerationModel(n_items=12, embedding_dim=3, hidden_dim=6, "
           "n_hidden_layers=4, seed=6789) has the expected layers (embedding 12×3, hidden 48 → 24 → 12 → 6, "
           f"output 12, no biases) and reproduces the reference softmax on the seed batch (shape (4, 12), max abs "
           f"error {max_abs_error(out, want):.1e}).\n  When your notebook is graded, this check's points come from the "
           "same example with another seed; hidden tests also try other sizes, a batch of one user, one-item "
           "histories, and that gradients reach the embedding.")


def check_ranking(cls) -> None:
    """Visible check of Task 2 on the seed's example; records the graded variant first."""
    record_test("test_task2_seed", cls, quiet=True)
    out, want = _check_visible(cls, RANKING, "task2.seed")
    passed("Task 2 check passed: DeepRankingModel(n_items=12, embedding_dim=3, hidden_dim=6, n_hidden_layers=4, "
           "seed=6789) has the expected layers (shared embedding 12×3, hidden 48 → 24 → 12 → 6 without bias, "
           f"output 1 with bias) and reproduces the reference scores for 12 items (shape (12, 1), max abs error "
           f"{max_abs_error(out, want):.1e}).\n  When your notebook is graded, this check's points come from the same "
           "example with another seed; hidden tests also try other sizes, a single scored item, a one-item history, "
           "and that gradients reach the embedding.")
