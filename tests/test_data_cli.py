"""``python -m ytdnn.data``: JSON summary as the last line, exit 2 with one line on bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

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
    assert (info["users"], info["items"], info["interactions"]) == (300, 200, 5000)
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
        f"{root / 'u.data'}: line 2: rating is missing (1 bad row; truncated or corrupt file?)"
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
