"""Checks for assignment 02 (the candidate-generation user tower, paper sections 3.2-3.3, Figure 3).

Two exercises: ``masked_mean(embeddings, ids)`` (the average of a padded batch of ids through an
embedding table) and ``UserTower`` (every feature assembled and sent up a ReLU tower).

``UserTower`` is checked without depending on how, or in which order, the student creates its
modules: ``run_case`` builds the student's module, then loads a state_dict of known names and
shapes (``state_shapes``) filled from a fixed seed (``injected_state``), and records the output on
fixed batches. The names and shapes are the ones the task text documents; they are the
specification, not an answer. Every expected number comes from the frozen JSON files
(``python -m solutions.expected``); the hints below only probe the student's own module (does its
output change when padding is added, when each history is repeated twice, ...).
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from . import record
from .compare import as_array, max_abs_error, mismatch_lines, shape_str
from .report import CheckFailed, passed, student_line

ASSIGNMENT = "02_user_tower"
ATOL = 1e-5

M, U = "masked_mean", "UserTower"

# The user vector's inputs, in the order they are concatenated (the task text documents it).
FEATURE_ORDER = ("watch", "search", "age_bucket", "gender", "country", "device", "logged_in", "example_age",
                 "example_age²")
DEMOGRAPHIC_TABLES = (("age_embedding", "n_ages"), ("gender_embedding", "n_genders"),
                      ("country_embedding", "n_countries"), ("device_embedding", "n_devices"))


# --- inputs ----------------------------------------------------------------------------------

def table(n_ids: int, dim: int, seed: int) -> torch.Tensor:
    """(n_ids, dim) float32 embedding table drawn from ``seed``; row 0 is NOT zero on purpose."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n_ids, dim, generator=g)


def state_shapes(args: dict) -> dict[str, tuple[int, ...]]:
    """The state_dict every ``UserTower(**args)`` must have: name -> shape (the documented names)."""
    e, k = args["embedding_dim"], args["demo_dim"]
    shapes = {"watch_embedding.weight": (args["n_videos"], e), "search_embedding.weight": (args["n_tokens"], e)}
    for name, size in DEMOGRAPHIC_TABLES:
        shapes[f"{name}.weight"] = (args[size], k)
    in_dim = 2 * e + 4 * k + 3
    for i, width in enumerate(args["hidden_dims"]):
        shapes[f"tower.{2 * i}.weight"] = (width, in_dim)
        shapes[f"tower.{2 * i}.bias"] = (width,)
        in_dim = width
    return shapes


def injected_state(args: dict, seed: int) -> dict[str, torch.Tensor]:
    """Known weights for ``UserTower(**args)``: each tensor drawn from its own seed, so the values
    do not depend on the order of the modules."""
    out = {}
    for i, (name, shape) in enumerate(state_shapes(args).items()):
        g = torch.Generator().manual_seed(seed * 1000 + i)
        x = torch.randn(*shape, generator=g)
        if name.endswith("bias"):
            x = 0.1 * x
        elif name.startswith("tower"):
            x = 1.5 * x / shape[1] ** 0.5
        out[name] = x
    return out


def tower_batch(case: dict) -> dict[str, torch.Tensor]:
    """A case's batch as the tensors ``UserTower.forward`` receives."""
    b = case["batch"]
    out = {key: torch.LongTensor(b[key]) for key in ("history", "search", "age_bucket", "gender", "country", "device",
                                                       "logged_in")}
    out["example_age"] = torch.tensor(b["example_age"], dtype=torch.float32)
    return out


def example(case_id: str):
    """The inputs of a visible case, for the notebook's "try it" cells.

    ``masked_mean`` cases: ``(embeddings, ids)``; ``UserTower`` cases: ``(args, batch, state)``.
    """
    case = CASES[case_id]
    if not case.get("visible"):
        raise KeyError(f"{case_id}: not a visible case")
    if case["exercise"] == M:
        return table(*case["table"]), torch.LongTensor(case["ids"])
    return dict(case["args"]), tower_batch(case), injected_state(case["args"], case["weights_seed"])


# --- cases -----------------------------------------------------------------------------------

SEED_ARGS = dict(n_videos=10, n_tokens=9, n_ages=9, n_genders=5, n_countries=12, n_devices=6,
                 embedding_dim=4, demo_dim=2, hidden_dims=[8, 4])
ONE_LAYER = dict(n_videos=7, n_tokens=6, n_ages=9, n_genders=5, n_countries=4, n_devices=3,
                 embedding_dim=3, demo_dim=3, hidden_dims=[5])
