"""``python -m ytdnn.data``: JSON summary as the last line, exit 2 with one line on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **env}
    return subprocess.run(
        [sys.executable, "-m", "ytdnn.data", *args], cwd=REPO, env=full_env,
        capture_output=True, text=True, timeout=120,
    )


def last_json(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_info_simulator():
    info = last_json(run("info", "simulator", "--users", "300", "--videos", "200", "--watches", "5000", "--seed", "2"))
    assert info["dataset"] == "simulator"
    # 5,000 organic watches, plus one homepage watch per clicked impression (the default 20,000 slates).
    from ytdnn.data import load
    ds = load("simulator", n_users=300, n_videos=200, n_watches=5000, seed=2)
    assert (info["users"], info["items"], info["interactions"]) == (300, 200, len(ds.interactions))
    assert (ds.interactions["source"] != "homepage").sum() == 5000
    assert info["columns"][:3] == ["user_id", "item_id", "timestamp"] and "watch_time" in info["columns"]


def test_info_ml_latest_small():
    info = last_json(run("info", "ml-latest-small"))
    assert (info["dataset"], info["users"], info["items"], info["interactions"]) == ("ml-latest-small", 610, 9742, 100836)


def test_info_ml100k_with_root(tmp_path):
    root = tmp_path / "ml-100k"
    root.mkdir()
    (root / "u.data").write_text("1\t10\t4\t881250949\n2\t10\t3\t881250950\n2\t11\t5\t881250951\n")
    info = last_json(run("info", "ml-100k", "--root", str(root)))
    assert (info["users"], info["items"], info["interactions"]) == (2, 2, 3)

    (root / "u.data").write_text("1\t10\t4\t881250949\n2\t10\n")
    assert one_line_error(run("info", "ml-100k", "--root", str(root))) == (
        f"{root / 'u.data'}: line 2: expected 4 tab-separated fields, found 2"
    )
    (root / "u.data").unlink()
    assert one_line_error(run("info", "ml-100k", "--root", str(root))) == f"{root / 'u.data'}: file not found"


def test_bad_names_and_arguments(tmp_path):
    assert one_line_error(run("info", "youtube-8m")) == (
        "youtube-8m: unknown dataset (known: simulator, ml-latest-small, ml-100k, ml-1m)"
    )
    missing = tmp_path / "nope"
    assert one_line_error(run("info", "ml-1m", "--root", str(missing))).startswith(f"{missing}: folder not found")
    assert one_line_error(run("info")).startswith("usage:")
    assert one_line_error(run("info", "ml-1m", "--seed", "3")).startswith("ml-1m: --seed")


def test_download_with_bad_archive_keeps_cache(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    cached = cache / "ml-100k.zip"
    cached.write_bytes(b"whatever was there before")
    fake = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("ml-100k/u.data", "1\t10\t4\t881250949\n")
    line = one_line_error(run("download", "ml-100k", "--cache", str(cache), "--url", fake.as_uri()))
    assert line.startswith(f"ml-100k.zip: downloaded from {fake.as_uri()} but md5 mismatch (expected 0e33842e24a9c977be4e0107933c0723, got ")
    assert line.endswith("; cache left unchanged")
    assert cached.read_bytes() == b"whatever was there before"
    assert [p.name for p in cache.iterdir()] == ["ml-100k.zip"]


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Every file under ``folder`` with its bytes and modification time, to prove nothing was written."""
    return {str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


# One bad file per format: (dataset, file, its valid content, the same cut or corrupted, line, problem).
BAD_FILES = [
    ("ml-100k", "u.data", "1\t10\t4\t881250949\n2\t10\t3\t881250950\n2\t11\t5\t881250951\n",
     "1\t10\t4\t881250949\n2\t10\t3\t881250950\n2\t11\t4", 3,
     "last line cut short (no newline at end of file): expected 4 tab-separated fields, found 3"),
    ("ml-100k", "u.data", "1\t10\t4\t881250949\n2\t10\t3\t881250950\n",
     "1\t10\t4\t881250949\n2\t10\t9\t881250950\n", 2, "rating '9' is not on the 1..5 scale (whole stars)"),
    ("ml-1m", "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n",
     "1::1193::5::978300760\n1::661::3::97830", 2,
     "last line cut short (no newline at end of file): timestamp '97830' is shorter than every other timestamp"),
    ("ml-1m", "ratings.dat", "1::1193::5::978300760\n1::661::3::978302109\n",
     "1::1193::5::978300760\n-1::661::3::978302109\n", 2, "user_id '-1' is negative"),
    ("ml-latest-small", "ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n",
     "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5\r\n", 3,
     "expected 4 comma-separated fields, found 3"),
    ("ml-latest-small", "ratings.csv", "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,3,4.5,964981247\r\n",
     "userId,movieId,rating,timestamp\r\n1,1,4.0,9649x2703\r\n1,3,4.5,964981247\r\n", 2,
     "timestamp '9649x2703' is not a number"),
]


@pytest.mark.parametrize("name, file, good, bad, line_no, problem", BAD_FILES,
                         ids=[f"{c[1]}-line{c[4]}" for c in BAD_FILES])
def test_info_bad_file_exits_2_with_one_line_and_writes_nothing(tmp_path, name, file, good, bad, line_no, problem):
    root = tmp_path / name
    root.mkdir()
    (root / file).write_text(good, newline="")
    assert last_json(run("info", name, "--root", str(root)))["interactions"] == good.count("\n") - (name == "ml-latest-small")
    (root / file).write_text(bad, newline="")
    before = snapshot(root)
    assert one_line_error(run("info", name, "--root", str(root))) == f"{root / file}: line {line_no}: {problem}"
    assert snapshot(root) == before


def test_info_bad_file_in_download_cache_leaves_cache_unchanged(tmp_path):
    cache = tmp_path / "cache"
    folder = cache / "ml-100k"
    folder.mkdir(parents=True)
    (cache / "ml-100k.zip").write_bytes(b"the archive this folder was unpacked from")
    (folder / "u.data").write_text("1\t10\t4\t881250949\n2\t10\t3\t881250950\n2\t11\t4\t8812")  # cut mid-line
    (folder / "u.user").write_text("1|24|M|technician|85711\n2|53|F|other|94043\n")
    before = snapshot(cache)
    line = one_line_error(run("info", "ml-100k", YTDNN_CACHE=str(cache), YTDNN_DATA=str(tmp_path / "none")))
    assert line == (
        f"{folder / 'u.data'}: line 3: last line cut short (no newline at end of file): "
        "timestamp '8812' is shorter than every other timestamp"
    )
    assert snapshot(cache) == before
