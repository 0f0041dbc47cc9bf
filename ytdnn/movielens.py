"""Loaders for the GroupLens MovieLens archives, converted to the common :class:`Dataset`.

* ``ml-latest-small``: ``ratings.csv`` (required), ``movies.csv``, ``tags.csv``, ``links.csv``;
  when the folder holds ``MD5SUMS``, every file read is checked against it first.
* ``ml-100k``: ``u.data`` (required, tab separated), ``u.item`` and ``u.user`` (``|``
  separated, latin-1) when present.
* ``ml-1m``: ``ratings.dat`` (required), ``movies.dat``, ``users.dat``, ``::`` separated, latin-1.

Each rating becomes one interaction (``user_id``, ``item_id``, ``timestamp``, ``rating``).

Every field of every line read is validated against the archive's README before anything is
returned: the number of fields, ids (positive whole numbers), timestamps (whole seconds,
not negative), ratings (whole stars 1..5 for ml-100k/ml-1m; 0.5..5.0 in steps of 0.5 for
ml-latest-small), genres (the archive's own list), genre flags, ages, genders, occupations,
dates, and that no id is listed twice in a movies/users/links file.  A last line without its
newline is accepted only when it is complete; otherwise the file was cut mid-line.  Every
problem raises one single-line :class:`~ytdnn.errors.DataError` naming the file, the line
number (1-based, as an editor shows it) and the problem.  Loading only reads files.
"""
from __future__ import annotations

import csv
import functools
import hashlib
import io
import re
from dataclasses import dataclass
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
# The genre vocabularies as listed in each archive's README (and found in the files).
ML1M_GENRES = (
    "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
    "War", "Western",
)
ML_LATEST_GENRES = (
    "Action", "Adventure", "Animation", "Children", "Comedy", "Crime", "Documentary", "Drama",
    "Fantasy", "Film-Noir", "Horror", "IMAX", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western", "(no genres listed)",
)
# ml-100k's u.occupation; u.user may use no other value.
ML100K_OCCUPATIONS = (
    "administrator", "artist", "doctor", "educator", "engineer", "entertainment", "executive",
    "healthcare", "homemaker", "lawyer", "librarian", "marketing", "none", "other", "programmer",
    "retired", "salesman", "scientist", "student", "technician", "writer",
)
ML1M_AGE_CODES = (1, 18, 25, 35, 45, 50, 56)


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


@dataclass(frozen=True)
class Field:
    """One column of a MovieLens file and what a valid value of it looks like.

    ``pattern`` is a regular expression (no anchors, no capturing groups, never matching the
    separator or a newline) for one valid value; ``None`` means free text.  ``rule`` completes
    the sentence "<label> '<value>' is not ..." in error messages.  ``dtype`` is the numpy type
    the column is parsed to (``None`` keeps text).
    """

    name: str
    pattern: str | None
    rule: str
    dtype: type | None = None
    required: bool = True  # free text only: an empty value is an error
    label: str = ""  # how messages call the column; defaults to ``name``

    @property
    def shown_as(self) -> str:
        """The column's name in error messages."""
        return self.label or self.name

    def is_valid(self, value: str) -> bool:
        """Whether ``value`` (one field, separator and quotes already removed) is valid."""
        if self.pattern is None:
            return bool(value) or not self.required
        return _compiled(self.pattern).fullmatch(value) is not None

    def problem(self, value: str) -> str:
        """Why ``value`` is invalid, as a short phrase naming the column and the value."""
        if value == "":
            return f"{self.shown_as} is empty"
        shown = _show(value)
        if self.dtype is not None:
            if _NUMBER.fullmatch(value.strip()) is None:
                return f"{self.shown_as} {shown} is not a number"
            if value.strip().startswith("-"):
                return f"{self.shown_as} {shown} is negative"
        return f"{self.shown_as} {shown} is not {self.rule}"


# Any way of writing a number, to tell "not a number" apart from "a number out of range".
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@functools.lru_cache(maxsize=None)
def _compiled(pattern: str) -> re.Pattern[str]:
    """``re.compile`` once per pattern: diagnosing a bad line checks its fields one by one."""
    return re.compile(pattern)


def _show(value: str, limit: int = 40) -> str:
    """``repr`` of a value, shortened so that a message stays one readable line."""
    return repr(value if len(value) <= limit else value[: limit - 3] + "...")


