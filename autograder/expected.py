"""Read the frozen expectations written by the instructor's ``python -m solutions.expected``."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

EXPECTED_DIR = Path(__file__).resolve().parent / "expected"


@lru_cache(maxsize=None)
def load(assignment: str) -> dict:
    path = EXPECTED_DIR / f"{assignment}.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: frozen expectations are missing; an instructor runs 'make expected'") from None
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}: frozen expectations are not valid JSON ({err})") from None
