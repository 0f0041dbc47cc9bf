"""nbgrader preprocessors that put the sandbox's results and the comparator's verdicts into nbgrader.

``nbgrader autograde`` runs them in place of its own ``Execute`` and ``SaveAutoGrades`` (see
``course/nbgrader_config.py``), so the gradebook, ``nbgrader export`` and the formgrader show the
points the comparator decided, never points derived from what the notebook printed:

* :class:`LoadSandboxResult` fills the sanitized notebook with the outputs of its sandboxed run
  (staged by ``autograder.grade``; run on the spot when nothing is staged) and caps their size;
* :class:`ComparatorGrades` writes each test cell's points from the comparator's verdict and puts the
  verdict at the top of the cell's outputs, where the feedback shows it.
"""
from __future__ import annotations

import json
from pathlib import Path

from nbformat.notebooknode import NotebookNode, from_dict
from traitlets import Unicode

from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor, SaveAutoGrades

MAX_OUTPUT_CHARS = 20_000
MAX_IMAGE_CHARS = 2_000_000


def staged_path(staging: Path, assignment: str, student: str, notebook: str) -> Path:
    return staging / assignment / student / f"{notebook}.json"


def cap_output(output: dict) -> dict:
    """One output, with text cut to ``MAX_OUTPUT_CHARS`` and oversized images dropped."""
    def cut(text):
        text = "".join(text) if isinstance(text, list) else str(text)
        return text if len(text) <= MAX_OUTPUT_CHARS else text[:MAX_OUTPUT_CHARS] + f"\n… [{len(text) - MAX_OUTPUT_CHARS} more characters cut by the grader]"
    output = dict(output)
    if "text" in output:
        output["text"] = cut(output["text"])
    if "data" in output:
        data = {}
        for mime, value in output["data"].items():
            if mime.startswith("image/"):
                if len(value) <= MAX_IMAGE_CHARS:
                    data[mime] = value
            elif isinstance(value, (str, list)):
                data[mime] = cut(value)
        output["data"] = data or {"text/plain": "[output too large: dropped by the grader]"}
    if "traceback" in output:
        output["traceback"] = [cut(line) for line in output["traceback"][-60:]]
    for key in ("ename", "evalue"):
        if key in output:
            output[key] = cut(output[key])[:2000]
    return output


class LoadSandboxResult(NbGraderPreprocessor):
    """Stands in for nbgrader's Execute: the code ran in the sandbox, here we only load its outputs."""

    staging = Unicode("", help="folder of staged sandbox results (autograder.grade writes it)").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        path = staged_path(Path(self.staging), info["assignment"], info["student"], info["notebook"])
        if not path.is_file():
            # `nbgrader autograde` run by hand: grade this notebook now (sandboxed), then load it.
            from .grade import stage_notebook_now
            stage_notebook_now(Path(self.staging), info["assignment"], info["student"], info["notebook"], nb)
        staged = json.loads(path.read_text())
        executed = (staged.get("notebook") or {}).get("cells", [])
        by_id = {c.get("id"): c for c in executed if c.get("id")}
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            ran = by_id.get(cell.get("id")) or (executed[index] if index < len(executed) else None)
            # The staged notebook is raw JSON, where a cell's source may be a list of lines.
            source = ran.get("source", "") if ran is not None else None
            source = "".join(source) if isinstance(source, list) else source
            if ran is not None and source == cell.source:
                cell.outputs = [from_dict(cap_output(o)) for o in ran.get("outputs", [])]
                cell.execution_count = ran.get("execution_count")
        resources["ytdnn"] = staged
        return nb, resources


class ComparatorGrades(SaveAutoGrades):
    """Stands in for nbgrader's SaveAutoGrades: a test cell's points come from the comparator."""

    def _add_score(self, cell: NotebookNode, resources) -> None:
        staged = resources.get("ytdnn", {})
        grade_id = cell.metadata["nbgrader"]["grade_id"]
        grade = self.gradebook.find_grade(grade_id, self.notebook_id, self.assignment_id, self.student_id)
        max_points = float(cell.metadata["nbgrader"]["points"])
        if utils.is_solution(cell):  # a manually graded answer: nbgrader's own rule
            grade.auto_score, _ = utils.determine_grade(cell, self.log)
        else:
            verdict = staged.get("verdicts", {}).get(grade_id)
            passed = bool(verdict and verdict["passed"])
            grade.auto_score = max_points if passed else 0.0
            lines = verdict["lines"] if verdict else [f"no verdict: the run ended with status {staged.get('status', 'unknown')}"]
            text = (f"Grader: {grade.auto_score:g} / {max_points:g} points for {grade_id} "
                    f"(decided outside your notebook from what it recorded)\n" + "\n".join("  " + l for l in lines) + "\n")
            cell.outputs.insert(0, from_dict({"output_type": "stream", "name": "stdout", "text": text}))
        grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        self.gradebook.db.commit()
