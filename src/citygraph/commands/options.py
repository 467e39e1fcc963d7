"""Checks shared by the commands' options: URLs and output directories, refused with exit 2 before any work."""

from __future__ import annotations

import argparse
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
