"""Copy the reference answers into the answer cells of the source notebooks: ``python -m solutions.sync``.

The reference package is the one place an answer is written. By convention, assignment
``course/source/NN_name/`` takes its answers from ``solutions.name``: every answer cell (nbgrader
``solution``) that defines a top-level class or function of that module is the verbatim source of
those objects (nbgrader's ``### BEGIN/END SOLUTION`` markers included), and
``tests/test_notebooks.py`` fails when the two drift apart.
"""
from __future__ import annotations

import ast
import importlib
import inspect
from pathlib import Path

import nbformat

SOURCE = Path(__file__).resolve().parent.parent / "course" / "source"


def answers_module(assignment: str):
    """``solutions.<name>`` for ``NN_name``, or None when the assignment has no answers."""
    name = assignment.partition("_")[2]
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ModuleNotFoundError:
        return None


def defined_names(source: str) -> list[str]:
    """Top-level classes and functions a cell defines (in order); [] when it does not parse."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.ClassDef, ast.FunctionDef))]


def answer_source(objects: list) -> str:
    return "\n\n\n".join(inspect.getsource(obj).rstrip("\n") for obj in objects)


def answer_cells(path: Path) -> dict[str, str]:
    """grade_id -> the reference source its answer cell must hold, for one source notebook."""
    module = answers_module(path.parent.name)
    if module is None:
        return {}
    out = {}
    for cell in nbformat.read(str(path), as_version=4).cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        names = [n for n in defined_names(cell.source) if hasattr(module, n)]
        if meta.get("solution") and names:
            out[meta["grade_id"]] = answer_source([getattr(module, n) for n in names])
    return out


def sync(path: Path) -> bool:
    """Rewrite the answer cells of one notebook; return True if anything changed."""
    wanted = answer_cells(path)
    nb = nbformat.read(str(path), as_version=4)
    changed = False
    for cell in nb.cells:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in wanted and cell.source != wanted[grade_id]:
            cell.source, changed = wanted[grade_id], True
    if changed:
        nbformat.write(nb, str(path))
    return changed


def main() -> None:
    for path in sorted(SOURCE.glob("*/*.ipynb")):
        print(f"{'updated' if sync(path) else 'in sync'}: {path.relative_to(SOURCE.parent.parent)}")


if __name__ == "__main__":
    main()
