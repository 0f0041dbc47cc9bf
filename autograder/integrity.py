"""A static look at a submission for code that reaches into the checks or the kernel: advice only.

Points never depend on this scan: they come from the comparator, outside the student's process, so
patching the checks cannot fake a score. The scan only adds a ``review`` note to the grade row, for
a human to look at (say, why a student's notebook swaps out ``torch.Tensor.any``). Honest habits
(importing a check to run it again, mentioning "solutions" in a comment, ``print(globals())``,
registering layers with ``setattr``) are never noted. Locked cells are restored by nbgrader, so only
cells a student could edit are read.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

# (pattern, why): each one reaches into the grading machinery rather than answering an exercise.
SUSPICIOUS = [
    (r"set_custom_exc|excepthook|showtraceback|_render_traceback_\s*=", "changes how errors are reported"),
    (r"^\s*(from\s+solutions\b|import\s+solutions\b)", "imports the instructors' reference package"),
    (r"YTDNN_RECORDS|putenv", "touches the grading environment"),
    (r"sys\.modules\s*\[|builtins\.\w+\s*=|__builtins__", "patches the import system or built-ins"),
    (r"__globals__|\.__code__\s*=|globals\(\)\s*\[[^\]]*\]\s*=", "rebinds another function's globals or code"),
    (r"(torch|np|numpy)\.\w+(\.\w+)*\s*=(?!=)", "replaces a torch or numpy function"),
    (r"\bcheck_\w+\s*=(?!=)|^\s*def\s+check_\w+", "replaces a check function"),
    (r"(?<![.\w])(exec|eval|compile)\s*\(|base64|marshal", "runs code built at run time"),  # not model.eval()
]


def editable_sources(nb: dict) -> list[tuple[int, str]]:
    """(index, source) of every code cell a student could edit (not locked by nbgrader)."""
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if cell.get("cell_type") == "code" and not (meta.get("locked", False) and not meta.get("solution", False)):
            source = cell.get("source", "")
            cells.append((i, "".join(source) if isinstance(source, list) else source))
    return cells


def scan_notebook(path: Path) -> list[str]:
    """Notes for a human reviewer, one line each; [] when nothing stands out."""
    try:
        nb = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        return [f"{path.name}: not a readable notebook ({type(err).__name__})"]
    notes = []
    for i, source in editable_sources(nb):
        code = "\n".join(line.split("#", 1)[0] for line in source.splitlines())  # comments say nothing
        for pattern, why in SUSPICIOUS:
            match = re.search(pattern, code, re.M)
            if match:
                notes.append(f"{path.name} cell {i}: '{match.group(0).strip()[:40]}' {why}")
    return notes
