"""Checks shared by the commands' options: URLs and output directories, refused with exit 2 before any work."""

from __future__ import annotations

import argparse
import errno
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import InputError


def check_http_url(option: str, value: str) -> str:
    """``value`` if it is an absolute http(s) URL with a host; InputError (exit 2) naming ``option`` if not."""
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for a port that is not a number or out of range
    except ValueError as exc:
        raise InputError(f"{option} {value!r}: not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"{option} {value!r}: expected an http:// or https:// URL with a host name")
    del port
    return value


def output_dir(value: str) -> Path:
    """argparse type of ``--out DIR``: an empty name would mean the current directory, so it is refused."""
    if not value.strip():
        raise argparse.ArgumentTypeError("expected a directory name, got an empty string")
    return Path(value)


# OSError numbers that mean "this output cannot be written", reported in one line with exit 2.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EPERM, errno.EDQUOT, errno.EFBIG})


@contextmanager
def writing_to(directory: Path) -> Iterator[None]:
    """Turn a full disk or a read-only ``directory`` into one InputError line (the writers stage their files
    and rename them into place only when all are written, so what was there is left as it was)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        raise InputError(
            f"{directory}: cannot write ({exc.strerror}); nothing was replaced: the files already there are "
            "left as they were"
        ) from None


class HelpWithExamples(argparse.HelpFormatter):
    """Wraps a one-paragraph description as argparse does, but keeps a multi-line text (the epilog's
    examples and exit codes) exactly as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text.strip("\n"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)
