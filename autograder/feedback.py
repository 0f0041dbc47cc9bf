"""Feedback that tells a student what failed without showing the hidden tests' source."""
from __future__ import annotations

from nbgrader.preprocessors import ClearHiddenTests


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test regions from the feedback and shorten their errors to one message.

    nbgrader's feedback otherwise prints the autograded notebook as is, hidden tests included, and
    an IPython traceback quotes the failing source line. The error's name and message stay: our
    checks put everything a student needs in the message.
    """

    def preprocess_cell(self, cell, resources, cell_index):
        if cell.cell_type == "code" and self.begin_test_delimeter in cell.source:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
        return super().preprocess_cell(cell, resources, cell_index)
