"""The one exception the data layer raises for bad input."""
from __future__ import annotations


class DataError(Exception):
    """A problem with input data: missing, truncated or corrupt file, wrong checksum, unknown name.

    ``str(err)`` is always a single line that names the file (or dataset) and says what is
    wrong, so a CLI can print it as is and a test can assert on it.
    """

    def __init__(self, message: str) -> None:
        # Newlines would break the "one line on stderr" contract of the CLI.
        super().__init__(" ".join(str(message).split()))
