"""Execute one notebook inside the sandbox (run by ``autograder.sandbox``; needs only IPython).

``python runner.py NOTEBOOK OUT STATUS CELL_TIMEOUT SKIP_TAG`` runs every code cell in order in an
IPython shell in this very process (errors do not stop the run, as in nbgrader), skips cells tagged
``SKIP_TAG`` (ungraded, expensive demos), writes the executed notebook to OUT after every cell (so a
run killed later keeps what it did) and the first failure it saw to STATUS: ``ok``, ``timeout`` (a
cell ran past CELL_TIMEOUT), ``memory`` (an allocation failed under the memory cap) or ``crashed``.
A process that dies (a segfault, a kill) writes no STATUS: the driver reports it as ``crashed``.

Why no Jupyter kernel: the sandbox already isolates the notebook, and a kernel (a second Python,
ZeroMQ, jupyter_client and nbclient) cost about 1.5 s of CPU per submission, a third of a graded
run. The outputs are the ones a kernel gives (streams in order, ``execute_result``, ``display_data``
including inline matplotlib figures, ``error`` with its traceback). Nothing here decides points:
test cells write records, and the comparator judges them outside the sandbox.
"""
import base64
import io
import json
import os
import signal
import sys

# jsonschema (under IPython's tools, if anything imports it) imports rfc3987_syntax when installed,
# which builds a parser grammar at import: about 2 s of CPU for a check no notebook uses.
sys.modules.setdefault("rfc3987_syntax", None)

MEMORY_SIGNS = ("MemoryError", "can't allocate memory", "Cannot allocate memory", "bad_alloc", "Unable to allocate")
GRACE_S = 5  # seconds a timed-out cell has to stop before the run ends
MAX_STREAM_CHARS = 1_000_000  # per cell and stream; a flood is cut, not carried into the notebook


class CellTimeoutError(BaseException):
    """Raised in the cell's code when it runs past its limit (a BaseException, like KeyboardInterrupt)."""


class Cell:
    """The outputs of the cell being run, in the order they were produced (nbformat v4 dicts)."""

    def __init__(self) -> None:
        self.outputs: list[dict] = []
        self.chars = {"stdout": 0, "stderr": 0}

    def stream(self, name: str, text: str) -> None:
        room = MAX_STREAM_CHARS - self.chars[name]
        if room <= 0:
            return
        if len(text) > room:
            text = text[:room] + f"\n[output cut after {MAX_STREAM_CHARS:,} characters]\n"
        self.chars[name] += len(text)
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text  # consecutive writes to one stream make one output, as in Jupyter
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})


class Stream(io.TextIOBase):
    """``sys.stdout`` / ``sys.stderr`` while a cell runs: text goes to the current cell's outputs."""

    def __init__(self, runner: "Runner", name: str) -> None:
        self.runner, self.name = runner, name

    @property
    def encoding(self) -> str:
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.runner.cell.stream(self.name, text)
        return len(text)


