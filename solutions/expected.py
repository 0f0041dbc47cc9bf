"""Freeze the expectations the checks and the comparator compare against: ``python -m solutions.expected``.

For every assignment with a check module (``autograder.checks.<name>``, see its naming convention),
each case of ``CASES`` is run on the reference answer it names (``solutions.<name>.<exercise>``),
through the check module's own ``run_case``, so students and reference are measured the same way:

* visible cases -> ``autograder/checks/expected/<assignment>.json`` (shipped to students);
* every other case, with the tests that grade them -> ``autograder/hidden/<assignment>.json``
  (the instructor's; read only by ``autograder/comparator.py``, never shipped).

``tests/test_expected.py`` recomputes both and fails when the reference and the frozen files drift.
"""
from __future__ import annotations

import importlib
import json
import re
from pathlib import Path

import torch

from autograder.checks import module_for, module_name
from autograder.checks.compare import freeze

REPO = Path(__file__).resolve().parent.parent
VISIBLE_DIR = REPO / "autograder" / "checks" / "expected"
HIDDEN_DIR = REPO / "autograder" / "hidden"
SOURCE = REPO / "course" / "source"


def graded_assignments() -> list[str]:
    """Assignments of course/source that have a check module."""
    out = []
    for folder in sorted(p for p in SOURCE.iterdir() if p.is_dir()):
        try:
            module_for(folder.name)
        except (ModuleNotFoundError, ValueError):
            continue
        out.append(folder.name)
    return out


def build(assignment: str) -> tuple[dict, dict]:
    """(visible, hidden) expectations of one assignment, as JSON-able data."""
    torch.set_default_dtype(torch.float32)
    # One thread: a multi-threaded reduction can differ in the last bit, and the frozen values must
    # not depend on the machine that froze them.
    torch.set_num_threads(1)
    checks = module_for(assignment)
    answers = importlib.import_module(f"solutions.{module_name(assignment)}")
    visible, hidden = {}, {}
    for case_id, case in checks.CASES.items():
        answer = getattr(answers, case["exercise"])
        arrays = {name: freeze(value) for name, value in checks.run_case(answer, case).items()}
        entry = {"kind": case["kind"], "arrays": arrays}
        if case.get("visible"):
            extras = getattr(checks, "visible_extras", None)
            visible[case_id] = {**entry, **(extras(answer, case) if extras else {})}
        else:
            hidden[case_id] = {**entry, "atol": case.get("atol", checks.ATOL), "rtol": case.get("rtol", 0.0)}
    graded = {c for cases in checks.TESTS.values() for c in cases}
    if graded != set(hidden):
        raise SystemExit(f"{assignment}: TESTS must grade exactly the hidden cases; "
                         f"ungraded {sorted(set(hidden) - graded)}, unknown or visible {sorted(graded - set(hidden))}")
    meta = {"assignment": assignment, "torch_version": torch.__version__.split("+")[0]}
    return ({**meta, "cases": visible}, {**meta, "tests": checks.TESTS, "cases": hidden})


def dumps(data: dict) -> str:
    """JSON with one line per list of numbers, so a diff of the frozen file stays readable."""
    text = json.dumps(data, indent=1)
    return re.sub(r"\[[-0-9.e+,\s]*\]|\[(?:true|false|,\s)*\]",
                  lambda m: re.sub(r"\s+", " ", m.group(0)).replace("[ ", "[").replace(" ]", "]"), text) + "\n"


def main() -> None:
    VISIBLE_DIR.mkdir(parents=True, exist_ok=True)
    HIDDEN_DIR.mkdir(parents=True, exist_ok=True)
    for assignment in graded_assignments():
        visible, hidden = build(assignment)
        for folder, data in ((VISIBLE_DIR, visible), (HIDDEN_DIR, hidden)):
            path = folder / f"{assignment}.json"
            path.write_text(dumps(data))
            print(f"wrote {path.relative_to(REPO)} ({len(data['cases'])} cases)")


if __name__ == "__main__":
    main()