def _id(name: str) -> Field:
    """A MovieLens id column: ids start at 1."""
    # At most 18 digits, so that every valid id fits an int64.
    return Field(name, r"[1-9][0-9]{0,17}", "a positive whole number", np.int64)


TIMESTAMP = Field("timestamp", r"[0-9]{1,18}", "a whole number of seconds", np.int64)
STARS = Field("rating", r"[1-5]", "on the 1..5 scale (whole stars)", np.int64)
HALF_STARS = Field(
    "rating", r"(?:[1-5](?:\.0+)?|[0-4]\.50*)", "on the 0.5..5.0 scale in steps of 0.5", np.float64,
)
GENDER = Field("gender", r"[MF]", "M or F")


def _text(name: str, *, required: bool = True) -> Field:
    """A free-text column (titles, tags, zip codes, URLs)."""
    return Field(name, None, "text", required=required)


def _one_of(name: str, values: tuple[object, ...], rule: str, dtype: type | None = None) -> Field:
    """A column whose value must be one of ``values``."""
    return Field(name, "(?:" + "|".join(re.escape(str(v)) for v in values) + ")", rule, dtype)


def _genres(vocabulary: tuple[str, ...]) -> Field:
    """A '|'-separated genre list drawn from ``vocabulary`` (a cut genre name fails it)."""
    one = "(?:" + "|".join(re.escape(g) for g in vocabulary) + ")"
    return Field("genres", rf"{one}(?:\|{one})*", "a '|'-separated list of the archive's genres")


_SEP_NAMES = {"\t": "tab", ",": "comma", "|": "'|'", "::": "'::'"}
# pandas' C parser takes one-character separators only, so '::' becomes this before parsing.
_UNIT_SEP = "\x1f"


