"""Reference answers for every exercise of the course: instructors and self-study learners only.

One module per assignment (``solutions.<name>`` for ``course/source/NN_name``). Nothing a class
student installs contains this package; ``python -m solutions.expected`` freezes what the checks and
the comparator need from it.
"""
from .networks import DeepCandidateGenerationModel, DeepRankingModel

__all__ = ["DeepCandidateGenerationModel", "DeepRankingModel"]
