"""The environment and the commands README promises exist and agree with each other."""
import re

from course_helpers import REPO


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.txt: '{line}' is not pinned with =="
            out[name.lower()] = version
    return out


def test_requirements_pin_the_cpu_torch_and_the_course_tools():
    p = pins()
    assert p["torch"] == "2.13.0"  # any other spec pulls a multi-GB CUDA build
    assert p["nbgrader"] == "0.9.6"
    assert p["jupyterlab"].startswith("4.")
    for name in ["livelossplot", "pandas", "matplotlib", "numpy", "faiss-cpu", "tqdm", "pytest"]:
        assert name in p, f"{name} is not pinned"


def test_environment_yml_uses_the_same_pins():
    text = (REPO / "environment.yml").read_text()
    assert "python=3.11" in text and "-r requirements.txt" in text and "-e ." in text


def test_make_targets_exist_and_create_the_venv():
    makefile = (REPO / "Makefile").read_text()
    for target in ["demo", "test", "lab", "release", "autograde", "expected", "sync"]:
        assert re.search(rf"^{target}:", makefile, re.M), f"make {target} is missing"
    assert "-m venv $(VENV)" in makefile and "-r requirements.txt" in makefile


def test_ci_runs_the_readme_test_command():
    readme = (REPO / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)
