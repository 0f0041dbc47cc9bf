"""Loaders for the GroupLens MovieLens archives, converted to the common :class:`Dataset`.

* ``ml-latest-small``: ``ratings.csv`` (required), ``movies.csv``, ``tags.csv``, ``links.csv``;
  when the folder holds ``MD5SUMS``, every file read is checked against it first.
* ``ml-100k``: ``u.data`` (required, tab separated), ``u.item`` and ``u.user`` (``|``
  separated, latin-1) when present.
* ``ml-1m``: ``ratings.dat`` (required), ``movies.dat``, ``users.dat``, ``::`` separated, latin-1.

Each rating becomes one interaction (``user_id``, ``item_id``, ``timestamp``, ``rating``).
Every problem with a file raises :class:`~ytdnn.errors.DataError` naming the file.
"""
from __future__ import annotations

import csv
import hashlib
import io
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError
from .schema import Dataset

ML100K_GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
)


def md5_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def read_md5sums(path: Path) -> dict[str, str]:
    """Parse an ``md5sum``-style file (``<hex>  <name>`` per line) into {name: hex}."""
    out: dict[str, str] = {}
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2 or len(parts[0]) != 32:
            raise DataError(f"{path}: line {n}: expected '<md5>  <file name>'")
        out[parts[1].lstrip("*")] = parts[0].lower()
    return out


def _check_md5(path: Path, sums: dict[str, str] | None) -> None:
    if sums is None or path.name not in sums:
        return
    try:
        got = md5_file(path)
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    if got != sums[path.name]:
        raise DataError(
            f"{path}: md5 mismatch (expected {sums[path.name]} from MD5SUMS, got {got}); "
            "the file is truncated or corrupt"
        )


def _read_table(
    path: Path,
    *,
    sep: str,
    names: list[str],
    ints: tuple[str, ...] = (),
    floats: tuple[str, ...] = (),
    header: list[str] | None = None,
    encoding: str = "utf-8",
    quoting: int = csv.QUOTE_MINIMAL,
) -> pd.DataFrame:
    """Read a delimited file whose columns are ``names``; numeric columns must parse fully.

    Reads every field as text first, so one bad row becomes a precise one-line error
    (``file: line N: ...``) instead of a silent NaN or a pandas traceback.
    """
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        raw = path.read_bytes()
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err.strerror or err})") from None
    if not raw.strip():
        raise DataError(f"{path}: file is empty")
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not {encoding} text (bad byte at offset {err.start})") from None
    if "\x00" in text:
        raise DataError(f"{path}: contains NUL bytes; the file is corrupt")
    if len(sep) > 1:  # pandas' C parser takes one-character separators only
        text = text.replace(sep, "\x1f")
        sep = "\x1f"
    first_line = 1
    if header is not None:
        got = text.split("\n", 1)[0].strip().split(sep)
        if got != header:
            raise DataError(f"{path}: unexpected header {','.join(got)!r}, expected {','.join(header)!r}")
        first_line = 2
    try:
        df = pd.read_csv(
            io.StringIO(text), sep=sep, header=None, names=names, dtype=str,
            skiprows=first_line - 1, quoting=quoting, keep_default_na=False, na_values=[],
            index_col=False,
        )
    except (pd.errors.ParserError, ValueError, csv.Error) as err:
        msg = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: cannot parse: {msg}") from None
    if df.empty:
        raise DataError(f"{path}: no data rows")
    for col in [c for c in names if c in ints or c in floats]:  # file order: report the first bad field
        values = pd.to_numeric(df[col].str.strip(), errors="coerce")
        bad = values.isna().to_numpy()
        if col in ints and not bad.any():
            bad = (values != np.floor(values)).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            n_bad = int(bad.sum())
            raw_value = df[col].iloc[row]
            missing = pd.isna(raw_value) or not str(raw_value).strip()
            what = f"{col} is missing" if missing else f"{col} is {raw_value!r}, not a number"
            raise DataError(
                f"{path}: line {row + first_line}: {what} "
                f"({n_bad} bad row{'s' if n_bad > 1 else ''}; truncated or corrupt file?)"
            )
        df[col] = values.astype(np.int64 if col in ints else np.float32)
    return df


def _finish_ratings(df: pd.DataFrame) -> pd.DataFrame:
    df = df[["user_id", "item_id", "timestamp", "rating"]].copy()
    df["rating"] = df["rating"].astype(np.float32)
    return df.reset_index(drop=True)