@functools.lru_cache(maxsize=None)
def _file_regex(fields: tuple[Field, ...], sep: str, quoted: bool) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(any number of valid complete lines, one valid line) for a file of ``fields``.

    Matching every line of a file with one compiled regex runs in C: the first line that
    does not match is where the match stops, so the loader finds the first bad line without a
    Python loop over rows.
    """
    s = re.escape(sep)
    parts = []
    for f in fields:
        if f.pattern is not None:
            parts.append(f.pattern)
            continue
        plain = f"[^{s}\\n]+" if not quoted else f'[^{s}"\\n][^{s}\\n]*'
        if quoted:  # as csv/pandas read it: a quote opens a quoted field only at its start
            inner = '(?:[^"\\n]|"")' + ("+" if f.required else "*")
            plain = f'(?:"{inner}"|{plain})'
        parts.append(plain if f.required else f"(?:{plain})?")
    line = s.join(parts)
    return re.compile(f"(?:{line}\\n)*"), re.compile(line)


def _diagnose(line: str, fields: tuple[Field, ...], sep: str, sep_name: str, quoted: bool) -> str:
    """Why one line that failed the file regex is invalid: field count, else the first bad field."""
    if not line.strip():
        return "blank line"
    if quoted:
        try:
            values = next(csv.reader([line], strict=True))
        except csv.Error as err:
            return f"malformed quoted field ({err})"
    else:
        values = line.split(sep)
    if len(values) != len(fields):
        return f"expected {len(fields)} {sep_name}-separated fields, found {len(values)}"
    for f, value in zip(fields, values):
        if not f.is_valid(value):
            return f.problem(value)
    return "malformed line (check its quoting)"


def _read_table(
    path: Path,
    *,
    sep: str,
    fields: list[Field],
    header: list[str] | None = None,
    encoding: str = "utf-8",
    quoted: bool = False,
    unique: str | None = None,
) -> pd.DataFrame:
    """Read a delimited file of ``fields``, validating every field of every line.

    ``quoted``: text fields may be CSV-quoted (ml-latest-small's movies.csv and tags.csv);
    elsewhere a quote is an ordinary character.  ``unique``: a column no two lines may share.
    Numeric columns come back as int64/float32, text columns as pandas strings.
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
        line_no = raw.count(b"\n", 0, err.start) + 1
        raise DataError(f"{path}: line {line_no}: not {encoding} text (bad byte at offset {err.start})") from None
    if "\x00" in text:  # e.g. the zero-filled tail of an interrupted copy
        line_no = text.count("\n", 0, text.index("\x00")) + 1
        raise DataError(f"{path}: line {line_no}: contains NUL bytes; the file is corrupt")
    if "\r" in text:  # ml-latest-small uses CRLF; a lone CR would be a line break to pandas only
        stray = re.search("\r(?!\n)", text)
        if stray is not None:
            line_no = text.count("\n", 0, stray.start()) + 1
            raise DataError(f"{path}: line {line_no}: stray carriage return (lines must end with \\n or \\r\\n)")
        text = text.replace("\r\n", "\n")  # line numbers are unchanged
    sep_name = _SEP_NAMES.get(sep, repr(sep))
    if len(sep) > 1:
        text = text.replace(sep, _UNIT_SEP)
        sep = _UNIT_SEP
    body, first_line = 0, 1
    if header is not None:
        got = text.split("\n", 1)[0].strip().split(sep)
        if got != header:
            raise DataError(f"{path}: unexpected header {','.join(got)!r}, expected {','.join(header)!r}")
        body = text.find("\n") + 1 if "\n" in text else len(text)
        first_line = 2
    if body == len(text):
        raise DataError(f"{path}: no data rows")

    spec = tuple(fields)
    all_lines, one_line = _file_regex(spec, sep, quoted)
    end = all_lines.match(text, body).end()
    terminated = text.endswith("\n")
    if end < len(text):
        line_end = text.find("\n", end)
        cut = line_end == -1
        # An unterminated last line is fine when it is complete; only then is it not an error.
        if not (cut and one_line.fullmatch(text, end) is not None):
            line = text[end:] if cut else text[end:line_end]
            problem = _diagnose(line, spec, sep, sep_name, quoted)
            if cut:
                problem = f"last line cut short (no newline at end of file): {problem}"
            line_no = first_line + text.count("\n", body, end)
            raise DataError(f"{path}: line {line_no}: {problem}")

    dtypes = {f.name: (f.dtype or str) for f in spec}
    try:  # every line is valid now, so this parse cannot meet a bad value
        df = pd.read_csv(
            io.StringIO(text[body:]), sep=sep, header=None, names=[f.name for f in spec], dtype=dtypes,
            quoting=csv.QUOTE_MINIMAL if quoted else csv.QUOTE_NONE, keep_default_na=False,
            na_values=[], index_col=False, skip_blank_lines=False,
        )
    except (pd.errors.ParserError, ValueError, OverflowError, csv.Error) as err:
        msg = str(err).strip().splitlines()[-1] if str(err).strip() else type(err).__name__
        raise DataError(f"{path}: cannot parse: {msg}") from None
    n_lines = text.count("\n", body) + (0 if terminated else 1)
    if len(df) != n_lines:  # a guard on the row <-> line mapping every message relies on
        raise DataError(f"{path}: cannot parse: {n_lines} lines but {len(df)} rows")

    if not terminated and len(df) > 1:
        _check_unterminated_last(path, df, spec, text, sep, quoted, first_line + len(df) - 1)
    if unique is not None:
        dup = df[unique].duplicated().to_numpy()
        if dup.any():
            row = int(np.argmax(dup))
            value = df[unique].iloc[row]
            first = int(np.argmax((df[unique] == value).to_numpy()))
            raise DataError(
                f"{path}: line {first_line + row}: {unique} {value} is listed twice "
                f"(first on line {first_line + first})"
            )
    for f in spec:
        if f.dtype is np.float64:
            df[f.name] = df[f.name].astype(np.float32)
    return df


def _check_unterminated_last(
    path: Path, df: pd.DataFrame, spec: tuple[Field, ...], text: str, sep: str, quoted: bool, line_no: int,
) -> None:
    """Catch a file cut inside the last field of its last line, where that field still looks valid.

    A cut inside an earlier field leaves too few fields, which the regex catches; a cut inside
    the last field (``...::97830`` for a timestamp ``978300760``) leaves a valid-looking but
    shorter value.  Without a newline at the end of the file, a last value shorter than every
    other value of its column is taken for such a cut.
    """
    last = spec[-1]
    line = text[text.rfind("\n") + 1:]
    value = next(csv.reader([line]))[-1] if quoted else line.split(sep)[-1]
    others = df[last.name].iloc[:-1]
    if last.dtype is np.int64:
        shortest = len(str(int(others.min())))  # the smallest number has the fewest digits
    elif last.dtype is None:
        shortest = int(others.str.len().min())
    else:
        return
    if len(value) < shortest:
        raise DataError(
            f"{path}: line {line_no}: last line cut short (no newline at end of file): "
            f"{last.shown_as} {_show(value)} is shorter than every other {last.shown_as}"
        )


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
        path("ratings.csv"), sep=",", header=["userId", "movieId", "rating", "timestamp"],
        fields=[_id("user_id"), _id("item_id"), HALF_STARS, TIMESTAMP],
    )
    items = None
    if (root / "movies.csv").is_file():
        items = _read_table(
            path("movies.csv"), sep=",", header=["movieId", "title", "genres"], quoted=True,
            fields=[_id("item_id"), _text("title"), _genres(ML_LATEST_GENRES)], unique="item_id",
        )
        if (root / "links.csv").is_file():
            links = _read_table(
                path("links.csv"), sep=",", header=["movieId", "imdbId", "tmdbId"], unique="item_id",
                fields=[
                    _id("item_id"),
                    # Kept as text: IMDb ids have meaningful leading zeros (0114709).
                    Field("imdb_id", r"[0-9]{1,10}", "a whole number"),
                    # Empty for the few movies TMDb does not know.
                    Field("tmdb_id", r"[0-9]{0,10}", "a whole number or empty"),
                ],
            )
            items = items.merge(links, on="item_id", how="left")
    extras = {}
    if (root / "tags.csv").is_file():
        extras["tags"] = _read_table(
            path("tags.csv"), sep=",", header=["userId", "movieId", "tag", "timestamp"], quoted=True,
            fields=[_id("user_id"), _id("item_id"), _text("tag"), TIMESTAMP],
        )
    return Dataset("ml-latest-small", _finish_ratings(ratings), items=items, users=None, extras=extras)


