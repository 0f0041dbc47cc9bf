"""nbgrader configuration of the course, chosen to avoid nbgrader's known traps."""
from pathlib import Path

c = get_config()  # noqa: F821 (injected by nbgrader)

here = Path(__file__).resolve().parent
c.CourseDirectory.root = str(here)
c.CourseDirectory.course_id = "ytdnn"
c.CourseDirectory.db_url = f"sqlite:///{here / 'gradebook.db'}"

# A local exchange in the course (git-ignored; `python -m autograder.exchange setup` creates it with
# the 0o777 nbgrader expects) instead of /srv/nbgrader/exchange, which needs root to create.
c.Exchange.root = str(here / "exchange")

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

# Points come from outside the student's process: autograder.grade executes each submission in a
# bubblewrap sandbox and the comparator judges what its test cells recorded; nbgrader only loads
# those results (instead of executing) and saves the comparator's points (instead of reading outputs).
c.LoadSandboxResult.staging = str(here / "grading")
c.Autograde.autograde_preprocessors = [
    "autograder.plugins.LoadSandboxResult",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "autograder.plugins.ComparatorGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
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
