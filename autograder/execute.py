"""Run a notebook top to bottom in a fresh kernel (demo and tests)."""
from __future__ import annotations

import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def run_notebook(path: Path, out: Path | None = None, timeout: int = 180) -> float:
    """Execute ``path`` in its own folder and return the seconds it took; the source file is not
    modified, the executed copy goes to ``out`` when given. Raises on the first failing cell."""
    nb = nbformat.read(path, as_version=4)
    start = time.perf_counter()
    NotebookClient(nb, timeout=timeout, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    seconds = time.perf_counter() - start
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out)
    return seconds
