"""nbgrader configuration of the course, chosen to avoid nbgrader's known traps."""
import os
from pathlib import Path

c = get_config()  # noqa: F821 (injected by nbgrader)

here = Path(__file__).resolve().parent
c.CourseDirectory.root = str(here)
c.CourseDirectory.course_id = "ytdnn"
c.CourseDirectory.db_url = f"sqlite:///{here / 'gradebook.db'}"

# Per-cell limit while autograding. It must be Execute.timeout: ExecutePreprocessor.timeout has
# no effect on nbgrader's own Execute preprocessor. YTDNN_CELL_TIMEOUT lets tests shorten it.
c.Execute.timeout = int(os.environ.get("YTDNN_CELL_TIMEOUT", "120"))
c.Execute.interrupt_on_timeout = True
# nbclient waits only 4 s for a cell's output after its reply; on a loaded machine a correct
# submission then fails with "Timeout waiting for IOPub output".
c.Execute.iopub_timeout = 60

# A deleted test cell comes back from the gradebook and is run, instead of silently scoring 0.
c.OverwriteCells.add_missing_cells = True

# A submission that prints without end cannot flood the gradebook or the feedback.
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60

# Feedback shows each test's score and message but never the hidden tests' source.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "autograder.feedback.HideHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]

# nbgrader's own add_missing_cells crashes when a deleted test cell follows a locked markdown
# cell; this subclass restores it after the nearest earlier cell (see autograder/overwrite.py).
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "autograder.overwrite.RestoringOverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]
