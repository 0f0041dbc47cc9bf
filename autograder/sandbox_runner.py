"""Execute one notebook inside the sandbox (run by ``autograder.sandbox``; needs only nbclient).

``python runner.py NOTEBOOK OUT STATUS CELL_TIMEOUT SKIP_TAG`` runs every code cell in order (errors
do not stop the run, as in nbgrader), skips cells tagged ``SKIP_TAG`` (ungraded, expensive demos),
writes the executed notebook to OUT after every cell (so a run killed later keeps what it did) and
the first failure it saw to STATUS: ``ok``, ``timeout`` (a cell ran past CELL_TIMEOUT), ``memory``
(an allocation failed under the memory cap) or ``crashed`` (the kernel died).
"""
import json
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError

MEMORY_SIGNS = ("MemoryError", "can't allocate memory", "Cannot allocate memory", "bad_alloc", "Unable to allocate")


def failure(cell) -> tuple[str, str] | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") != "error":
            continue
        text = f"{out.get('ename', '')}: {out.get('evalue', '')}"
        # The runner interrupts a cell only when it runs past its limit.
        if out.get("ename") in ("CellTimeoutError", "KeyboardInterrupt"):
            return "timeout", text
        if any(sign in text for sign in MEMORY_SIGNS):
            return "memory", text
    return None


def main(src: str, out: str, status_path: str, cell_timeout: str, skip_tag: str) -> None:
    nb = nbformat.read(src, as_version=4)
    timeout = int(cell_timeout)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", allow_errors=True, interrupt_on_timeout=True,
        iopub_timeout=60, record_timing=False, resources={"metadata": {"path": "."}},
        extra_arguments=["--HistoryManager.hist_file=:memory:"],
        error_on_timeout={"ename": "CellTimeoutError", "evalue": f"the cell ran past its {timeout} s limit",
                          "traceback": [f"CellTimeoutError: the cell ran past its {timeout} s limit"]})
    status = {"status": "ok", "detail": "", "cell": None}

    def fail(kind: str, detail: str, index) -> None:
        if status["status"] == "ok":  # the first failure is the one reported
            status.update(status=kind, detail=detail[:300], cell=index)

    try:
        with client.setup_kernel():
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code" or skip_tag in cell.get("metadata", {}).get("tags", []):
                    continue
                try:
                    client.execute_cell(cell, index)
                finally:
                    nbformat.write(nb, out)
                seen = failure(cell)
                if seen:
                    fail(*seen, index)
    except DeadKernelError as err:
        last = [c for c in nb.cells if c.cell_type == "code" and c.get("outputs")]
        text = json.dumps(last[-1]["outputs"])[-2000:] if last else ""
        fail("memory" if any(s in text for s in MEMORY_SIGNS) else "crashed", f"the kernel died: {err}", None)
    except Exception as err:  # the runner must always leave a status behind
        fail("crashed", f"{type(err).__name__}: {err}", None)
    nbformat.write(nb, out)
    with open(status_path, "w") as f:
        json.dump(status, f)


if __name__ == "__main__":
    main(*sys.argv[1:6])
