"""nbgrader's OverwriteCells with a working ``add_missing_cells``.

nbgrader 0.9.6 puts a deleted test cell back "after the previous cell of the source", but looks
that cell up among the submission's grade and solution cells only: when the previous cell is a
locked markdown cell (as in our notebooks) autograding crashes with a KeyError. Here the restored
cell goes after the nearest earlier source cell the submission still has, whatever its kind.
"""
from __future__ import annotations

from nbgrader.preprocessors import OverwriteCells


class RestoringOverwriteCells(OverwriteCells):

    def add_missing_grade_cells(self, nb, resources):
        source_nb = self.gradebook.find_notebook(self.notebook_id, self.assignment_id)
        source_cells = source_nb.source_cells
        order = [cell.name for cell in source_cells]
        grade_cells = {cell.name: cell for cell in source_nb.grade_cells}
        solution_ids = {cell.name for cell in source_nb.solution_cells}

        def present() -> list:
            return [cell.metadata.get("nbgrader", {}).get("grade_id") for cell in nb.cells]

        for position, name in enumerate(order):
            if name not in grade_cells or name in present():
                continue
            self.log.warning(f"Missing grade cell {name} encountered, adding to notebook")
            cell = self.missing_cell_transform(source_cells[position], grade_cells[name].max_score,
                                               is_solution=name in solution_ids)
            ids = present()
            anchor = next((ids.index(prev) for prev in reversed(order[:position]) if prev in ids), -1)
            nb.cells.insert(anchor + 1, cell)
        return nb, resources