def load_ml_latest_small(root: str | Path, *, verify: bool = True) -> Dataset:
    """MovieLens latest-small (100,836 ratings, 610 users, 9,742 movies in the 2018 release)."""
    root = Path(root)
    sums = None
    if verify and (root / "MD5SUMS").is_file():
        sums = read_md5sums(root / "MD5SUMS")

    def path(name: str) -> Path:
        p = root / name
        if p.is_file():
            _check_md5(p, sums)
        return p

    ratings = _read_table(
        path("ratings.csv"), sep=",", names=["user_id", "item_id", "rating", "timestamp"],
        header=["userId", "movieId", "rating", "timestamp"],
        ints=("user_id", "item_id", "timestamp"), floats=("rating",),
    )
    items = None
    if (root / "movies.csv").is_file():
        items = _read_table(
            path("movies.csv"), sep=",", names=["item_id", "title", "genres"],
            header=["movieId", "title", "genres"], ints=("item_id",),
        )
        if (root / "links.csv").is_file():
            links = _read_table(
                path("links.csv"), sep=",", names=["item_id", "imdb_id", "tmdb_id"],
                header=["movieId", "imdbId", "tmdbId"], ints=("item_id",),
            )
            items = items.merge(links, on="item_id", how="left")
    extras = {}
    if (root / "tags.csv").is_file():
        extras["tags"] = _read_table(
            path("tags.csv"), sep=",", names=["user_id", "item_id", "tag", "timestamp"],
            header=["userId", "movieId", "tag", "timestamp"], ints=("user_id", "item_id", "timestamp"),
        )
    return Dataset("ml-latest-small", _finish_ratings(ratings), items=items, users=None, extras=extras)


def load_ml_100k(root: str | Path) -> Dataset:
    """MovieLens 100K: ``u.data`` required; ``u.item`` / ``u.user`` used when present."""
    root = Path(root)
    ratings = _read_table(
        root / "u.data", sep="\t", names=["user_id", "item_id", "rating", "timestamp"],
        ints=("user_id", "item_id", "timestamp"), floats=("rating",),
    )
    items = None
    if (root / "u.item").is_file():
        flags = [f"g{i}" for i in range(len(ML100K_GENRES))]
        raw = _read_table(
            root / "u.item", sep="|",
            names=["item_id", "title", "release_date", "video_release_date", "imdb_url", *flags],
            ints=("item_id", *flags), encoding="latin-1", quoting=csv.QUOTE_NONE,
        )
        genre_flags = raw[flags].to_numpy(dtype=bool)
        names = np.array(ML100K_GENRES, dtype=object)
        genres = ["|".join(names[row]) for row in genre_flags]  # 1.7k movies: a loop is fine
        items = pd.DataFrame(
            {"item_id": raw["item_id"], "title": raw["title"], "genres": genres,
             "release_date": raw["release_date"], "imdb_url": raw["imdb_url"]}
        )
    users = None
    if (root / "u.user").is_file():
        users = _read_table(
            root / "u.user", sep="|", names=["user_id", "age", "gender", "occupation", "zip_code"],
            ints=("user_id", "age"), encoding="latin-1", quoting=csv.QUOTE_NONE,
        )
    return Dataset("ml-100k", _finish_ratings(ratings), items=items, users=users)


def load_ml_1m(root: str | Path) -> Dataset:
    """MovieLens 1M: ``ratings.dat`` required; ``movies.dat`` / ``users.dat`` when present.

    ``users.age`` is the archive's bucket code (1, 18, 25, 35, 45, 50, 56), as in its README.
    """
    root = Path(root)
    ratings = _read_table(
        root / "ratings.dat", sep="::", names=["user_id", "item_id", "rating", "timestamp"],
        ints=("user_id", "item_id", "timestamp"), floats=("rating",), encoding="latin-1",
        quoting=csv.QUOTE_NONE,
    )
    items = None
    if (root / "movies.dat").is_file():
        items = _read_table(
            root / "movies.dat", sep="::", names=["item_id", "title", "genres"], ints=("item_id",),
            encoding="latin-1", quoting=csv.QUOTE_NONE,
        )
    users = None
    if (root / "users.dat").is_file():
        users = _read_table(
            root / "users.dat", sep="::", names=["user_id", "gender", "age", "occupation", "zip_code"],
            ints=("user_id", "age", "occupation"), encoding="latin-1", quoting=csv.QUOTE_NONE,
        )
    return Dataset("ml-1m", _finish_ratings(ratings), items=items, users=users)
