"""How a check speaks to a student: a short, precise message instead of a long traceback."""
from __future__ import annotations

import traceback
from pathlib import Path

RED, RESET = "\x1b[31m", "\x1b[0m"


class CheckFailed(AssertionError):
    """A check found a problem. IPython shows only the message (no traceback) thanks to
    ``_render_traceback_``; nbgrader still sees an error, so the test cell scores zero."""

    def __init__(self, title: str, details: list[str] | None = None, hint: str | None = None):
        self.title, self.details, self.hint = title, details or [], hint
        super().__init__(self.text())

    def lines(self) -> list[str]:
        out = [self.title] + ["  " + d for d in self.details]
        if self.hint:
            out.append(f"Hint: {self.hint}")
        return out

    def text(self) -> str:
        return "\n".join(self.lines())

    def _render_traceback_(self) -> list[str]:
        return [f"{RED}✗ {self.lines()[0]}{RESET}", *self.lines()[1:]]


def passed(message: str) -> None:
    """Print a success message that says what was proved (never a bare 'All tests passed')."""
    print(f"✓ {message}")


def student_line(err: Exception) -> str | None:
    """'in NAME, line N: CODE' for the deepest frame of the student's own code (not torch's, not ours)."""
    here = str(Path(__file__).resolve().parent)
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if "site-packages" not in f.filename and not f.filename.startswith(here)]
    if not frames:
        return None
    f = frames[-1]
    return f"in {f.name}, line {f.lineno}: {f.line.strip()}" if f.line else f"in {f.name}, line {f.lineno}"


def call_student(name: str, fn, *args):
    """``fn(*args)``, where ``fn`` is the student's: not written yet, or raising, becomes a CheckFailed
    that says so (and names the failing line of the student's code)."""
    try:
        return fn(*args)
    except NotImplementedError:
        raise CheckFailed(f"{name} is not written yet (it raised NotImplementedError).",
                          hint="replace `raise NotImplementedError()` with your code and run its cell again.") from None
    except Exception as err:  # student code may raise anything: say what and where
        where = student_line(err)
        raise CheckFailed(f"{name} raised {type(err).__name__}: {err}", [where] if where else [],
                          hint="run it on the example above and print the intermediate values.") from None
