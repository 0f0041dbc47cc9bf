"""Time every source notebook end to end (target: under 3 minutes each on 2 CPU cores).

    .venv/bin/python benchmarks/notebooks.py
"""
import os
import tempfile
from pathlib import Path

from autograder.course import COURSE
from autograder.execute import run_notebook

TARGET_S = 180


def main() -> None:
    print(f"{'notebook':<40} {'seconds':>8}  target {TARGET_S} s on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        for path in sorted((COURSE / "source").glob("*/*.ipynb")):
            seconds = run_notebook(path, Path(tmp) / path.name, timeout=TARGET_S)
            flag = "" if seconds < TARGET_S else "  OVER"
            print(f"{path.parent.name + '/' + path.name:<40} {seconds:8.1f}{flag}")


if __name__ == "__main__":
    main()
