"""Reference answers for every exercise of the course: instructors only, never shipped to students.

The autograder never imports this package at grading time; ``python -m solutions.expected``
freezes the expectations it needs into ``autograder/expected/``.
"""
import os

if os.environ.get("YTDNN_GRADING") == "1":
    # Autograding sets this, so a submission cannot borrow the reference answers.
    raise ImportError("the 'solutions' package is not available while grading submissions")

from .networks import DeepCandidateGenerationModel, DeepRankingModel

__all__ = ["DeepCandidateGenerationModel", "DeepRankingModel"]