THREE_LAYERS = dict(n_videos=40, n_tokens=25, n_ages=9, n_genders=5, n_countries=13, n_devices=6,
                    embedding_dim=6, demo_dim=4, hidden_dims=[24, 12, 6])

# Users of the seed batch: a regular user, a logged-out one (age and gender "unknown"), one who
# never searched, and a brand-new user at serving time (no watch, no search, example age 0).
SEED_BATCH = dict(
    history=[[3, 7, 2, 0], [5, 0, 0, 0], [9, 9, 4, 6], [0, 0, 0, 0]],
    search=[[4, 2, 0], [8, 0, 0], [0, 0, 0], [0, 0, 0]],
    age_bucket=[3, 8, 6, 2], gender=[2, 4, 3, 3], country=[2, 11, 5, 7], device=[2, 3, 5, 4],
    logged_in=[1, 0, 1, 1], example_age=[0.25, 0.5, 0.9, 0.0])
VARIANT_BATCH = dict(
    history=[[1, 8, 0], [6, 6, 0], [2, 3, 4], [0, 0, 0], [7, 0, 0]],
    search=[[0, 0], [3, 5], [7, 0], [2, 2], [0, 0]],
    age_bucket=[8, 4, 5, 7, 2], gender=[4, 2, 3, 2, 4], country=[3, 9, 2, 10, 6], device=[5, 2, 2, 3, 4],
    logged_in=[0, 1, 1, 1, 0], example_age=[0.75, 0.1, 0.0, 0.4, 1.0])


def _random_batch(args: dict, n: int, seed: int, logged_out: bool = False, serving: bool = False) -> dict:
    """A batch of ``n`` users with padded histories of random lengths (some empty)."""
    rng = np.random.default_rng(seed)

    def padded(n_ids, max_len, empty_p):
        lengths = np.where(rng.random(n) < empty_p, 0, rng.integers(1, max_len + 1, n))
        return [[int(rng.integers(1, n_ids)) for _ in range(m)] + [0] * (max_len - m) for m in lengths]

    unknown_age, unknown_gender = args["n_ages"] - 1, args["n_genders"] - 1
    return dict(
        history=padded(args["n_videos"], 6, 0.15), search=padded(args["n_tokens"], 4, 1.0 if logged_out else 0.3),
        age_bucket=[unknown_age] * n if logged_out else rng.integers(2, args["n_ages"], n).tolist(),
        gender=[unknown_gender] * n if logged_out else rng.integers(2, args["n_genders"], n).tolist(),
        country=rng.integers(1, args["n_countries"], n).tolist(), device=rng.integers(2, args["n_devices"], n).tolist(),
        logged_in=[0] * n if logged_out else (rng.random(n) < 0.8).astype(int).tolist(),
        example_age=[0.0] * n if serving else np.round(rng.random(n), 3).tolist())


