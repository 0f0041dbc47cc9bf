"""``python -m autograder.nbgrader_run ARGS`` runs ``nbgrader ARGS`` in this process, minus two costs
nbgrader's stack pays per notebook for nothing (the grader runs nbgrader several times per batch):

* jsonschema (under nbformat) imports ``rfc3987_syntax`` when it is installed, and that module
  builds a parser grammar at import: 2 s of CPU per process, for an IRI format check that no
  notebook schema uses. Marked absent before jsonschema is imported, jsonschema skips that check;
* nbgrader checks every cell's metadata with ``jsonschema.validate``, which first validates the
  schema itself against the JSON-schema meta-schema: most of ``CheckCellMetadata``'s time. Here
  the schema is checked once and its validator reused; every cell is still validated, and an
  invalid cell raises the same ``ValidationError`` (the best match, as ``jsonschema.validate`` does).
"""
from __future__ import annotations

import json
import runpy
import sys
from types import SimpleNamespace

sys.modules.setdefault("rfc3987_syntax", None)

import jsonschema  # noqa: E402

_validators: dict[str, jsonschema.protocols.Validator] = {}


def validate(instance, schema) -> None:
    """``jsonschema.validate(instance, schema)`` with the schema checked once per distinct schema."""
    key = json.dumps(schema, sort_keys=True)
    validator = _validators.get(key)
    if validator is None:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = _validators[key] = cls(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(instance))
    if error is not None:
        raise error


def main(argv: list[str]) -> None:
    from nbgrader.nbgraderformat import common
    common.jsonschema = SimpleNamespace(validate=validate)
    sys.argv = ["nbgrader", *argv]
    runpy.run_module("nbgrader", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
