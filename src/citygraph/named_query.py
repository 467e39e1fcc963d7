"""Named queries: the ``.rq`` header, declared parameters and their typed values, discovery by name.

A named query is a ``queries/NAME.rq`` file whose leading comment block is its header::

    # title: Authorities under a population threshold
    # description: Authorities with strictly fewer than ?max inhabitants …
    #   (a line starting with "#" and two spaces continues the previous field)
    # param: max integer 250000 Population threshold (strictly fewer than)
    # param: basis enum:authority|seat authority Whose population

Pages for people also read French and English wording from the header::

    # title@fr: Collectivités sous un seuil de population
    # description@fr: Les collectivités de moins de ?max habitants …
    # column label_en: English name | Nom anglais
    # param: max integer 250000 Population threshold | Seuil de population

``column VAR: English | Français`` labels a result column; a parameter's description may give its French
wording after `` | ``.

``param: NAME TYPE DEFAULT DESCRIPTION`` declares a parameter; DEFAULT ``-`` makes it required. TYPE is one
of ``integer``, ``decimal``, ``string``, ``boolean``, ``date``, ``iri``, ``id:PATH/`` (a slug under the
data's IRI base: ``id:theme/`` turns ``smart-grid`` into ``<BASE/id/theme/smart-grid>``) or ``enum:a|b|c``
(a string among those). Running them: :mod:`citygraph.query`.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import settings
from .errors import InputError
from .namespaces import XSD

if TYPE_CHECKING:
    import pyoxigraph

    from .sparql_json import Term

PARAM_VALUE = Any  # what callers may pass: a str from the command line, or an int/bool/date from Python

_HEADER_LINE = re.compile(r"^#\s?(?P<key>[a-z][a-z_-]*(?:@fr| [A-Za-z_][A-Za-z0-9_]*)?):\s*(?P<value>.*)$")
_CONTINUATION = re.compile(r"^#\s{2,}(?P<value>\S.*)$")
_HEADER_KEYS = ("title", "title@fr", "description", "description@fr", "param", "column")
_PLAIN_TYPES = ("integer", "decimal", "string", "boolean", "date", "iri")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._~-]*$")
_IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:[^<>\"{}|^`\\\x00-\x20]*$")
_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_INTEGER_RANGE = re.compile(r"^integer:(?P<low>-?[0-9]+)\.\.(?P<high>-?[0-9]+)$")
_DECIMAL = re.compile(r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)$")


def id_base(base: str | None = None) -> str:
    """Where the data's resources live (``BASE/id/``): relative IRIs and ``id:`` parameters resolve here."""
    return settings.base_iri(base) + "id/"


# ---------------------------------------------------------------- parameters and named queries


