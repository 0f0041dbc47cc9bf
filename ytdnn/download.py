"""Download MovieLens archives into a local cache, safely.

Rules (each one tested):

* the cache is ``<repo>/data/cache/`` (git-ignored) unless ``cache_dir`` or ``YTDNN_CACHE`` says otherwise;
* a cached archive that verifies is never downloaded again;
* a download goes to a temporary file in the cache folder and is moved over the cached
  name (atomically) only after its checksum verifies, so a failed or corrupt download
  overwrites nothing and leaves no partial file behind;
* every failure is a one-line :class:`~ytdnn.errors.DataError` naming the file.

Known URLs and checksums live in ``data/sources.json``.  ``fetch`` (``fetch(url, fileobj)``)
can be injected, and ``file://`` URLs work, so tests need no network.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import Any, BinaryIO, Callable

from .errors import DataError

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES_FILE = REPO_ROOT / "data" / "sources.json"
EXTRACTED_MARKER = ".ytdnn-extracted"

Fetch = Callable[[str, BinaryIO], None]


def default_cache_dir() -> Path:
    env = os.environ.get("YTDNN_CACHE")
    return Path(env) if env else REPO_ROOT / "data" / "cache"


def load_sources(path: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """The archive table from ``data/sources.json`` (keys starting with ``_`` are comments)."""
    path = Path(path) if path else SOURCES_FILE
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (the list of known archives)") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: invalid JSON at line {err.lineno}: {err.msg}") from None
    return {k: v for k, v in table.items() if not k.startswith("_")}


def source(name: str) -> dict[str, Any]:
    table = load_sources()
    if name not in table:
        raise DataError(f"{name}: no download source known (known: {', '.join(sorted(table))})")
    return table[name]


def urllib_fetch(url: str, out: BinaryIO) -> None:
    """Default fetch: stream ``url`` (http, https or file) into ``out``."""
    with urllib.request.urlopen(url, timeout=60) as resp:  # noqa: S310 - URLs come from sources.json
        shutil.copyfileobj(resp, out, length=1 << 20)


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def verify_archive(path: Path, spec: dict[str, Any]) -> str | None:
    """Why ``path`` is not the archive ``spec`` describes, or None when it verifies.

    Checks the archive's md5 when known; otherwise the md5 of each listed member
    (``members_md5``), which is what GroupLens ships for ml-latest-small.
    """
    if spec.get("md5"):
        got = _md5(path)
        want = str(spec["md5"]).lower()
        return None if got == want else f"md5 mismatch (expected {want}, got {got})"
    members = spec.get("members_md5")
    if not members:
        return "no checksum is known for this archive, so it cannot be verified"
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            for member, want in sorted(members.items()):
                if member not in names:
                    return f"archive lacks {member}"
                h = hashlib.md5()
                with zf.open(member) as fh:
                    while block := fh.read(1 << 20):
                        h.update(block)
                if h.hexdigest() != want:
                    return f"{member}: md5 mismatch (expected {want}, got {h.hexdigest()})"
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f"not a valid zip archive ({err})"
    return None


def download(
    name: str,
    cache_dir: str | Path | None = None,
    *,
    url: str | None = None,
    fetch: Fetch | None = None,
    spec: dict[str, Any] | None = None,
) -> Path:
    """Return the path of the verified archive for ``name`` in the cache, fetching it only if needed.

    ``spec`` overrides the entry from ``data/sources.json`` (keys ``url``, ``filename``,
    ``md5`` or ``members_md5``, ``folder``); ``url`` overrides just the address.
    """
    spec = dict(spec) if spec is not None else source(name)
    url = url or spec["url"]
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    target = cache / spec.get("filename", Path(url).name)
    if target.is_file() and verify_archive(target, spec) is None:
        return target
    try:
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=cache)
    except OSError as err:
        raise DataError(f"{cache}: cannot write to the cache folder ({err.strerror or err})") from None
    tmp = Path(tmp_name)
    try:
        try:
            with os.fdopen(fd, "wb") as out:
                (fetch or urllib_fetch)(url, out)
        except Exception as err:  # noqa: BLE001 - any fetch failure becomes one line
            detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise DataError(f"{target.name}: download from {url} failed: {detail}; cache left unchanged") from None
        problem = verify_archive(tmp, spec)
        if problem is not None:
            raise DataError(f"{target.name}: downloaded from {url} but {problem}; cache left unchanged")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def extract(archive: Path, cache_dir: str | Path | None = None, *, folder: str | None = None) -> Path:
    """Unzip ``archive`` into the cache and return the dataset folder (``<cache>/<folder>``).

    Extracts into a temporary folder first, so an interrupted extraction never looks complete.
    """
    cache = Path(cache_dir) if cache_dir else archive.parent
    folder = folder or archive.name.removesuffix(".zip")
    dest = cache / folder
    if (dest / EXTRACTED_MARKER).is_file():
        return dest
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder}.", dir=cache))
    try:
        try:
            with zipfile.ZipFile(archive) as zf:
                for info in zf.infolist():
                    p = Path(info.filename)
                    if p.is_absolute() or ".." in p.parts:
                        raise DataError(f"{archive}: unsafe member path {info.filename!r}")
                zf.extractall(tmp)
        except (zipfile.BadZipFile, OSError, EOFError) as err:
            raise DataError(f"{archive}: cannot extract ({err})") from None
        src = tmp / folder
        if not src.is_dir():
            raise DataError(f"{archive}: archive has no top-level folder {folder!r}")
        (src / EXTRACTED_MARKER).write_text(archive.name + "\n", encoding="utf-8")
        if dest.exists():  # a stale, incomplete extraction
            shutil.rmtree(dest)
        os.replace(src, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest


def ensure(
    name: str,
    cache_dir: str | Path | None = None,
    *,
    url: str | None = None,
    fetch: Fetch | None = None,
    spec: dict[str, Any] | None = None,
) -> Path:
    """Download (if needed), verify and extract ``name``; return the folder with its files."""
    spec = dict(spec) if spec is not None else source(name)
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    folder = spec.get("folder", name)
    if (cache / folder / EXTRACTED_MARKER).is_file():
        return cache / folder
    archive = download(name, cache, url=url, fetch=fetch, spec=spec)
    return extract(archive, cache, folder=folder)
