"""Student-side checks: what a notebook imports to check an exercise and to record results.

This package (with ``ytdnn``) is all a class student installs (``make bundle``). It holds the
expected values of the **visible** cases only, for instant in-notebook feedback; the expected values
of the graded cases live with the instructor (``autograder/hidden/``) and are read only by the
comparator (``autograder/comparator.py``), which decides every point outside the student's process.

Naming convention, one module per assignment: assignment ``NN_name`` has its checks and cases in
``autograder.checks.name``, its visible expectations in ``autograder/checks/expected/NN_name.json``,
its reference answers in ``solutions.name`` and its hidden expectations in ``autograder/hidden/NN_name.json``.
"""
from __future__ import annotations

import importlib
from types import ModuleType


def module_name(assignment: str) -> str:
    """``"01_networks"`` -> ``"networks"``: the assignment name without its number."""
    number, _, name = assignment.partition("_")
    if not number.isdigit() or not name.isidentifier():
        raise ValueError(f"{assignment}: assignment folders are named NN_name (e.g. 01_networks)")
    return name


def module_for(assignment: str) -> ModuleType:
    """The check module of ``assignment`` (``autograder.checks.<name>``)."""
    return importlib.import_module(f"{__name__}.{module_name(assignment)}")
