"""Static look at a submission for attempts to fake a score (instructor tooling).

nbgrader counts a test cell as passed when it raises nothing, so code that swallows exceptions,
patches the checks or borrows the reference answers could fake points. Locked cells are restored
by nbgrader; here we read every cell a student could edit.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

# (pattern, why): each one has no place in an honest answer to this course's exercises.
SUSPICIOUS = [
    (r"set_custom_exc|excepthook|showtraceback|_render_traceback_", "changes how errors are reported"),
    (r"\bsolutions\b", "refers to the instructors' reference package"),
    (r"YTDNN_GRADING|os\.environ|putenv", "touches the grading environment"),
    (r"\bautograder\b", "refers to the autograder from an answer cell"),
    (r"sys\.modules|builtins|__import__|importlib", "patches the import system or built-ins"),
    (r"get_ipython|InteractiveShell", "reaches into the notebook's kernel"),
    (r"\bcheck_\w+\s*=(?!=)|def\s+check_\w+|globals\(\)|setattr\(", "replaces a check function"),
]


def editable_sources(nb: dict) -> list[tuple[int, str]]:
    """(index, source) of every code cell that is not locked by nbgrader."""
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and not meta.get("locked", False):
            source = cell.get("source", "")
            cells.append((i, "".join(source) if isinstance(source, list) else source))
    return cells


def scan_notebook(path: Path) -> list[str]:
    """Reasons to review a submitted notebook, one line each; [] when nothing looks wrong."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return [f"{path.name}: not a readable notebook ({type(err).__name__})"]
    reasons = []
    for i, source in editable_sources(nb):
        for pattern, why in SUSPICIOUS:
            match = re.search(pattern, source)
            if match:
                reasons.append(f"{path.name} cell {i}: '{match.group(0)}' {why}")
    return reasons
