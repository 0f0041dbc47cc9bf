"""A student's own copy of the course: ``make start`` (``python -m autograder.workspace``).

Copies each release notebook (``course/release/<assignment>/*.ipynb``) to
``workspace/<assignment>/`` **only when that file is not there yet**: a notebook a student has
worked in is never overwritten or deleted, by this command or by any other make target
(``make release`` and ``make demo`` write only ``course/release`` and ``build/``). ``workspace/``
is git-ignored. A newer release of a notebook you already have is reported, not copied.
"""
from __future__ import annotations

import argparse
import filecmp
import shutil
from pathlib import Path

from .course import COURSE, REPO

WORKSPACE = REPO / "workspace"


def sync_workspace(workspace: Path = WORKSPACE, release: Path = COURSE / "release") -> dict[str, list[Path]]:
    """Copy missing release notebooks into ``workspace``; returns ``{"copied", "kept", "newer"}`` paths."""
    out: dict[str, list[Path]] = {"copied": [], "kept": [], "newer": []}
    for source in sorted(release.glob("*/*.ipynb")):
        target = workspace / source.parent.name / source.name
        if target.exists():
            out["kept"].append(target)
            if not filecmp.cmp(source, target, shallow=False):
                out["newer"].append(target)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        shutil.copyfile(source, tmp)
        tmp.rename(target) if not target.exists() else tmp.unlink()  # never replace a file that appeared meanwhile
        out["copied"].append(target)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", type=Path, default=WORKSPACE)
    args = parser.parse_args(argv)
    result = sync_workspace(args.workspace)
    for path in result["copied"]:
        print(f"new notebook: {path.relative_to(args.workspace.parent)}")
    kept = [p for p in result["kept"] if p not in result["newer"]]
    if kept:
        print(f"kept your {len(kept)} notebook(s) as they are")
    for path in result["newer"]:
        print(f"kept your {path.relative_to(args.workspace.parent)}; the course has a different version in "
              f"course/release/{path.parent.name}/ (your copy is never replaced)")


if __name__ == "__main__":
    main()
