"""The runner that executes a notebook inside the sandbox (``autograder/sandbox_runner.py``), run here
unsandboxed on small notebooks: the outputs a Jupyter kernel would give, and each failure status."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import nbformat
import pytest

from autograder import nbgrader_run
from autograder.sandbox import RUNNER, SKIP_TAG


def run(tmp_path: Path, sources: list[str], cell_timeout: int = 30, tags: dict[int, list[str]] | None = None
        ) -> tuple[dict, list[list[dict]], float]:
    """Run ``sources`` as code cells; returns the status, each cell's outputs and the wall seconds."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    for i, t in (tags or {}).items():
        nb.cells[i].metadata["tags"] = t
    nbformat.write(nb, tmp_path / "in.ipynb")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "MPLBACKEND": "module://matplotlib_inline.backend_inline",
           "MPLCONFIGDIR": str(tmp_path / "mpl"), "IPYTHONDIR": str(tmp_path / "ipython"), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, str(RUNNER), "in.ipynb", "out.ipynb", "status.json", str(cell_timeout), SKIP_TAG],
                   cwd=tmp_path, env=env, timeout=120, check=False, capture_output=True)
    seconds = time.perf_counter() - start
    status = json.loads((tmp_path / "status.json").read_text()) if (tmp_path / "status.json").exists() else None
    executed = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    nbformat.validate(executed)  # what the grader loads must be a valid notebook
    return status, [c.outputs for c in executed.cells], seconds


def test_outputs_are_those_of_a_kernel_in_order(tmp_path):
    status, outputs, _ = run(tmp_path, [
        "import sys\nprint('a')\nprint('to stderr', file=sys.stderr)\nprint('b')\n1 + 1",
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2, 3]);",
        "from IPython.display import HTML, display\ndisplay(HTML('<b>hi</b>'))\nx = 3",
        "1 / 0",
        "x * 2",
        "print('never runs')",
    ], tags={5: [SKIP_TAG]})
    assert status == {"status": "ok", "detail": "", "cell": None}  # an exception is not a failure status
    first = outputs[0]
    assert [(o.output_type, o.get("name")) for o in first] == [
        ("stream", "stdout"), ("stream", "stderr"), ("stream", "stdout"), ("execute_result", None)]
    assert first[0].text == "a\n" and first[3].data["text/plain"] == "2" and first[3].execution_count == 1
    assert [o.output_type for o in outputs[1]] == ["display_data"] and "image/png" in outputs[1][0].data
    assert outputs[2][0].data["text/html"] == "<b>hi</b>"
    error = outputs[3][0]
    assert (error.output_type, error.ename, error.evalue) == ("error", "ZeroDivisionError", "division by zero")
    assert any("1 / 0" in line for line in error.traceback)
    assert outputs[4][0].data["text/plain"] == "6"  # the cells share one namespace
    assert outputs[5] == []  # tagged: skipped when grading


def test_a_slow_cell_is_stopped_and_the_next_cells_run(tmp_path):
    status, outputs, _ = run(tmp_path, ["import time\ntime.sleep(30)", "print('next')"], cell_timeout=1)
    assert status["status"] == "timeout" and status["cell"] == 0 and "1 s limit" in status["detail"]
    assert outputs[0][0].ename == "CellTimeoutError" and outputs[1][0].text == "next\n"


def test_a_cell_that_swallows_its_timeout_ends_the_run_soon_after(tmp_path):
    hang = "import time\nwhile True:\n    try:\n        time.sleep(0.1)\n    except BaseException:\n        pass"
    status, outputs, seconds = run(tmp_path, ["print('before')", hang, "print('after')"], cell_timeout=1)
    assert status["status"] == "timeout" and status["cell"] == 1 and "did not stop" in status["detail"]
    assert outputs[0][0].text == "before\n" and "did not stop" in outputs[1][-1].evalue and outputs[2] == []
    assert seconds < 30  # 1 s limit + 5 s grace + start-up, not the whole run's wall clock


def test_a_failed_allocation_is_a_memory_status_and_the_run_goes_on(tmp_path):
    status, outputs, _ = run(tmp_path, ["raise MemoryError('no room')", "print('next')"])
    assert status["status"] == "memory" and "no room" in status["detail"]
    assert outputs[1][0].text == "next\n"


def test_the_first_failure_is_the_one_reported(tmp_path):
    status, _, _ = run(tmp_path, ["raise MemoryError()", "import time\ntime.sleep(30)"], cell_timeout=1)
    assert status["status"] == "memory" and status["cell"] == 0


def test_a_process_that_kills_itself_leaves_no_status_but_keeps_earlier_cells(tmp_path):
    status, outputs, _ = run(tmp_path, ["print('kept')", "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)",
                                        "print('never')"])
    assert status is None  # the driver reports a run without a status as crashed
    assert outputs[0][0].text == "kept\n" and outputs[2] == []


def test_a_flood_of_output_is_cut(tmp_path):
    _, outputs, _ = run(tmp_path, ["print('x' * 5_000_000)"])
    text = outputs[0][0].text
    assert len(text) < 1_100_000 and "output cut after 1,000,000 characters" in text


# --- nbgrader's metadata check, with the schema checked once --------------------------------------

SCHEMA = {"type": "object", "properties": {"points": {"type": "number"}}, "required": ["points"]}


def test_cached_validation_accepts_and_rejects_as_jsonschema_does():
    nbgrader_run.validate({"points": 2}, SCHEMA)
    for bad in [{"points": "two"}, {}]:
        with pytest.raises(jsonschema.ValidationError) as ours:
            nbgrader_run.validate(bad, SCHEMA)
        with pytest.raises(jsonschema.ValidationError) as theirs:
            jsonschema.validate(bad, SCHEMA)
        assert ours.value.message == theirs.value.message


def test_an_invalid_schema_is_still_refused():
    with pytest.raises(jsonschema.SchemaError):
        nbgrader_run.validate({}, {"type": "no-such-type"})


def test_the_private_tmp_is_mounted_before_anything_bound_under_tmp(tmp_path):
    """A course checked out under /tmp: its grader environment must stay visible in the sandbox."""
    from autograder.sandbox import Limits, bwrap_command

    env = Path("/tmp/course/build/grader-env-x")
    cmd = bwrap_command(env, tmp_path, Limits(), slot=0)
    tmpfs = cmd.index("--tmpfs")
    assert cmd[tmpfs + 1] == "/tmp"
    binds = [i for i, a in enumerate(cmd) if a == "--ro-bind" and cmd[i + 1] == str(env)]
    assert binds and tmpfs < binds[0]
