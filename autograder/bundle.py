"""The student bundle and the grader's sandbox environment: ``make bundle``.

The bundle is a wheel holding what a class student installs and nothing else: ``ytdnn`` and the
student-side checks ``autograder.checks`` (with the visible cases' expected values). It holds no
``solutions``, no hidden expectations (``autograder/hidden``) and no instructor tooling. Which files
go in is decided by a convention, not a list: every ``.py`` and ``.json`` under ``ytdnn/`` and
``autograder/checks/``, plus ``autograder/__init__.py``.

:func:`grader_env` installs that wheel into a fresh virtual environment, which is what a submission
runs in inside the sandbox. Third-party packages (torch, numpy, ipykernel, ...) come from this
repo's ``.venv`` through a ``.pth`` line; the editable install of the repo itself is *not* seen
there, because ``.pth`` files are only read in site directories, so ``solutions`` cannot be imported.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DIST = REPO / "build" / "dist"
NAME, VERSION = "ytdnn_course_student", "0.1.0"
PACKAGES = ("ytdnn", "autograder/checks")
NOT_FOR_STUDENTS = {"pytest", "pytest-xdist", "dask", "distributed"}


def bundle_files() -> list[Path]:
    """Repo-relative paths of everything the student bundle holds."""
    files = [Path("autograder/__init__.py")]
    for package in PACKAGES:
        files += sorted(p.relative_to(REPO) for p in (REPO / package).rglob("*")
                        if p.suffix in {".py", ".json"} and "__pycache__" not in p.parts)
    return files


def requirements() -> list[str]:
    lines = [l.split("#")[0].strip() for l in (REPO / "requirements.txt").read_text().splitlines()]
    return [l for l in lines if l and l.split("==")[0].lower() not in NOT_FOR_STUDENTS]


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def build_wheel(dest: Path = DIST) -> Path:
    """Write the student wheel (a zip with dist-info, as PEP 427 describes) and return its path."""
    dest.mkdir(parents=True, exist_ok=True)
    wheel = dest / f"{NAME}-{VERSION}-py3-none-any.whl"
    info = f"{NAME}-{VERSION}.dist-info"
    metadata = "\n".join([
        "Metadata-Version: 2.1", f"Name: {NAME.replace('_', '-')}", f"Version: {VERSION}",
        "Summary: Student bundle of the YouTube DNN course: ytdnn and the exercise checks",
        "Requires-Python: >=3.11", *[f"Requires-Dist: {r}" for r in requirements()], ""])
    entries = {str(p): (REPO / p).read_bytes() for p in bundle_files()}
    # Installed into <prefix>/etc/jupyter/: HTML exports render maths offline (see the file).
    config = "etc/jupyter/jupyter_nbconvert_config.py"
    entries[f"{NAME}-{VERSION}.data/data/{config}"] = (REPO / config).read_bytes()
    entries[f"{info}/METADATA"] = metadata.encode()
    entries[f"{info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: autograder.bundle\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    entries[f"{info}/top_level.txt"] = b"autograder\nytdnn\n"
    record = "".join(f"{name},{_digest(data)},{len(data)}\n" for name, data in entries.items()) + f"{info}/RECORD,,\n"
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(zipfile.ZipInfo(name, date_time=(2016, 9, 15, 0, 0, 0)), data)  # reproducible bytes
        z.writestr(zipfile.ZipInfo(f"{info}/RECORD", date_time=(2016, 9, 15, 0, 0, 0)), record)
    tmp.replace(wheel)
    return wheel


def _site_packages(python: Path) -> Path:
    out = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True)
    return Path(out.stdout.strip())


def grader_env(root: Path = REPO / "build", wheel: Path | None = None) -> Path:
    """A virtual environment with the student wheel installed (the sandbox runs notebooks on it), in
    ``root/grader-env-<wheel digest>``: one per version of the bundle, never rebuilt in place, so a
    batch still running keeps its environment while the checks change. Safe when several processes ask."""
    import fcntl
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".grader-env.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two test workers must not build the same one at once
        wheel = wheel or build_wheel(root / "dist")
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        dest = root / f"grader-env-{digest[:12]}"
        if not (dest / ".complete").is_file():
            _make_env(dest, wheel)
        return dest


def _make_env(dest: Path, wheel: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)  # a half-built one from an interrupted run
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(dest)], check=True)
    python = dest / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-index", "--disable-pip-version-check", str(wheel)], check=True)
    # Third-party packages from the course venv, as plain path entries (its .pth files stay unread).
    (_site_packages(python) / "ytdnn_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (dest / ".complete").write_text(wheel.name)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=DIST, help="folder for the wheel")
    args = parser.parse_args(argv)
    wheel = build_wheel(args.dest)
    print(f"student bundle: {wheel.relative_to(REPO) if wheel.is_relative_to(REPO) else wheel} "
          f"({len(bundle_files())} files; install with: pip install {wheel.name})")


if __name__ == "__main__":
    main()