@dataclass(frozen=True)
class Parameter:
    """One declared parameter: ``param: NAME TYPE DEFAULT DESCRIPTION`` in a query's header."""

    name: str
    datatype: str  # integer | integer:MIN..MAX | decimal | string | boolean | date | iri | id:PATH/ | enum:a|b
    default: str | None  # None: required
    description: str
    description_fr: str = ""  # the French wording, after " | " in the header (empty: none given)

    @property
    def required(self) -> bool:
        return self.default is None

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The allowed values of an ``enum:`` parameter (None for other types)."""
        return tuple(self.datatype[5:].split("|")) if self.datatype.startswith("enum:") else None

    @property
    def bounds(self) -> tuple[int, int] | None:
        """The inclusive range of an ``integer:MIN..MAX`` parameter (None for other types)."""
        match = _INTEGER_RANGE.match(self.datatype)
        return (int(match["low"]), int(match["high"])) if match else None

    def term(
        self, value: PARAM_VALUE, *, base: str | None = None
    ) -> pyoxigraph.NamedNode | pyoxigraph.Literal:
        """The RDF term for ``value``, typed by the declared datatype; InputError if it does not fit."""
        import pyoxigraph

        text = _as_text(value)
        kind = self.datatype

        def bad(expected: str) -> InputError:
            return InputError(f"parameter {self.name}={text!r}: {expected}")

        if kind == "integer" or self.bounds:
            if not _INTEGER.match(text):
                raise bad("not an integer")
            whole = int(text)
            if self.bounds and not self.bounds[0] <= whole <= self.bounds[1]:
                raise bad(f"expected an integer from {self.bounds[0]} to {self.bounds[1]}")
            return pyoxigraph.Literal(str(whole), datatype=pyoxigraph.NamedNode(XSD + "integer"))
        if kind == "decimal":
            if not _DECIMAL.match(text):
                raise bad("not a decimal number")
            try:
                number = Decimal(text)
            except InvalidOperation:
                raise bad("not a decimal number") from None
            return pyoxigraph.Literal(format(number, "f"), datatype=pyoxigraph.NamedNode(XSD + "decimal"))
        if kind == "boolean":
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0"):
                raise bad("not a boolean (true or false)")
            flag = "true" if lowered in ("true", "1") else "false"
            return pyoxigraph.Literal(flag, datatype=pyoxigraph.NamedNode(XSD + "boolean"))
        if kind == "date":
            try:
                day = datetime.date.fromisoformat(text)
            except ValueError:
                raise bad("not a date (YYYY-MM-DD)") from None
            return pyoxigraph.Literal(day.isoformat(), datatype=pyoxigraph.NamedNode(XSD + "date"))
        if kind == "iri":
            if not _IRI.match(text):
                raise bad("not an absolute IRI")
            return pyoxigraph.NamedNode(text)
        if kind.startswith("id:"):
            if not _SLUG.match(text):
                raise bad("not a slug (letters, digits, '-', '_', '.', '~'; no '/')")
            return pyoxigraph.NamedNode(id_base(base) + kind[3:] + text)
        choices = self.choices
        if choices is not None and text not in choices:
            raise bad(f"expected one of {', '.join(choices)}")
        return pyoxigraph.Literal(text)


@dataclass(frozen=True)
class NamedQuery:
    """A SPARQL query with a title, a description and declared parameters (read from its ``.rq`` header)."""

    name: str
    title: str
    description: str
    parameters: tuple[Parameter, ...]
    text: str
    path: Path
    title_fr: str = ""
    description_fr: str = ""
    columns: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # variable → (English, French)

    def wording(self, lang: str) -> tuple[str, str]:
        """Title and description in ``lang`` (``fr`` or ``en``), English where no French is given."""
        if lang == "fr":
            return self.title_fr or self.title, self.description_fr or self.description
        return self.title, self.description

    def column_label(self, variable: str, lang: str) -> str:
        """A result column's label in ``lang`` (the variable's name where the header gives none)."""
        english, french = self.columns.get(variable, (variable, variable))
        return french if lang == "fr" else english

    def parameter(self, name: str) -> Parameter:
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise InputError(f"query {self.name!r} has no parameter {name!r} (its parameters: {known})")

    def bind(
        self, params: Mapping[str, PARAM_VALUE] | None = None, *, base: str | None = None
    ) -> dict[str, Term]:
        """Each declared parameter's term: the given value, else the default.

        InputError for an unknown parameter, a missing required one or a value that does not fit its type.
        """
        given = dict(params or {})
        for name in given:
            self.parameter(name)  # raises for an unknown parameter
        bound: dict[str, Term] = {}
        for parameter in self.parameters:
            if parameter.name in given:
                bound[parameter.name] = parameter.term(given[parameter.name], base=base)
            elif parameter.default is not None:
                bound[parameter.name] = parameter.term(parameter.default, base=base)
            else:
                raise InputError(
                    f"query {self.name!r} needs --param {parameter.name}=VALUE ({parameter.description})"
                )
        return bound

    def sparql(self, base: str | None = None) -> str:
        """The text to send to an engine: a ``BASE`` declaration (so relative IRIs resolve) and the query.

        The declaration goes on the query's first line, so line numbers in engine errors stay the file's.
        """
        return f"BASE <{id_base(base)}> {self.text}"


@dataclass(frozen=True)
class Header:
    """What a query's leading comment block says (see the module docstring)."""

    title: str
    description: str
    parameters: tuple[Parameter, ...]
    title_fr: str = ""
    description_fr: str = ""
    columns: Mapping[str, tuple[str, str]] = field(default_factory=dict)