CASES: dict[str, dict] = {
    "task1.seed": dict(exercise=M, kind="the example batch", visible=True, table=(8, 3, 11),
                       ids=[[3, 5, 0, 0], [7, 0, 0, 0], [0, 0, 0, 0], [2, 4, 6, 1]]),
    "task1.seed_variant": dict(exercise=M, kind="the example's sizes with another table and batch", table=(8, 3, 12),
                               ids=[[6, 0, 0, 0], [1, 2, 3, 0], [0, 0, 0, 0], [7, 7, 5, 4]]),
    "task1.sizes": dict(exercise=M, kind="other sizes", table=(30, 5, 13),
                        ids=[[29, 3, 3, 0, 0, 0, 0], [1, 0, 0, 0, 0, 0, 0], [0, 0, 0, 0, 0, 0, 0],
                             [4, 8, 15, 16, 23, 28, 2], [10, 20, 0, 0, 0, 0, 0], [5, 5, 5, 5, 5, 0, 0]]),
    "task1.no_padding": dict(exercise=M, kind="rows without padding", table=(6, 4, 14),
                             ids=[[1, 2, 3], [5, 4, 3], [2, 2, 2]]),
    "task1.empty_rows": dict(exercise=M, kind="a batch where every row is padding", table=(5, 2, 15),
                             ids=[[0, 0, 0], [0, 0, 0]]),
    "task1.one_column": dict(exercise=M, kind="a single column (max_len 1)", table=(5, 3, 16), ids=[[4], [0], [1]]),
    "task1.gradients": dict(exercise=M, kind="gradients flowing back into the table", table=(9, 3, 17),
                            ids=[[1, 2, 0, 0], [3, 3, 3, 0], [0, 0, 0, 0], [8, 2, 5, 6]], grad_seed=18),
    "task2.seed": dict(exercise=U, kind="the example batch", visible=True, args=SEED_ARGS, weights_seed=21,
                       batch=SEED_BATCH),
    "task2.seed_variant": dict(exercise=U, kind="the example's sizes with other weights and users", args=SEED_ARGS,
                               weights_seed=22, batch=VARIANT_BATCH),
    "task2.one_layer": dict(exercise=U, kind="a one-layer tower", args=ONE_LAYER, weights_seed=23,
                            batch=_random_batch(ONE_LAYER, 5, 23)),
    "task2.three_layers": dict(exercise=U, kind="a three-layer tower with other sizes", args=THREE_LAYERS,
                               weights_seed=24, batch=_random_batch(THREE_LAYERS, 7, 24)),
    "task2.logged_out_serving": dict(exercise=U, kind="logged-out users who never searched, at serving time",
                                     args=THREE_LAYERS, weights_seed=25,
                                     batch=_random_batch(THREE_LAYERS, 6, 25, logged_out=True, serving=True)),
    "task2.batch_of_one": dict(exercise=U, kind="a batch of one user", args=SEED_ARGS, weights_seed=26,
                               batch=_random_batch(SEED_ARGS, 1, 26)),
    "task2.gradients": dict(exercise=U, kind="gradients of a loss on u reaching every weight", args=ONE_LAYER,
                            weights_seed=27, batch=_random_batch(ONE_LAYER, 4, 27), grad_seed=28),
}

TESTS: dict[str, list[str]] = {
    "test_masked_mean_seed": ["task1.seed_variant"],
    "test_masked_mean_sizes": ["task1.sizes", "task1.no_padding"],
    "test_masked_mean_empty": ["task1.empty_rows", "task1.one_column"],
    "test_masked_mean_gradients": ["task1.gradients"],
    "test_user_tower_seed": ["task2.seed_variant"],
    "test_user_tower_sizes": ["task2.one_layer", "task2.three_layers"],
    "test_user_tower_users": ["task2.logged_out_serving", "task2.batch_of_one"],
    "test_user_tower_gradients": ["task2.gradients"],
}


# --- measuring -------------------------------------------------------------------------------

def _as_tensor(out, what: str) -> torch.Tensor:
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"{what} returned {type(out).__name__}, expected a torch.Tensor")
    return out


