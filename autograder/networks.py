"""Checks for assignment 01 (the two seed networks), over frozen expectations.

Visible checks (``check_candidate_generation``, ``check_ranking``) run the seed's example; the
hidden tests of the source notebook call ``check_*_case`` with other sizes and seeds, and the
gradient and integrity checks below. Nothing here computes a forward pass of its own: every
expected number comes from ``autograder/expected/01_networks.json``.
"""
from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from typing import Callable

import torch

from . import expected
from .compare import as_tensor, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed

ASSIGNMENT = "01_networks"
ATOL = 1e-6


@dataclass(frozen=True)
class Task:
    """What differs between the two exercises."""
    number: int
    class_name: str
    key: str
    call: Callable[[torch.nn.Module, dict], torch.Tensor]
    describe_input: Callable[[dict], str]
    output_hint: Callable[[torch.Tensor, torch.Tensor], str | None]
    forward_hint: str
    shape_meaning: str


def _call_candidate(model, case):
    return model([torch.LongTensor(h) for h in case["histories"]])


def _call_ranking(model, case):
    return model(torch.LongTensor(case["history"]), torch.LongTensor(case["scored"]))


def _candidate_output_hint(out: torch.Tensor, want: torch.Tensor) -> str | None:
    if out.dim() != 2:
        return None
    if torch.allclose(torch.softmax(out.detach().float(), dim=1), want, atol=1e-5):
        return "these are the right scores before the softmax: apply torch.softmax(..., dim=1) at the end."
    ones = torch.ones((), dtype=torch.float64)
    rows = out.detach().double().sum(dim=1)
    cols = out.detach().double().sum(dim=0)
    if torch.allclose(rows, ones.expand_as(rows), atol=1e-5):
        return None
    if torch.allclose(cols, ones.expand_as(cols), atol=1e-5):
        return "the columns sum to 1 instead of the rows: softmax over the wrong dimension? Use dim=1 (over items)."
    if (out < 0).any() or (out > 1).any():
        return "values outside [0, 1]: apply torch.softmax(..., dim=1) to the output layer."
    return "each row should sum to 1 (a probability distribution over the items): apply softmax over dim=1."


def _ranking_output_hint(out: torch.Tensor, want: torch.Tensor) -> str | None:
    if torch.allclose(torch.sigmoid(out.detach().float()), want, atol=1e-5):
        return "these are the right scores before the sigmoid: apply torch.sigmoid to the output layer."
    if (out < 0).any() or (out > 1).any():
        return "values outside (0, 1): apply torch.sigmoid to the output layer."
    return None


CANDIDATE = Task(
    1, "DeepCandidateGenerationModel", "candidate_generation", _call_candidate,
    lambda c: f"user_histories = {c['histories']}", _candidate_output_hint,
    "average (mean, not sum) the embeddings of each history; a ReLU after every hidden layer, the last "
    "one included; no activation between the output layer and the softmax",
    "(batch, n_items)")
RANKING = Task(
    2, "DeepRankingModel", "ranking", _call_ranking,
    lambda c: f"user_history = {c['history']}, scored_item = {c['scored']}", _ranking_output_hint,
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


def _run(model, task: Task, case: dict) -> torch.Tensor:
    try:
        out = task.call(model, case)
    except NotImplementedError:
        raise CheckFailed(f"Task {task.number}: forward is not written yet (it raised NotImplementedError).",
                          hint="replace `raise NotImplementedError()` in forward with your code.") from None
    except Exception as err:
        where = _student_line(err)
        raise CheckFailed(f"Task {task.number}: calling the model on {task.describe_input(case)} raised "
                          f"{type(err).__name__}: {err}", [where] if where else [],
                          hint="print the shape of each intermediate tensor to see where it stops fitting; "
                               "each history embeds to (length, embedding_dim).") from None
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"Task {task.number}: forward returned {type(out).__name__}, expected a torch.Tensor.",
                          hint="make forward end with `return x`, x being the output tensor.")
    return out


