"""Copy the reference classes into the answer cells of the source notebooks: ``python -m solutions.sync``.

The reference package is the one place an answer is written; each source notebook's answer cell
is a verbatim copy (nbgrader's ``### BEGIN/END SOLUTION`` markers included), and
``tests/test_solutions_sync.py`` fails when the two drift apart.
"""
from __future__ import annotations

import inspect
from pathlib import Path

import nbformat

from . import networks

SOURCE = Path(__file__).resolve().parent.parent / "course" / "source"

# notebook (relative to course/source) -> {nbgrader grade_id of the answer cell: reference object}
ANSWER_CELLS = {
    "01_networks/01_networks.ipynb": {
        "task1_candidate_generation": networks.DeepCandidateGenerationModel,
        "task2_ranking": networks.DeepRankingModel,
    },
}


def answer_source(obj) -> str:
    return inspect.getsource(obj).rstrip("\n")


def cell_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def sync(notebook: str, answers: dict) -> bool:
    """Rewrite the answer cells of one notebook; return True if anything changed."""
    path = SOURCE / notebook
    nb = nbformat.read(path, as_version=4)
    found, changed = set(), False
    for cell in nb.cells:
        if cell_id(cell) in answers:
            found.add(cell_id(cell))
            new = answer_source(answers[cell_id(cell)])
            if cell.source != new:
                cell.source, changed = new, True
    missing = set(answers) - found
    if missing:
        raise SystemExit(f"{path}: no answer cell with grade_id {sorted(missing)}")
    if changed:
        nbformat.write(nb, path)
    return changed


def main() -> None:
    for notebook, answers in ANSWER_CELLS.items():
        print(f"{'updated' if sync(notebook, answers) else 'in sync'}: course/source/{notebook}")


if __name__ == "__main__":
    main()