class Runner:
    def __init__(self, cell_timeout: int) -> None:
        from IPython.core.displayhook import DisplayHook
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell
        from traitlets import Type
        from traitlets.config import Config

        runner = self
        self.cell = Cell()
        self.timeout = cell_timeout

        class Publisher(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
                runner.cell.outputs.append({"output_type": "display_data", "data": _jsonable(data),
                                            "metadata": _jsonable(metadata or {})})

            def clear_output(self, wait=False):
                runner.cell.outputs.clear()

        class Hook(DisplayHook):
            def write_output_prompt(self):
                pass

            def write_format_data(self, format_dict, md_dict=None):
                runner.cell.outputs.append({"output_type": "execute_result", "data": _jsonable(format_dict),
                                            "metadata": _jsonable(md_dict or {}), "execution_count": None})

            def finish_displayhook(self):
                self._is_active = False

        class Shell(InteractiveShell):
            displayhook_class = Type(Hook)
            display_pub_class = Type(Publisher)

            def enable_gui(self, gui=None):
                pass  # `%matplotlib inline` (or any backend): no event loop here, figures come as images

            def _showtraceback(self, etype, evalue, stb):
                runner.cell.outputs.append({"output_type": "error", "ename": etype.__name__,
                                            "evalue": _text(evalue), "traceback": list(stb)})

        config = Config()
        config.HistoryManager.enabled = False
        self.shell = Shell.instance(config=config, colors="nocolor")

    def run(self, source: str, count: int) -> list[dict]:
        """Run one cell; returns its outputs."""
        self.cell = Cell()
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = Stream(self, "stdout"), Stream(self, "stderr")
        signal.alarm(self.timeout)
        try:
            self.shell.run_cell(source, store_history=True)
        except CellTimeoutError as err:  # raised outside the cell's own code (e.g. in a post-run hook)
            self.cell.outputs.append({"output_type": "error", "ename": "CellTimeoutError", "evalue": str(err),
                                      "traceback": [f"CellTimeoutError: {err}"]})
        finally:
            signal.alarm(0)
            sys.stdout, sys.stderr = saved
        for out in self.cell.outputs:
            if out["output_type"] == "execute_result":
                out["execution_count"] = count
        return self.cell.outputs


def _text(value) -> str:
    try:
        return str(value)
    except Exception:  # a student's exception whose __str__ fails is still an error
        return f"<{type(value).__name__}>"


def _jsonable(data):
    """The JSON form of display data: bytes (a PNG) become base64 text, as a kernel sends them."""
    def encode(o):
        return base64.b64encode(o).decode("ascii") if isinstance(o, (bytes, bytearray)) else str(o)
    try:
        return json.loads(json.dumps(data, default=encode))
    except (TypeError, ValueError):
        return {"text/plain": "<output that cannot be saved>"}


def failure(outputs: list[dict]) -> tuple[str, str] | None:
    for out in outputs:
        if out.get("output_type") != "error":
            continue
        text = f"{out.get('ename', '')}: {out.get('evalue', '')}"
        if out.get("ename") == "CellTimeoutError":
            return "timeout", text
        if any(sign in text for sign in MEMORY_SIGNS):
            return "memory", text
    return None


def write_json(path: str, data) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, path)


def main(src: str, out: str, status_path: str, cell_timeout: str, skip_tag: str) -> None:
    with open(src) as f:
        nb = json.load(f)
    timeout = int(cell_timeout)
    status = {"status": "ok", "detail": "", "cell": None}
    current = {"index": None, "alarms": 0, "runner": None}

    def on_alarm(signum, frame):
        current["alarms"] += 1
        message = f"the cell ran past its {timeout} s limit"
        if current["alarms"] == 1:
            signal.alarm(GRACE_S)  # if the cell swallows the exception, the second alarm ends the run
            raise CellTimeoutError(message)
        # A cell that caught the timeout and carried on: stop here, keeping what earlier cells did.
        if current["index"] is not None and current.get("runner") is not None:
            nb["cells"][current["index"]]["outputs"] = current["runner"].cell.outputs + [{
                "output_type": "error", "ename": "CellTimeoutError", "evalue": f"{message}; it did not stop, so the run ended",
                "traceback": [f"CellTimeoutError: {message}; it did not stop, so the run ended"]}]
        if status["status"] == "ok":
            status.update(status="timeout", detail=f"CellTimeoutError: {message} (and did not stop)",
                          cell=current["index"])
        write_json(out, nb)
        write_json(status_path, status)
        os._exit(0)
    signal.signal(signal.SIGALRM, on_alarm)
    try:
        runner = current["runner"] = Runner(timeout)
        count = 0
        for index, cell in enumerate(nb["cells"]):
            if cell.get("cell_type") != "code" or skip_tag in cell.get("metadata", {}).get("tags", []):
                continue
            count += 1
            current.update(index=index, alarms=0)
            source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
            cell["outputs"] = runner.run(source, count)
            cell["execution_count"] = count
            write_json(out, nb)
            seen = failure(cell["outputs"])
            if seen and status["status"] == "ok":  # the first failure is the one reported
                status.update(status=seen[0], detail=seen[1][:300], cell=index)
    except BaseException as err:  # the runner must always leave a status behind
        if status["status"] == "ok":
            status.update(status="crashed", detail=f"{type(err).__name__}: {_text(err)}"[:300])
    write_json(out, nb)
    write_json(status_path, status)
    sys.stdout.flush()
    os._exit(0)  # do not wait for threads or atexit handlers the notebook left behind


if __name__ == "__main__":
    main(*sys.argv[1:6])