def _student_line(err: Exception) -> str | None:
    """'in forward, line N: CODE' for the deepest frame of the student's own code (not torch's)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if "site-packages" not in f.filename and not f.filename.startswith(__file__.rsplit("/", 1)[0])]
    if not frames:
        return None
    f = frames[-1]
    return f"in {f.name}, line {f.lineno}: {f.line.strip()}" if f.line else f"in {f.name}, line {f.lineno}"


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
        n, h = args["n_hidden_layers"], args["hidden_dim"]
        widths = " → ".join(str(h * 2 ** (n - 1 - i)) for i in range(n))
        raise CheckFailed(
            f"Task {task.number}: the parameter shapes differ from the expected architecture "
            f"for {task.class_name}({_args_str(args)}).",
            [f"expected (in order of use): {', '.join(map(shape_str, want))}",
             f"got:                       {', '.join(map(shape_str, got))}"],
            hint=f"embedding ({args['n_items']}, {args['embedding_dim']}); nn.Linear stores weights as (out, in); "
                 f"the hidden layers' widths are {widths}.")


def _rows_note(out: torch.Tensor, want: torch.Tensor, histories: list[list[int]]) -> str:
    """Which users' rows match: a clue when only the one-item histories are right (sum vs mean)."""
    ok = [i for i in range(len(histories)) if torch.allclose(out[i].detach().float(), want[i], atol=ATOL)]
    lengths = ", ".join(f"user {i} ({len(h)} item{'s' if len(h) > 1 else ''})" for i, h in enumerate(histories) if i in ok)
    note = f"rows that match: {lengths or 'none'}"
    if ok and all(len(histories[i]) == 1 for i in ok) and len(ok) < len(histories):
        note += " — only one-item histories are right, so look at how you combine several embeddings"
    return note


def _weights_hint(model, task: Task, frozen_params: list[dict]) -> str:
    """Tell a wrong initialisation (modules created in another order) from a wrong forward pass."""
    params = [p.detach().float() for p in model.parameters()]
    found = [any(p.shape == as_tensor(f).shape and torch.allclose(p, as_tensor(f), atol=ATOL) for p in params)
             for f in frozen_params]
    if all(found):
        return f"your initial weights equal the reference, so the forward pass differs: {task.forward_hint}."
    if not found[0]:
        return ("the embedding's initial weights differ from the reference: right after torch.manual_seed(seed), "
                "create nn.Embedding(n_items, embedding_dim) first, then the hidden layers first to last, then the output layer.")
    return ("the embedding is right but later layers start from other random weights: create the modules in the order "
            "they are applied (hidden layers first to last, then the output layer) and no extra random modules.")


def _check_case(cls, task: Task, case_name: str, with_weights_hint: bool) -> tuple[torch.Tensor, torch.Tensor]:
    case = expected.load(ASSIGNMENT)[task.key][case_name]
    args = case["args"]
    model = _build(cls, task, args)
    _check_parameters(model, task, case["params"], args)
    out = _run(model, task, case)
    want = as_tensor(case["output"])
    where = f"{task.class_name}({_args_str(args)}) on {task.describe_input(case)}"
    if tuple(out.shape) != tuple(want.shape):
        hint = f"the output should be {task.shape_meaning}."
        if tuple(out.shape) == tuple(reversed(want.shape)):
            hint = f"transposed? The output should be {task.shape_meaning}."
        elif out.numel() == want.numel():
            hint = f"same number of values, other shape: keep {task.shape_meaning} (e.g. no squeeze)."
        raise CheckFailed(f"Task {task.number}: wrong output shape for {where}.",
                          [f"expected {shape_str(want.shape)}, got {shape_str(out.shape)}"], hint=hint)
    details = mismatch_lines(out, want, ATOL)
    if details:
        if task is CANDIDATE:
            details.append(_rows_note(out, want, case["histories"]))
        hint = task.output_hint(out.detach(), want)
        if hint is None:
            hint = (_weights_hint(model, task, case["params"]) if with_weights_hint and case["params"] and "values" in case["params"][0]
                    else f"the seed example passes? If not, fix that first. Otherwise check the sizes: {task.forward_hint}.")
        raise CheckFailed(f"Task {task.number}: the output values differ from the reference for {where}.", details, hint=hint)
    return out, want


def check_candidate_generation(cls) -> None:
    """Visible check of Task 1 on the seed's example."""
    out, want = _check_case(cls, CANDIDATE, "seed", with_weights_hint=True)
    passed("Task 1 check passed: DeepCandidateGenerationModel(n_items=12, embedding_dim=3, hidden_dim=6, "
           "n_hidden_layers=4, seed=6789) has the expected layers (embedding 12×3, hidden 48 → 24 → 12 → 6, "
           f"output 12, no biases) and reproduces the reference softmax on the seed batch (shape (4, 12), max abs "
           f"error {max_abs_error(out, want):.1e}).\n  Hidden tests will also try other sizes and seeds, a batch "
           "of one user, one-item histories, and check that gradients reach the embedding.")