def parse_header(text: str, path: Path) -> Header:
    """Titles, descriptions, column labels and parameters from the leading comment block.

    InputError (file:line) if a field is given twice or a line is malformed.
    """
    fields: dict[str, list[str]] = {"title": [], "title@fr": [], "description": [], "description@fr": []}
    params: list[tuple[int, list[str]]] = []
    columns: list[tuple[int, str, list[str]]] = []
    current: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            current = None
            continue
        if not line.startswith("#"):
            break
        continuation = _CONTINUATION.match(line)
        match = _HEADER_LINE.match(line)
        key = match["key"] if match else ""
        head, _, variable = key.partition(" ")
        if match and (key in _HEADER_KEYS or (head == "column" and variable)):
            value = match["value"].strip()
            if key == "param":
                current = [value]
                params.append((number, current))
            elif head == "column":
                current = [value]
                columns.append((number, variable, current))
            else:
                if fields[key]:
                    raise InputError(f"{path}:{number}: {key!r} given twice in the header")
                current = [value]
                fields[key] = current
        elif continuation and current is not None:
            current.append(continuation["value"].strip())
        else:
            current = None  # a free comment
    parameters: list[Parameter] = []
    for number, parts in params:
        parameter = _parse_param(" ".join(parts), path, number)
        if any(p.name == parameter.name for p in parameters):
            raise InputError(f"{path}:{number}: parameter {parameter.name!r} declared twice")
        parameters.append(parameter)
    labels: dict[str, tuple[str, str]] = {}
    for number, variable, parts in columns:
        english, bar, french = " ".join(parts).partition(" | ")
        if not bar or not english.strip() or not french.strip():
            raise InputError(f"{path}:{number}: bad 'column {variable}:' line: expected 'English | Français'")
        if variable in labels:
            raise InputError(f"{path}:{number}: column {variable!r} labelled twice")
        labels[variable] = (english.strip(), french.strip())
    return Header(" ".join(fields["title"]) or path.stem, " ".join(fields["description"]), tuple(parameters),
                  " ".join(fields["title@fr"]), " ".join(fields["description@fr"]), labels)


def _parse_param(spec: str, path: Path, line: int) -> Parameter:
    pieces = spec.split(None, 3)
    if len(pieces) < 3:
        raise InputError(
            f"{path}:{line}: bad 'param:' line: expected 'NAME TYPE DEFAULT DESCRIPTION', got {spec!r}"
        )
    name, datatype, default = pieces[:3]
    description, _, description_fr = (pieces[3] if len(pieces) == 4 else "").partition(" | ")
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
        raise InputError(f"{path}:{line}: bad parameter name {name!r} (a SPARQL variable name without '?')")
    valid_type = (
        datatype in _PLAIN_TYPES
        or bool(_INTEGER_RANGE.match(datatype))
        or (datatype.startswith("id:") and datatype.endswith("/") and len(datatype) > 4)
        or (datatype.startswith("enum:") and all(datatype[5:].split("|")))
    )
    if not valid_type:
        raise InputError(
            f"{path}:{line}: unknown parameter type {datatype!r} "
            f"(expected {', '.join(_PLAIN_TYPES)}, integer:MIN..MAX, id:PATH/ or enum:a|b)"
        )
    parameter = Parameter(name, datatype, None if default == "-" else default, description.strip(),
                          description_fr.strip())
    if parameter.default is not None:
        try:
            parameter.term(parameter.default)
        except InputError as exc:
            raise InputError(f"{path}:{line}: bad default: {exc}") from None
    return parameter


def read_query(path: Path, name: str | None = None) -> NamedQuery:
    """Read one ``.rq`` file (its header is optional: the title defaults to the file's stem)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason})") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    header = parse_header(text, path)
    return NamedQuery(name or path.stem, header.title, header.description, header.parameters, text, path,
                      header.title_fr, header.description_fr, header.columns)


def list_queries(directory: Path | None = None) -> list[NamedQuery]:
    """The named queries (``*.rq`` in the bundled queries folder, or ``directory``), sorted by name."""
    folder = directory or settings.queries_dir()
    return [read_query(path) for path in sorted(folder.glob("*.rq"))]


def get_query(name_or_path: str | Path) -> NamedQuery:
    """A named query by name, or any ``.rq`` file by path; InputError if there is none."""
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or text.endswith(".rq") or "/" in text or "\\" in text:
        return read_query(Path(text))
    path = settings.queries_dir() / f"{text}.rq"
    try:
        found = path.is_file()
    except OSError:  # e.g. a name too long for a file name: no such query either
        found = False
    if not found:
        known = ", ".join(q.name for q in list_queries())
        raise InputError(f"unknown query {text!r} (named queries: {known}; or give a path to a .rq file)")
    return read_query(path)


def parse_param_assignments(assignments: Iterable[str]) -> dict[str, str]:
    """``["max=250000", "basis=seat"]`` → a dict; InputError for an item without ``=`` or given twice."""
    params: dict[str, str] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or not name:
            raise InputError(f"--param {item!r}: expected NAME=VALUE")
        if name in params:
            raise InputError(f"--param {name} given twice")
        params[name] = value
    return params


def _as_text(value: PARAM_VALUE) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, (str, int, Decimal)):
        return str(value)
    raise InputError(f"parameter value {value!r}: expected a string, number, boolean or date")

