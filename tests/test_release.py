"""The committed student release is exactly what `make release` produces, gives nothing away, and no
command overwrites a notebook a student has worked in."""
import ast
import json
import zipfile

import nbformat
import pytest

from autograder import bundle, release, workspace
from autograder.course import assignments
from solutions import networks
from course_helpers import COURSE, REPO, scratch_course, solution_lines


def visible_files(folder):
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))


@pytest.fixture(scope="module")
def fresh_release(tmp_path_factory):
    course = scratch_course(tmp_path_factory.mktemp("release") / "course")
    out = tmp_path_factory.mktemp("fresh")
    for assignment in assignments(course):
        release.generate(course, assignment, out)
    return out


@pytest.mark.parametrize("assignment", assignments())
def test_committed_release_equals_a_fresh_release(assignment, fresh_release):
    # Editor droppings (.ipynb_checkpoints after JupyterLab opened a notebook) do not count.
    fresh, committed = fresh_release / assignment, COURSE / "release" / assignment
    assert visible_files(committed) == visible_files(fresh), "run 'make release' and commit course/release"
    for name in visible_files(fresh):
        assert json.loads((committed / name).read_text()) == json.loads((fresh / name).read_text()), \
            f"{name} is stale: run 'make release'"


@pytest.mark.parametrize("assignment", assignments())
def test_release_holds_no_solution_and_no_hidden_test(assignment):
    answers = solution_lines(networks)
    assert len(answers) > 10  # the audit really looks for the reference's lines
    assert release.audit(COURSE / "release" / assignment, answers) == []


def test_audit_catches_a_leak(tmp_path):
    nb = {"cells": [{"cell_type": "code", "source": "### BEGIN HIDDEN TESTS\nx\n", "outputs": [], "metadata": {},
                     "execution_count": 3}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (tmp_path / "a.ipynb").write_text(json.dumps(nb))
    problems = release.audit(tmp_path, ["x"])
    assert any("BEGIN HIDDEN TESTS" in p for p in problems)
    assert any("outputs or an execution count" in p for p in problems)


def test_release_code_cells_still_parse_as_python():
    from IPython.core.inputtransformer2 import TransformerManager
    ipython = TransformerManager()  # turns %magics into Python, as the kernel does
    for path in (COURSE / "release").rglob("*.ipynb"):
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] == "code":
                ast.parse(ipython.transform_cell("".join(cell["source"])))


# --- a student's work is never overwritten ---------------------------------------------------------

def work_in(path):
    nb = nbformat.read(str(path), as_version=4)
    answer = next(c for c in nb.cells if c.get("metadata", {}).get("nbgrader", {}).get("solution"))
    answer.source += "\n# my own work, line 1"
    nbformat.write(nb, str(path))


def test_the_student_command_never_overwrites_an_edited_notebook(tmp_path):
    first = workspace.sync_workspace(tmp_path / "workspace")
    assert first["copied"] and not first["kept"]
    mine = tmp_path / "workspace" / "01_networks" / "01_networks.ipynb"
    work_in(mine)
    edited = mine.read_bytes()
    second = workspace.sync_workspace(tmp_path / "workspace")
    assert second["copied"] == [] and mine in second["newer"]
    assert mine.read_bytes() == edited


def test_release_leaves_a_student_workspace_untouched(tmp_path):
    course = scratch_course(tmp_path / "course")
    release.release(course, "01_networks")
    workspace.sync_workspace(tmp_path / "workspace", course / "release")
    mine = tmp_path / "workspace" / "01_networks" / "01_networks.ipynb"
    work_in(mine)
    before = {p: p.read_bytes() for p in (tmp_path / "workspace").rglob("*") if p.is_file()}
    release.release(course, "01_networks")
    workspace.sync_workspace(tmp_path / "workspace", course / "release")
    assert {p: p.read_bytes() for p in (tmp_path / "workspace").rglob("*") if p.is_file()} == before


def test_release_refuses_to_overwrite_an_edited_release_notebook(tmp_path):
    course = scratch_course(tmp_path / "course")
    release.release(course, "01_networks")
    notebook = course / "release" / "01_networks" / "01_networks.ipynb"
    (notebook.parent / ".ipynb_checkpoints").mkdir()  # JupyterLab was here
    pristine = notebook.read_bytes()
    release.release(course, "01_networks")  # an untouched release is regenerated
    assert notebook.read_bytes() == pristine and (notebook.parent / ".ipynb_checkpoints").is_dir()
    work_in(notebook)
    edited = notebook.read_bytes()
    with pytest.raises(release.EditedNotebook, match="01_networks.ipynb: cell .* was edited; refusing to overwrite"):
        release.release(course, "01_networks")
    assert notebook.read_bytes() == edited


# --- the student bundle ----------------------------------------------------------------------------

def test_bundle_holds_the_student_side_only(tmp_path):
    wheel = bundle.build_wheel(tmp_path)
    names = zipfile.ZipFile(wheel).namelist()
    assert "ytdnn/examples.py" in names and "autograder/checks/networks.py" in names
    assert "autograder/checks/expected/01_networks.json" in names
    assert not [n for n in names if n.startswith(("solutions", "autograder/hidden", "tests"))]
    assert not [n for n in names if n.startswith("autograder/") and not n.startswith("autograder/checks/")
                and n != "autograder/__init__.py"], "instructor tooling in the student bundle"


def hidden_arrays(assignment) -> dict[str, set[str]]:
    """The distinctive numbers of every hidden expected array, as the text a file would hold them in."""
    data = json.loads((REPO / "autograder" / "hidden" / f"{assignment}.json").read_text())
    out = {}
    for case_id, case in data["cases"].items():
        for name, array in case["arrays"].items():
            # Distinctive: more than four decimals (0.5, 0.0625 or a float32 0.6 also stand in code and
            # in visible cases for other reasons).
            values = {repr(v) for v in array["values"] if isinstance(v, float) and abs(v - round(v, 4)) > 1e-6}
            if len(values) >= 3:
                out[f"{case_id}.{name}"] = values
    return out


@pytest.mark.parametrize("assignment", sorted(p.stem for p in (REPO / "autograder" / "hidden").glob("*.json")))
def test_no_hidden_expected_value_is_in_anything_a_student_receives(assignment, tmp_path):
    secrets = hidden_arrays(assignment)
    assert secrets, "no distinctive hidden values to look for"
    wheel = zipfile.ZipFile(bundle.build_wheel(tmp_path))
    received = {name: wheel.read(name).decode() for name in wheel.namelist()}
    received |= {str(p): p.read_text() for p in (COURSE / "release").rglob("*.ipynb")}
    for name, text in received.items():
        for array, values in secrets.items():
            found = [v for v in values if v in text]
            # One number may coincide (sqrt(0.75) is sqrt(0.75) everywhere); an array's worth may not.
            assert len(found) < max(2, len(values) // 2), f"{name} holds the hidden values of {array}, e.g. {found[:3]}"