def check_ranking(cls) -> None:
    """Visible check of Task 2 on the seed's example."""
    out, want = _check_case(cls, RANKING, "seed", with_weights_hint=True)
    passed("Task 2 check passed: DeepRankingModel(n_items=12, embedding_dim=3, hidden_dim=6, n_hidden_layers=4, "
           "seed=6789) has the expected layers (shared embedding 12×3, hidden 48 → 24 → 12 → 6 without bias, "
           f"output 1 with bias) and reproduces the reference scores for 12 items (shape (12, 1), max abs error "
           f"{max_abs_error(out, want):.1e}).\n  Hidden tests will also try other sizes and seeds, a single scored "
           "item, a one-item history, and check that gradients reach the embedding.")


def check_candidate_generation_case(cls, case_name: str) -> None:
    """Hidden test: one frozen case of Task 1 (other sizes, seeds, batch shapes)."""
    _check_own_code(cls)
    _check_case(cls, CANDIDATE, case_name, with_weights_hint=False)


def check_ranking_case(cls, case_name: str) -> None:
    """Hidden test: one frozen case of Task 2."""
    _check_own_code(cls)
    _check_case(cls, RANKING, case_name, with_weights_hint=False)


GRADIENT_ARGS = dict(n_items=9, embedding_dim=4, hidden_dim=8, n_hidden_layers=2, seed=5)


def _check_gradient_rows(cls, task: Task, case: dict, loss_fn, rows: list[int], hint: str) -> None:
    """Back-propagate ``loss_fn(output)`` and require gradients on exactly these embedding rows."""
    _check_own_code(cls)
    model = _build(cls, task, GRADIENT_ARGS)
    out = _run(model, task, case)
    if not out.requires_grad:
        raise CheckFailed(f"Task {task.number}: the output does not require grad, so the network cannot be trained.",
                          hint="no torch.no_grad() or .detach() inside forward.")
    loss_fn(out).backward()
    shape = (GRADIENT_ARGS["n_items"], GRADIENT_ARGS["embedding_dim"])
    table = [p for p in model.parameters() if tuple(p.shape) == shape]
    if len(table) != 1 or table[0].grad is None:
        raise CheckFailed(f"Task {task.number}: no gradient reached the embedding table {shape_str(shape)}.",
                          hint="do not detach tensors, call .item()/.numpy() or wrap the forward pass in torch.no_grad().")
    used = (table[0].grad.abs().sum(dim=1) > 0).nonzero().flatten().tolist()
    if used != rows:
        raise CheckFailed(f"Task {task.number}: gradients reached the wrong embedding rows.",
                          [f"expected rows {rows}, got {used}"], hint=hint)


def check_candidate_generation_gradients(cls) -> None:
    """Hidden test: a loss on the output back-propagates to exactly the embeddings that were used."""
    _check_gradient_rows(cls, CANDIDATE, {"histories": [[1, 2], [2, 6]]},
                         lambda out: -out[[0, 1], [3, 4]].log().sum(), [1, 2, 6],
                         "embed exactly the items of each history.")


def check_ranking_gradients(cls) -> None:
    """Hidden test: a logistic loss back-propagates to the history's and the scored items' embeddings."""
    _check_gradient_rows(cls, RANKING, {"history": [1, 2], "scored": [3, 7]},
                         lambda out: torch.nn.functional.binary_cross_entropy(out.reshape(-1), torch.tensor([1.0, 0.0])),
                         [1, 2, 3, 7], "one shared embedding for the history (1, 2) and the scored items (3, 7).")


def _check_own_code(cls) -> None:
    """Refuse a class borrowed from the instructors' reference package."""
    borrowed = [k for k in getattr(cls, "__mro__", ()) if getattr(k, "__module__", "").split(".")[0] == "solutions"]
    if borrowed or any(name.split(".")[0] == "solutions" for name in list(sys.modules)):
        raise CheckFailed("This submission uses the reference solutions package; it cannot be graded as your work.")
