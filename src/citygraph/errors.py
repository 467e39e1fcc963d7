"""Errors a user can meet, each with its documented exit code.

Exit codes: 0 success; 1 the data does not conform (or a check found differences); 2 unusable input
(syntax error, missing file, bad option or parameter); 3 a remote service failed (store, endpoint).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NONCONFORMANT = 1
EXIT_BAD_INPUT = 2
EXIT_REMOTE = 3


class CitygraphError(Exception):
    """Base class: a message in plain words and an exit code; never shown as a traceback."""

    exit_code = EXIT_BAD_INPUT

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(CitygraphError):
    """Unusable input: a missing file, a bad option, an unknown query or parameter."""


class ParseError(InputError):
    """An RDF or SPARQL syntax error, located by file, line and column (1-based)."""

    def __init__(self, file: str, line: int | None, column: int | None, cause: str) -> None:
        self.file = file
        self.line = line
        self.column = column
        self.cause = cause
        where = file
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: syntax error: {cause}")


class RemoteError(CitygraphError):
    """A remote store or SPARQL endpoint failed or could not be reached."""

    exit_code = EXIT_REMOTE
