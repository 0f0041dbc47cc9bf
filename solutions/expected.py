"""Freeze the expectations the autograder compares against: ``python -m solutions.expected``.

Every tensor is computed from the reference package on CPU in float32 with a fixed seed and
written to ``autograder/expected/<assignment>.json``; ``tests/test_expected.py`` recomputes them
and fails if the reference and the frozen files ever drift apart.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from .networks import DeepCandidateGenerationModel, DeepRankingModel

EXPECTED_DIR = Path(__file__).resolve().parent.parent / "autograder" / "expected"

SEED_ARGS = dict(n_items=12, embedding_dim=3, hidden_dim=6, n_hidden_layers=4, seed=6789)
SEED_HISTORIES = [[7, 3, 9], [11], [0], [10, 1, 4, 8]]

# Each case: constructor arguments and inputs; "params" is stored only where a check uses the
# initial weights to tell a wrong initialisation order from a wrong forward pass.
CANDIDATE_CASES = {
    "seed": dict(args=SEED_ARGS, histories=SEED_HISTORIES, params=True),
    "sizes_a": dict(args=dict(n_items=20, embedding_dim=5, hidden_dim=4, n_hidden_layers=2, seed=1),
                    histories=[[0, 19, 3], [5, 5], [7, 1, 2, 3, 4, 18], [12]]),
    "sizes_b": dict(args=dict(n_items=50, embedding_dim=8, hidden_dim=16, n_hidden_layers=3, seed=2024),
                    histories=[[49, 0], [10, 20, 30, 40], [3]]),
    "one_layer": dict(args=dict(n_items=7, embedding_dim=2, hidden_dim=5, n_hidden_layers=1, seed=15),
                      histories=[[6, 0], [2]]),
    "batch_of_one": dict(args=SEED_ARGS, histories=[[5]]),
    "one_item_histories": dict(args=SEED_ARGS, histories=[[0], [11], [5], [5]]),
}

RANKING_CASES = {
    "seed": dict(args=SEED_ARGS, history=[7, 3, 9], scored=list(range(12)), params=True),
    "sizes_a": dict(args=dict(n_items=20, embedding_dim=5, hidden_dim=4, n_hidden_layers=2, seed=1),
                    history=[0, 19, 3, 3], scored=[19, 0, 4, 4, 8]),
    "sizes_b": dict(args=dict(n_items=50, embedding_dim=8, hidden_dim=16, n_hidden_layers=3, seed=2024),
                    history=[10, 20, 30], scored=list(range(0, 50, 7))),
    "one_layer": dict(args=dict(n_items=7, embedding_dim=2, hidden_dim=5, n_hidden_layers=1, seed=15),
                      history=[6], scored=[0, 1, 2]),
    "one_scored_item": dict(args=SEED_ARGS, history=[7, 3, 9], scored=[4]),
    "one_item_history": dict(args=SEED_ARGS, history=[2], scored=[2, 11, 0]),
}


def _tensor(x: torch.Tensor) -> dict:
    x = x.detach().to(torch.float32).cpu()
    return {"shape": list(x.shape), "values": x.flatten().tolist()}


def _params(model: torch.nn.Module, with_values: bool) -> list[dict]:
    return [_tensor(p) if with_values else {"shape": list(p.shape)} for p in model.parameters()]


def networks_expected() -> dict:
    """Every expectation of assignment 01, as plain JSON-able data."""
    torch.set_default_dtype(torch.float32)
    candidate = {}
    for name, case in CANDIDATE_CASES.items():
        model = DeepCandidateGenerationModel(**case["args"])
        with torch.no_grad():
            out = model([torch.LongTensor(h) for h in case["histories"]])
        candidate[name] = {"args": case["args"], "histories": case["histories"],
                           "params": _params(model, case.get("params", False)), "output": _tensor(out)}
    ranking = {}
    for name, case in RANKING_CASES.items():
        model = DeepRankingModel(**case["args"])
        with torch.no_grad():
            out = model(torch.LongTensor(case["history"]), torch.LongTensor(case["scored"]))
        ranking[name] = {"args": case["args"], "history": case["history"], "scored": case["scored"],
                         "params": _params(model, case.get("params", False)), "output": _tensor(out)}
    return {"torch_version": torch.__version__.split("+")[0],
            "candidate_generation": candidate, "ranking": ranking}


def dumps(data: dict) -> str:
    """JSON with one line per list of numbers, so a diff of the frozen file stays readable."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[[-0-9.e+,\s]*\]", lambda m: re.sub(r"\s+", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"), text) + "\n"


BUILDERS = {"01_networks": networks_expected}


def main() -> None:
    EXPECTED_DIR.mkdir(parents=True, exist_ok=True)
    for assignment, build in BUILDERS.items():
        path = EXPECTED_DIR / f"{assignment}.json"
        path.write_text(dumps(build()))
        print(f"wrote {path.relative_to(EXPECTED_DIR.parent.parent)}")


if __name__ == "__main__":
    main()