# u.item dates look like 01-Jan-1995; the one movie with no known date leaves the field empty.
_ML100K_DATE = r"(?:[0-9]{1,2}-[A-Z][a-z]{2}-[0-9]{4})?"


def load_ml_100k(root: str | Path) -> Dataset:
    """MovieLens 100K: ``u.data`` required; ``u.item`` / ``u.user`` used when present."""
    root = Path(root)
    ratings = _read_table(
        root / "u.data", sep="\t", fields=[_id("user_id"), _id("item_id"), STARS, TIMESTAMP],
    )
    items = None
    if (root / "u.item").is_file():
        flags = [f"g{i}" for i in range(len(ML100K_GENRES))]
        raw = _read_table(
            root / "u.item", sep="|", encoding="latin-1", unique="item_id",
            fields=[
                _id("item_id"), _text("title"),
                Field("release_date", _ML100K_DATE, "a date like 01-Jan-1995 (or empty)"),
                Field("video_release_date", _ML100K_DATE, "a date like 01-Jan-1995 (or empty)"),
                _text("imdb_url", required=False),
                *[Field(flag, r"[01]", "0 or 1", np.int64, label=f"{genre} flag")
                  for flag, genre in zip(flags, ML100K_GENRES)],
            ],
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
            root / "u.user", sep="|", encoding="latin-1", unique="user_id",
            fields=[
                _id("user_id"), Field("age", r"[1-9][0-9]?", "an age in years (1 to 99)", np.int64), GENDER,
                _one_of("occupation", ML100K_OCCUPATIONS, "one of the 21 occupations of u.occupation"),
                _text("zip_code"),
            ],
        )
    return Dataset("ml-100k", _finish_ratings(ratings), items=items, users=users)


def load_ml_1m(root: str | Path) -> Dataset:
    """MovieLens 1M: ``ratings.dat`` required; ``movies.dat`` / ``users.dat`` when present.

    ``users.age`` is the archive's bucket code (1, 18, 25, 35, 45, 50, 56), as in its README.
    """
    root = Path(root)
    ratings = _read_table(
        root / "ratings.dat", sep="::", encoding="latin-1",
        fields=[_id("user_id"), _id("item_id"), STARS, TIMESTAMP],
    )
    items = None
    if (root / "movies.dat").is_file():
        items = _read_table(
            root / "movies.dat", sep="::", encoding="latin-1", unique="item_id",
            fields=[_id("item_id"), _text("title"), _genres(ML1M_GENRES)],
        )
    users = None
    if (root / "users.dat").is_file():
        users = _read_table(
            root / "users.dat", sep="::", encoding="latin-1", unique="user_id",
            fields=[
                _id("user_id"), GENDER,
                _one_of("age", ML1M_AGE_CODES, "one of the age codes 1, 18, 25, 35, 45, 50, 56", np.int64),
                Field("occupation", r"(?:1[0-9]|20|[0-9])", "an occupation code 0..20", np.int64),
                _text("zip_code"),
            ],
        )
    return Dataset("ml-1m", _finish_ratings(ratings), items=items, users=users)
