"""Feedback that tells a student what failed without showing the hidden tests' source."""
from __future__ import annotations

from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test regions from the instructor's test cells and shorten their errors.

    nbgrader's feedback otherwise prints the autograded notebook as is, hidden tests included, and
    an IPython traceback quotes the failing source line. Only the instructor's test cells (restored
    from the gradebook) are touched: a student's own cell that happens to contain the words
    "BEGIN HIDDEN TESTS" is the student's text, and must not break the feedback of the batch.
    The comparator's verdict, first in each test cell's outputs, says what was graded and why.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if not (utils.is_grade(cell) and utils.is_locked(cell)):
            return cell, resources
        if cell.cell_type == "code" and self.begin_test_delimeter in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return super().preprocess_cell(cell, resources, cell_index)