def _grad_weights(shape, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def load_weights(model: torch.nn.Module, args: dict, seed: int) -> None:
    """Load the injected weights; a mismatch raises one line naming the keys (missing, unexpected, shape)."""
    want = state_shapes(args)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = key_problems(want, got)
    if problems:
        raise KeyError("state_dict mismatch: " + "; ".join(problems))
    model.load_state_dict(injected_state(args, seed))


def key_problems(want: dict, got: dict) -> list[str]:
    """Missing keys, unexpected keys and shape differences between two name -> shape maps."""
    out = []
    missing = [k for k in want if k not in got]
    unexpected = [k for k in got if k not in want]
    if missing:
        out.append("missing " + ", ".join(missing))
    if unexpected:
        out.append("unexpected " + ", ".join(unexpected))
    out += [f"{k} has shape {shape_str(got[k])}, expected {shape_str(want[k])}" for k in want
            if k in got and tuple(got[k]) != tuple(want[k])]
    return out


def run_case(obj, case: dict) -> dict[str, np.ndarray]:
    """What a case records: the output, or for a gradient case the gradients of a fixed loss.

    One thread while it runs: a multi-threaded matmul may sum in another order and change the last
    bit, and the frozen expectations should not depend on the machine that froze them."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_case(obj, case)
    finally:
        torch.set_num_threads(threads)


def _run_case(obj, case: dict) -> dict[str, np.ndarray]:
    if case["exercise"] == M:
        emb = table(*case["table"])
        grad = "grad_seed" in case
        if grad:
            emb.requires_grad_(True)
        out = _as_tensor(obj(emb, torch.LongTensor(case["ids"])), "masked_mean")
        if not grad:
            return {"output": out.detach().to(torch.float32).numpy()}
        (out * _grad_weights(out.shape, case["grad_seed"])).sum().backward()
        if emb.grad is None:
            raise ValueError("no gradient reached the embedding table")
        return {"grad": emb.grad.numpy()}
    model = obj(**case["args"])
    load_weights(model, case["args"], case["weights_seed"])
    out = _as_tensor(model(tower_batch(case)), "UserTower.forward")
    if "grad_seed" not in case:
        return {"output": out.detach().to(torch.float32).numpy()}
    (out * _grad_weights(out.shape, case["grad_seed"])).sum().backward()
    params = dict(model.named_parameters())
    grads = {}
    for name in state_shapes(case["args"]):
        g = params[name].grad if name in params else None
        if g is None:
            raise ValueError(f"no gradient reached {name}")
        grads["grad_" + name.replace(".", "_")] = g.numpy()
    return grads


def record_test(grade_id: str, obj, quiet: bool = False) -> None:
    """Hidden test cells call this: run and record the graded cases of ``grade_id``."""
    record.record_test(sys.modules[__name__], grade_id, obj, quiet)


# --- the visible checks ----------------------------------------------------------------------


def _call(what: str, fn, *args):
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{what} is not written yet (it raised NotImplementedError).",
                          hint="replace `raise NotImplementedError()` with your code, run that cell again, "
                               "then this check.") from None
    except Exception as err:  # the student's code may raise anything; say what and where
        where = student_line(err)
        raise CheckFailed(f"{what} raised {type(err).__name__}: {err}", [where] if where else [],
                          hint="print the shape of each intermediate tensor to see where it stops fitting.") from None


def _numpy(out, what: str) -> np.ndarray:
    if not isinstance(out, torch.Tensor):
        raise CheckFailed(f"{what} returned {type(out).__name__}, expected a torch.Tensor.",
                          hint="return the tensor you computed (e.g. `return total / count`).")
    return out.detach().to(torch.float32).numpy()


def _shape_check(out: np.ndarray, want: np.ndarray, what: str, meaning: str) -> None:
    if out.shape == want.shape:
        return
    hint = f"the output should be {meaning}."
    if out.shape == tuple(reversed(want.shape)):
        hint = f"transposed? The output should be {meaning}."
    raise CheckFailed(f"{what}: wrong output shape.", [f"expected {shape_str(want.shape)}, got {shape_str(out.shape)}"],
                      hint=hint)


def _nan_check(out: np.ndarray, what: str, empty_rows: list[int]) -> None:
    if not np.isnan(out).any():
        return
    rows = sorted({int(r) for r in np.argwhere(np.isnan(out))[:, 0]})
    raise CheckFailed(f"{what}: the output contains NaN in row(s) {rows}.",
                      [f"rows with no id at all (only padding): {empty_rows}"],
                      hint="an empty history has 0 real ids, so the mean divides 0 by 0: divide by the count "
                           "clamped to at least 1 (count.clamp(min=1)); an empty history must give a zero vector.")


def _masked_mean_hint(out: np.ndarray, want: np.ndarray, emb: np.ndarray, ids: np.ndarray) -> str:
    n = (ids != 0).sum(axis=1, keepdims=True).astype(np.float64)
    width = ids.shape[1]
    real = n[:, 0] > 0
    if np.allclose(out, want * n, atol=ATOL) and not np.allclose(n[real], 1):
        return "these are the sums of each row's embeddings: divide by the number of real (non-zero) ids to get the mean."
    if np.allclose(out, want * n / width, atol=ATOL):
        return (f"you divided by the padded length ({width}) instead of the number of real ids in each row: "
                "count only the ids that are not 0.")
    with_padding = (want * n + (width - n) * emb[0]) / width
    if np.allclose(out, with_padding, atol=ATOL):
        return ("the padding id 0 is counted in the mean: its embedding (row 0, which is not zero here) enters the "
                "sum and the count. Multiply by a mask (ids != 0) and divide by the mask's sum.")
    if np.allclose(out, (want * n + (width - n) * emb[0]) / np.maximum(n, 1), atol=ATOL):
        return ("the count is right but row 0's embedding is added once per padding position: do not rely on row 0 "
                "being zero (nn.Embedding's padding_idx only zeroes it at creation); multiply by the mask.")
    return ("compare row by row with the expected values: each row is the mean of embeddings[id] over that row's "
            "non-zero ids, and a row of padding only is all zeros.")


def check_masked_mean(fn) -> None:
    """Visible check of Exercise 1 on the example batch; records the graded variant first."""
    record_test("test_masked_mean_seed", fn, quiet=True)
    case = CASES["task1.seed"]
    emb, ids = example("task1.seed")
    want = record.visible_array(ASSIGNMENT, "task1.seed", "output")
    what = f"masked_mean(embeddings (8, 3), ids {case['ids']})"
    out = _numpy(_call(what, fn, emb, ids), what)
    _shape_check(out, want, what, "(batch, dim): one averaged embedding per row of ids")
    ids_np = ids.numpy()
    _nan_check(out, what, [i for i, row in enumerate(ids_np) if not row.any()])
    details = mismatch_lines(out, want, ATOL)
    if details:
        raise CheckFailed(f"{what}: the values differ from the expected means.", details,
                          hint=_masked_mean_hint(out.astype(np.float64), want.astype(np.float64), emb.numpy(), ids_np))
    passed("Exercise 1 check passed: masked_mean averages only the real ids of each row (row 0 of the table is not "
           "zero here, so padding really is ignored), and the row of padding only gives a zero vector "
           f"(shape (4, 3), max abs error {max_abs_error(out, want):.1e}).\n  When your notebook is graded, this "
           "check's points come from the same sizes with another table and batch; hidden tests also try other sizes, "
           "rows without padding, a batch of padding only, a single column, and the gradients into the table.")


def _order_names(order) -> str:
    return ", ".join(FEATURE_ORDER[i] for i in order)


def _block_widths(args: dict) -> list[int]:
    e, k = args["embedding_dim"], args["demo_dim"]
    return [e, e, k, k, k, k, 1, 1, 1]


def _find_order(cls, args: dict, seed: int, batch: dict, want: np.ndarray) -> tuple[int, ...] | None:
    """The student's concatenation order, if it is the required one with a run of blocks moved or two swapped.

    A student whose first layer reads its inputs in order P matches the expected output once the
    injected first-layer columns are rearranged the same way, so we try those rearrangements."""
    widths = _block_widths(args)
    starts = np.cumsum([0] + widths)
    blocks = [list(range(starts[i], starts[i + 1])) for i in range(len(widths))]
    n = len(widths)
    tried = set()
    candidates = []
    for i in range(n):  # move a run of consecutive blocks (one or several) elsewhere
        for j in range(i + 1, n + 1):
            rest = [b for b in range(n) if not i <= b < j]
            for at in range(len(rest) + 1):
                candidates.append(tuple(rest[:at] + list(range(i, j)) + rest[at:]))
    for i in range(n):  # swap two blocks
        for j in range(i + 1, n):
            swapped = list(range(n))
            swapped[i], swapped[j] = swapped[j], swapped[i]
            candidates.append(tuple(swapped))
    tried.add(tuple(range(n)))
    state = injected_state(args, seed)
    model = cls(**args)
    for order in candidates:
        if order in tried:
            continue
        tried.add(order)
        cols = [c for b in order for c in blocks[b]]
        s = dict(state)
        s["tower.0.weight"] = state["tower.0.weight"][:, cols]
        try:
            model.load_state_dict(s)
            with torch.no_grad():
                out = model(batch).float().numpy()
        except Exception:
            return None
        if out.shape == want.shape and np.allclose(out, want, atol=ATOL):
            return order
    return None


def _probe(model, batch: dict, change) -> np.ndarray | None:
    try:
        with torch.no_grad():
            return model(change(batch)).float().numpy()
    except Exception:
        return None


def _repeat_rows(ids: torch.Tensor) -> torch.Tensor:
    """Each row's real ids written twice (then padding): the mean stays, a sum doubles."""
    rows = [r[r != 0].tolist() * 2 for r in ids]
    width = max(1, max(len(r) for r in rows))
    return torch.LongTensor([r + [0] * (width - len(r)) for r in rows])


def _tower_hint(cls, model, args: dict, seed: int, batch: dict, out: np.ndarray, want: np.ndarray) -> str:
    """The likely mistake, found by probing the student's own module."""
    if (out < 0).any():
        return ("u has negative entries, so no ReLU follows the last layer: the paper's tower ends in a ReLU, whose "
                "output is u. Put nn.ReLU() after every nn.Linear in self.tower, the last one included.")
    pad = lambda b: {**b, "history": torch.nn.functional.pad(b["history"], (0, 3)),
                     "search": torch.nn.functional.pad(b["search"], (0, 3))}
    padded = _probe(model, batch, pad)
    if padded is not None and not np.allclose(padded, out, atol=ATOL):
        return ("your u changes when more padding (id 0) is appended to the histories, so padding is counted in "
                "a mean: average only the real ids (your masked_mean from Exercise 1, on both histories).")
    twice = _probe(model, batch, lambda b: {**b, "history": _repeat_rows(b["history"]), "search": _repeat_rows(b["search"])})
    if twice is not None and not np.allclose(twice, out, atol=ATOL):
        return ("your u changes when every history is repeated twice, so the histories are summed, not averaged: "
                "use the mean of the embeddings (paper 3.2: 'simply averaging the embeddings').")
    order = _find_order(cls, args, seed, batch, want)
    if order is not None:
        return (f"your features are concatenated in another order: yours is [{_order_names(order)}]; the required "
                f"order is [{_order_names(range(len(FEATURE_ORDER)))}].")
    return ("check the concatenation order [" + _order_names(range(len(FEATURE_ORDER))) + "], that the example "
            "age is fed twice, as x and x² (paper 3.3), that logged_in is a 0/1 value, and that Exercise 1 passes.")


def _tower_shape_hint(problems: list[str], want: dict, got: dict, args: dict) -> str:
    first = "tower.0.weight"
    diff = got[first][1] - want[first][1] if first in want and first in got and len(got[first]) == 2 else 0
    if diff and got[first][0] == want[first][0]:
        if diff == -1:
            return ("the first layer's input is one value short: the example age goes in twice, as x AND x² "
                    "(paper 3.3), next to logged_in.")
        if diff < 0:
            return (f"the first layer's input is {-diff} values short: it takes 2·embedding_dim + 4·demo_dim + 3 = "
                    f"{want[first][1]} values (both averages, four demographic embeddings, logged_in, age, age²).")
        return (f"the first layer's input has {diff} value(s) too many: it takes 2·embedding_dim + 4·demo_dim + 3 = "
                f"{want[first][1]} values.")
    if any(k.startswith("tower.") and k.split(".")[1].isdigit() and int(k.split(".")[1]) % 2 for k in got):
        return ("self.tower must be one nn.Sequential of Linear, ReLU, Linear, ReLU, ... so the linear layers are "
                "tower.0, tower.2, tower.4: put the nn.ReLU() modules inside the Sequential.")
    return ("use exactly the attribute names of the task (watch_embedding, search_embedding, age_embedding, "
            "gender_embedding, country_embedding, device_embedding, tower) and nothing else with parameters; "
            "nn.Linear stores its weight as (out, in).")


def _args_str(args: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in args.items())


def check_user_tower(cls) -> None:
    """Visible check of Exercise 2 on the example batch; records the graded variant first."""
    record_test("test_user_tower_seed", cls, quiet=True)
    case = CASES["task2.seed"]
    args, batch, state = example("task2.seed")
    where = f"UserTower({_args_str(args)})"
    model = _call(f"Creating {where}", lambda: cls(**args))
    want_shapes = state_shapes(args)
    got_shapes = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    problems = key_problems(want_shapes, got_shapes)
    if problems:
        raise CheckFailed(f"Exercise 2: the state_dict of {where} does not have the documented names and shapes, "
                          "so the check cannot load its weights.", problems,
                          hint=_tower_shape_hint(problems, want_shapes, got_shapes, args))
    model.load_state_dict(state)
    want = record.visible_array(ASSIGNMENT, "task2.seed", "output")
    what = "UserTower.forward on the example batch"
    out = _numpy(_call(what, model, batch), what)
    _shape_check(out, want, what, f"(batch, hidden_dims[-1]) = {shape_str(want.shape)}: one user vector per row")
    empty = [i for i in range(len(out)) if not (batch["history"][i].any() and batch["search"][i].any())]
    _nan_check(out, what, empty)
    details = mismatch_lines(out, want, ATOL)
    if details:
        rows = [i for i in range(len(out)) if np.allclose(out[i], want[i], atol=ATOL)]
        details.append(f"rows that match: {rows or 'none'} (0: regular user, 1: logged out, 2: never searched, "
                       "3: new user at serving time)")
        raise CheckFailed(f"Exercise 2: {what} differs from the reference.", details,
                          hint=_tower_hint(cls, model, args, case["weights_seed"], batch, out, want))
    passed("Exercise 2 check passed: UserTower has the documented state_dict (6 embedding tables, tower 19 → 8 → 4) "
           "and, with the injected weights, reproduces u for a regular user, a logged-out user, a user who never "
           f"searched and a new user at serving time (shape (4, 4), max abs error {max_abs_error(out, want):.1e}).\n"
           "  When your notebook is graded, this check's points come from the same sizes with other weights and users; "
           "hidden tests also try towers of one and three layers, logged-out users at serving time, a batch of one, "
           "and that a loss on u sends gradients into every weight.")
