"""Where the bundled files live, the base IRI and the server limits; read once, fail clearly."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from .errors import InputError
from .namespaces import DEFAULT_BASE

_PACKAGE_DIR = Path(__file__).resolve().parent


@cache
def bundled_dir(name: str) -> Path:
    """Directory of bundled files (``ontology``, ``data`` or ``queries``).

    Inside an installed wheel they live in ``citygraph/_bundled/``; in a source checkout (editable install),
    at the repository's root.
    """
    for candidate in (_PACKAGE_DIR / "_bundled" / name, _PACKAGE_DIR.parents[1] / name):
        if candidate.is_dir():
            return candidate
    raise InputError(f"bundled directory {name!r} not found: the installation is incomplete")


def ontology_files() -> list[Path]:
    """The ontology (classes and properties) and nothing else; shapes are separate."""
    return [bundled_dir("ontology") / "citygraph.ttl"]


def shapes_file() -> Path:
    return bundled_dir("ontology") / "shapes.ttl"


def context_file() -> Path:
    return bundled_dir("ontology") / "context.jsonld"


def data_files() -> list[Path]:
    return sorted(bundled_dir("data").glob("*.ttl"))


def queries_dir() -> Path:
    return bundled_dir("queries")


def base_iri(override: str | None = None) -> str:
    """The base under which every resource IRI is minted (``CITYGRAPH_BASE`` or the default)."""
    base = override or os.environ.get("CITYGRAPH_BASE") or DEFAULT_BASE
    if not base.startswith(("http://", "https://")):
        raise InputError(f"base IRI {base!r} must start with http:// or https://")
    return base if base.endswith("/") else base + "/"
