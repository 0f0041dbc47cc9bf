"""The frozen expectations equal what the reference computes today: any drift fails loudly."""
import json
from pathlib import Path

import pytest

from solutions import expected as freeze

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("assignment", sorted(freeze.BUILDERS))
def test_frozen_file_matches_reference(assignment):
    frozen = json.loads((REPO / "autograder" / "expected" / f"{assignment}.json").read_text())
    fresh = json.loads(freeze.dumps(freeze.BUILDERS[assignment]()))
    assert frozen.keys() == fresh.keys()

    def walk(a, b, where):
        if isinstance(a, dict):
            assert a.keys() == b.keys(), where
            for k in a:
                walk(a[k], b[k], f"{where}.{k}")
        elif isinstance(a, list):
            assert len(a) == len(b), where
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{where}[{i}]")
        elif isinstance(a, float):
            assert abs(a - b) <= 1e-7, f"{where}: frozen {a} vs reference {b}"
        elif a != b and where != ".torch_version":
            raise AssertionError(f"{where}: frozen {a!r} vs reference {b!r}")

    walk(frozen, fresh, "")


def test_seed_case_is_the_seed_example():
    data = json.loads((REPO / "autograder" / "expected" / "01_networks.json").read_text())
    seed = data["candidate_generation"]["seed"]
    assert seed["args"] == dict(n_items=12, embedding_dim=3, hidden_dim=6, n_hidden_layers=4, seed=6789)
    assert seed["histories"] == [[7, 3, 9], [11], [0], [10, 1, 4, 8]]
    assert seed["output"]["shape"] == [4, 12]
    assert data["ranking"]["seed"]["output"]["shape"] == [12, 1]
