"""One entry point for every data source: ``load(name="simulator", root=None, **kwargs)``.

>>> from ytdnn.data import load
>>> ds = load()                                  # the YouTube-like simulator (default)
>>> ds = load("ml-latest-small")                 # real MovieLens, found automatically
>>> ds = load("ml-100k", root="path/to/ml-100k") # the folder holding u.data

All sources return a :class:`ytdnn.schema.Dataset` (same ``interactions`` columns).
Where MovieLens files are looked for, in order: ``root`` if given; ``$YTDNN_DATA/<name>``
and ``$YTDNN_DATA``; ``<repo>/../shared/datasets/<name>``; ``<repo>/shared/datasets/<name>``;
the download cache ``<repo>/data/cache/<name>``.  ``download=True`` fetches a missing
archive (internet needed); see :mod:`ytdnn.download`.

Command line: ``python -m ytdnn.data info NAME [--root DIR]`` prints a JSON summary as its
last line; ``python -m ytdnn.data download NAME``.  Bad input exits with status 2 and one
line on stderr.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..download import REPO_ROOT, default_cache_dir
from ..errors import DataError
from ..schema import Dataset

SIMULATOR = "simulator"
# The one file each real dataset cannot do without; it marks a dataset folder.
REQUIRED_FILE = {"ml-latest-small": "ratings.csv", "ml-100k": "u.data", "ml-1m": "ratings.dat"}
DATASETS = (SIMULATOR, *REQUIRED_FILE)

__all__ = ["DATASETS", "DataError", "Dataset", "candidate_roots", "find_root", "load"]


def _canonical(name: str | None) -> str:
    key = (name or SIMULATOR).strip().lower().replace("_", "-")
    key = {"sim": SIMULATOR, "movielens": "ml-latest-small", "ml-small": "ml-latest-small"}.get(key, key)
    if key not in DATASETS:
        raise DataError(f"{name}: unknown dataset (known: {', '.join(DATASETS)})")
    return key


def candidate_roots(name: str) -> list[Path]:
    """Folders searched, in order, for dataset ``name`` when no root is given."""
    out: list[Path] = []
    env = os.environ.get("YTDNN_DATA")
    if env:
        out += [Path(env) / name, Path(env)]
    out += [
        REPO_ROOT.parent / "shared" / "datasets" / name,
        REPO_ROOT / "shared" / "datasets" / name,
        default_cache_dir() / name,
    ]
    return out


def find_root(name: str) -> Path | None:
    """The first candidate folder holding ``name``'s required file, or None."""
    name = _canonical(name)
    for root in candidate_roots(name):
        if (root / REQUIRED_FILE[name]).is_file():
            return root
    return None


def load(
    name: str | None = SIMULATOR,
    root: str | Path | None = None,
    *,
    download: bool = False,
    cache_dir: str | Path | None = None,
    **kwargs: Any,
) -> Dataset:
    """Load ``name`` (default: the simulator) in the common schema.

    ``kwargs`` go to :func:`ytdnn.simulator.simulate` (e.g. ``n_users=500, seed=1``) or to
    the MovieLens loader (``verify=False`` skips the MD5SUMS check of ml-latest-small).
    """
    key = _canonical(name)
    if key == SIMULATOR:
        if root is not None:
            raise DataError(f"{root}: the simulator reads no files; drop root/--root")
        from ..simulator import simulate

        return simulate(**kwargs).to_dataset()

    from .. import movielens

    loader = {
        "ml-latest-small": movielens.load_ml_latest_small,
        "ml-100k": movielens.load_ml_100k,
        "ml-1m": movielens.load_ml_1m,
    }[key]
    if root is not None:
        root = Path(root)
        if not root.is_dir():
            raise DataError(f"{root}: folder not found (expected the {key} folder holding {REQUIRED_FILE[key]})")
    else:
        root = find_root(key)
        if root is None and download:
            from ..download import ensure

            root = ensure(key, cache_dir)
        if root is None:
            looked = "; ".join(str(p) for p in candidate_roots(key))
            raise DataError(
                f"{key}: {REQUIRED_FILE[key]} not found (looked in {looked}); pass root=..., "
                f"set YTDNN_DATA, or run: python -m ytdnn.data download {key}"
            )
    return loader(root, **kwargs)
