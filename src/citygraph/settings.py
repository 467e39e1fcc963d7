"""Where the data, ontology and queries are read from and written to, the base IRI; read once, fail clearly.

The data a command works on is chosen in this order:

1. ``--data-dir DIR`` on the command line, then ``CITYGRAPH_DATA=DIR`` in the environment: DIR holds ``data/``
   and ``ontology/`` (and ``queries/``; the installed ones are used if it has none);
2. the checkout the current directory is in: the nearest directory, from the current one upwards, with a
   ``pyproject.toml`` naming citygraph beside ``data/`` and ``ontology/``;
3. the copy installed with the package (``citygraph/_bundled/``; in an editable install, the checkout it was
   installed from). A reinstall replaces that copy, so nothing ever writes into it.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from .errors import InputError
from .namespaces import DEFAULT_BASE

DATA_ENV = "CITYGRAPH_DATA"
_PACKAGE_DIR = Path(__file__).resolve().parent

CHECKOUT = "checkout"
DATA_DIR_OPTION = "--data-dir"
INSTALLED = "installed with the package"
INSTALLED_CHECKOUT = "the checkout citygraph is installed from"


@dataclass(frozen=True)
class DataLocation:
    """A directory holding ``data/``, ``ontology/`` and ``queries/``, and how it was chosen."""

    root: Path
    origin: str  # CHECKOUT, DATA_DIR_OPTION, DATA_ENV, INSTALLED or INSTALLED_CHECKOUT

    @property
    def writable(self) -> bool:
        """False for the installed copy: a reinstall would silently drop what was written there."""
        return self.origin != INSTALLED

    def directory(self, name: str) -> Path:
        candidate = self.root / name
        if candidate.is_dir():
            return candidate
        if name == "queries" and self.origin in (DATA_DIR_OPTION, DATA_ENV):
            return installed_location().directory(name)
        raise InputError(f"{candidate}: no such directory ({self.describe()})")

    def describe(self) -> str:
        """``/path (checkout)``: the line every command prints on stderr."""
        return f"{self.root} ({self.origin})"


def is_checkout(directory: Path) -> bool:
    """A citygraph source tree: ``pyproject.toml`` naming the project, beside ``data/`` and ``ontology/``."""
    project = directory / "pyproject.toml"
    if not ((directory / "data").is_dir() and (directory / "ontology").is_dir() and project.is_file()):
        return False
    try:
        name = tomllib.loads(project.read_text(encoding="utf-8")).get("project", {}).get("name")
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return bool(name == "citygraph")


def find_checkout(start: Path) -> Path | None:
    """The nearest checkout at or above ``start``, or None."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if is_checkout(directory):
            return directory
    return None


def installed_location() -> DataLocation:
    """The copy installed with the package (or, in an editable install, the checkout it runs from)."""
    bundled = _PACKAGE_DIR / "_bundled"
    if (bundled / "data").is_dir():
        return DataLocation(bundled, INSTALLED)
    source_root = _PACKAGE_DIR.parents[1]
    if (source_root / "data").is_dir():
        return DataLocation(source_root, INSTALLED_CHECKOUT)
    raise InputError(f"{bundled}: the installed data is missing: the installation is incomplete")


def _explicit(directory: str, origin: str) -> DataLocation:
    root = Path(directory).expanduser()
    label = f"{origin} {directory}" if origin == DATA_DIR_OPTION else f"{origin}={directory}"
    if not directory:
        raise InputError(f"{label}: expected a directory")
    if not root.is_dir():
        raise InputError(f"{label}: no such directory")
    missing = [part for part in ("data", "ontology") if not (root / part).is_dir()]
    if missing:
        hint = ""
        if root.resolve().name == "data" and (root.resolve().parent / "ontology").is_dir():
            hint = f"; give the directory above it: {root.resolve().parent}"
        raise InputError(f"{label}: no {' and no '.join(p + '/' for p in missing)} in it{hint}")
    return DataLocation(root.resolve(), origin)


def resolve_location(data_dir: str | None = None, *, cwd: Path | None = None) -> DataLocation:
    """Where the data comes from: ``data_dir``, else ``$CITYGRAPH_DATA``, else the checkout around ``cwd``,
    else the installed copy."""
    if data_dir is not None:
        return _explicit(data_dir, DATA_DIR_OPTION)
    from_env = os.environ.get(DATA_ENV)
    if from_env is not None:
        return _explicit(from_env, DATA_ENV)
    checkout = find_checkout(cwd or Path.cwd())
    if checkout is not None:
        return DataLocation(checkout, CHECKOUT)
    return installed_location()


_selected: DataLocation | None = None


def select_location(location: DataLocation | None) -> None:
    """Fix the location for the rest of the process (the command line does this once, before a command)."""
    global _selected
    _selected = location


def data_location() -> DataLocation:
    """The location selected by the command line, or the one ``resolve_location()`` finds."""
    return _selected or resolve_location()


def bundled_dir(name: str) -> Path:
    """Directory ``ontology``, ``data`` or ``queries`` of the data location (see the module's docstring)."""
    return data_location().directory(name)


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
