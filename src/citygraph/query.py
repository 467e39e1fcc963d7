"""Named SPARQL queries: discovery, header parsing, bound parameters, execution (local or remote), results.

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
(a string among those).

Values are never pasted into the query text. Locally they are pyoxigraph ``substitutions`` (which requires
each parameter to be a projected variable, so every row says which value it was computed with); against a
remote endpoint they go into a ``VALUES`` block inserted as the first element of the outermost WHERE group,
each term written by pyoxigraph's serializer. Both mean the same: the parameter is bound before the rest of
the group is evaluated, so a query uses its parameters in that group (its filters, BINDs, EXISTS and
OPTIONAL conditions), not inside a sub-query. Relative IRIs in a query resolve against ``BASE/id/``.

Queries run with the data named graph as their default graph, so ``.rq`` files have no GRAPH clauses.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from . import settings, sparql_lexer
from .errors import InputError, ParseError, RemoteError
from .namespaces import PREFIXES, XSD, data_graph_iri
from .sparql_json import term_from_json, term_to_json

if TYPE_CHECKING:
    import pyoxigraph

    from .load import LoadedGraph

    Term: TypeAlias = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | pyoxigraph.Triple

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


# ---------------------------------------------------------------- results


@dataclass
class QueryResult:
    """Rows of a SELECT (variables in order, a tuple of terms per row, None if unbound), or an ASK answer."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]] = field(default_factory=list)
    boolean: bool | None = None  # the answer of an ASK query (then variables and rows are empty)
    base: str | None = None  # the data's IRI base, used to shorten IRIs in to_table()
    truncated: bool = False  # a server's row cap cut the rows (never set for local queries)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, variable: str) -> list[Term | None]:
        """Every row's value of one variable; InputError if the query has no such variable."""
        try:
            index = self.variables.index(variable)
        except ValueError:
            raise InputError(
                f"the result has no variable ?{variable} (it has {', '.join(self.variables)})"
            ) from None
        return [row[index] for row in self.rows]

    def values(self, variable: str) -> list[str | None]:
        """Every row's value of one variable as a plain string (IRI, or a literal's lexical form)."""
        return [None if term is None else _plain(term) for term in self.column(variable)]

    def dicts(self) -> list[dict[str, Term]]:
        """One dict per row (unbound variables absent)."""
        return [
            {v: t for v, t in zip(self.variables, row, strict=True) if t is not None} for row in self.rows
        ]

    def to_table(self) -> str:
        """Aligned text for people: IRIs shortened (prefixes, ``<…>`` under ``BASE/id/``), literals bare."""
        if self.boolean is not None:
            return "true\n" if self.boolean else "false\n"
        cells = [[self._display(term) for term in row] for row in self.rows]
        widths = [len(v) for v in self.variables]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        lines = ["  ".join(v.ljust(w) for v, w in zip(self.variables, widths, strict=True)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
        )
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """SPARQL 1.1 Query Results CSV: plain values, CRLF line ends."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if self.boolean is not None:
            writer.writerow(["boolean"])
            writer.writerow(["true" if self.boolean else "false"])
            return out.getvalue()
        writer.writerow(self.variables)
        for row in self.rows:
            writer.writerow(["" if term is None else _plain(term) for term in row])
        return out.getvalue()

    def to_tsv(self) -> str:
        """SPARQL 1.1 Query Results TSV: ``?var`` header, terms in SPARQL syntax (N-Triples form)."""
        if self.boolean is not None:
            return "?boolean\n" + ("true" if self.boolean else "false") + "\n"
        lines = ["\t".join("?" + v for v in self.variables)]
        lines.extend("\t".join("" if term is None else str(term) for term in row) for row in self.rows)
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """SPARQL 1.1 Query Results JSON."""
        if self.boolean is not None:
            return json.dumps({"head": {}, "boolean": self.boolean}, ensure_ascii=False)
        bindings = [
            {v: term_to_json(t) for v, t in zip(self.variables, row, strict=True) if t is not None}
            for row in self.rows
        ]
        return json.dumps(
            {"head": {"vars": self.variables}, "results": {"bindings": bindings}}, ensure_ascii=False
        )

    def _display(self, term: Term | None) -> str:
        import pyoxigraph

        if term is None:
            return ""
        if isinstance(term, pyoxigraph.NamedNode):
            iri = term.value
            if self.base and iri.startswith(id_base(self.base)):
                return f"<{iri[len(id_base(self.base)) :]}>"
            for prefix, namespace in PREFIXES.items():
                if iri.startswith(namespace) and re.match(r"^[A-Za-z0-9_-]*$", iri[len(namespace) :]):
                    return f"{prefix}:{iri[len(namespace) :]}"
            return f"<{iri}>"
        if isinstance(term, pyoxigraph.Literal):
            return term.value.replace("\n", " ")
        return str(term)


def _plain(term: Term) -> str:
    import pyoxigraph

    if isinstance(term, (pyoxigraph.NamedNode, pyoxigraph.Literal)):
        return term.value
    return str(term)  # blank node (_:id) or quoted triple


# ---------------------------------------------------------------- local execution


def run_named_query(
    graph: LoadedGraph, query: str | Path | NamedQuery, params: Mapping[str, PARAM_VALUE] | None = None
) -> QueryResult:
    """Run a named query (or a ``.rq`` path) on the data graph of ``graph``, with its parameters bound."""
    import pyoxigraph

    named = query if isinstance(query, NamedQuery) else get_query(query)
    bindings = named.bind(params, base=graph.base)
    substitutions = {pyoxigraph.Variable(name): term for name, term in bindings.items()}
    text = named.sparql(graph.base)
    try:
        answer = graph.store.query(
            text,
            default_graph=pyoxigraph.NamedNode(graph.data_graph),
            substitutions=substitutions or None,
        )
    except SyntaxError as exc:
        raise _syntax_error(named, str(exc), prologue=text[: len(text) - len(named.text)]) from None
    except RuntimeError as exc:
        if "does not contain" in str(exc) and bindings:
            raise InputError(
                f"{named.path}: every parameter ({', '.join('?' + n for n in bindings)}) must be a "
                f"variable of the SELECT clause ({exc})"
            ) from None
        raise
    return _result_from_oxigraph(answer, base=graph.base, source=named)


def _result_from_oxigraph(answer: Any, *, base: str, source: NamedQuery) -> QueryResult:
    import pyoxigraph

    if isinstance(answer, pyoxigraph.QueryBoolean):
        return QueryResult([], [], boolean=bool(answer), base=base)
    if isinstance(answer, pyoxigraph.QuerySolutions):
        variables = [v.value for v in answer.variables]
        rows = [tuple(solution[v] for v in variables) for solution in answer]
        return QueryResult(variables, rows, base=base)
    raise InputError(
        f"{source.path}: only SELECT and ASK queries give a table of results (this is a CONSTRUCT/DESCRIBE)"
    )


def _syntax_error(named: NamedQuery, message: str, *, prologue: str) -> ParseError:
    """pyoxigraph's syntax error as a ParseError at the file's own line and column (see sparql_errors)."""
    from .sparql_errors import locate_syntax_error

    line, column, cause = locate_syntax_error(named.text, prologue, message)
    return ParseError(str(named.path), line, column, cause)


# ---------------------------------------------------------------- parameters as VALUES (remote endpoints)

_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


def where_group_offset(text: str) -> int:
    """Offset just after the ``{`` that opens the query's outermost WHERE group; InputError if none is found.

    The query is read with the shared SPARQL lexer, so a brace inside a comment, string or IRI is never
    taken for the group's.
    """
    form: str | None = None
    depth_paren = 0
    depth_brace = 0
    seen_where = False
    seen_template = False
    try:
        tokens = sparql_lexer.tokens(text)
    except sparql_lexer.SparqlLexError as exc:
        raise InputError(f"cannot bind parameters: {exc}") from None
    for kind, value, start in tokens:
        if kind == "KEYWORD":
            upper = value.upper()
            if form is None and upper in _FORMS:
                form = upper
            elif upper == "WHERE" and depth_brace == 0 and depth_paren == 0:
                seen_where = True
        elif kind == "(":
            depth_paren += 1
        elif kind == ")":
            depth_paren -= 1
        elif kind == "{" and depth_paren == 0 and depth_brace == 0 and form is not None:
            if form != "CONSTRUCT" or seen_template:
                return start + 1
            if seen_where:  # CONSTRUCT WHERE { … }: the group is also the template, VALUES cannot go there
                raise InputError(
                    "a short-form CONSTRUCT WHERE cannot take parameters: write CONSTRUCT {…} WHERE {…}"
                )
            seen_template = True
            depth_brace += 1
        elif kind == "{":
            depth_brace += 1
        elif kind == "}":
            depth_brace -= 1
    raise InputError("cannot find the query's WHERE group to bind parameters to")


def with_values(text: str, bindings: Mapping[str, Term]) -> str:
    """``text`` with a VALUES block binding ``bindings`` as the first element of its outermost WHERE group."""
    if not bindings:
        return text
    variables = " ".join("?" + name for name in bindings)
    terms = " ".join(str(term) for term in bindings.values())  # pyoxigraph writes each term in SPARQL syntax
    offset = where_group_offset(text)
    return f"{text[:offset]}\n  VALUES ({variables}) {{ ({terms}) }}\n{text[offset:]}"


# ---------------------------------------------------------------- remote execution


def run_remote_query(
    endpoint_url: str,
    query: str | Path | NamedQuery,
    params: Mapping[str, PARAM_VALUE] | None = None,
    timeout: float = 30.0,
    *,
    graph: str | None = "",
    base: str | None = None,
) -> QueryResult:
    """Run a named query on a remote SPARQL endpoint (through SPARQLWrapper); RemoteError if it fails.

    ``graph`` is sent as the protocol's ``default-graph-uri``: by default ("") the data graph IRI of the base,
    where ``citygraph publish`` stores the data (its current version when the store has versions); None sends
    none (the endpoint's own default graph).
    """
    import urllib.error

    from SPARQLWrapper import JSON, POST, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    named = query if isinstance(query, NamedQuery) else get_query(query)
    resolved_base = settings.base_iri(base)
    bindings = named.bind(params, base=resolved_base)
    default_graph = data_graph_iri(resolved_base) if graph == "" else graph
    if default_graph:
        default_graph = _current_version(endpoint_url, resolved_base, default_graph, timeout)
    text = named.sparql(resolved_base)
    text = with_values(text, bindings)

    client = SPARQLWrapper(endpoint_url)
    client.setQuery(text)
    client.setMethod(POST)
    client.setReturnFormat(JSON)
    client.setTimeout(max(1, round(timeout)))
    if default_graph:
        client.addDefaultGraph(default_graph)
    try:
        payload = client.query().convert()
    except SPARQLWrapperException as exc:
        raise RemoteError(
            f"{endpoint_url}: the endpoint refused query {named.name!r} "
            f"({type(exc).__name__}): {_endpoint_said(exc)}"
        ) from None
    except urllib.error.HTTPError as exc:
        raise RemoteError(f"{endpoint_url}: HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise RemoteError(f"{endpoint_url}: cannot reach the endpoint ({exc.reason})") from None
    except TimeoutError:
        raise RemoteError(f"{endpoint_url}: no answer within {timeout:g} s") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise RemoteError(f"{endpoint_url}: the answer is not SPARQL JSON results ({exc})") from None
    return result_from_json(payload, base=resolved_base, origin=endpoint_url)


def _current_version(endpoint_url: str, base: str, graph: str, timeout: float) -> str:
    """The graph's current version if ``citygraph publish`` put it there (see citygraph.stores), else itself."""
    import httpx

    from .stores import current_versions

    try:
        return current_versions(endpoint_url, base, [graph], timeout=timeout)[graph]
    except (httpx.HTTPError, ValueError):
        return graph  # not a store publish wrote to, or unreachable: the query itself says so


def result_from_json(payload: Any, *, base: str | None = None, origin: str = "the endpoint") -> QueryResult:
    """A QueryResult from SPARQL 1.1 JSON results (already decoded); RemoteError if they are malformed."""
    if not isinstance(payload, dict):
        raise RemoteError(f"{origin}: the answer is not SPARQL JSON results")
    if "boolean" in payload:
        return QueryResult([], [], boolean=bool(payload["boolean"]), base=base)
    try:
        variables = list(payload["head"]["vars"])
        rows = [
            tuple(term_from_json(binding[v]) if v in binding else None for v in variables)
            for binding in payload["results"]["bindings"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteError(f"{origin}: malformed SPARQL JSON results ({exc!r})") from None
    return QueryResult(variables, rows, base=base)


def _endpoint_said(exc: BaseException) -> str:
    """The endpoint's answer: SPARQLWrapper keeps it only as a repr after "Response:" in its message."""
    import ast

    message = str(exc)
    head, _, body = message.partition("Response:\n")
    if body:
        try:
            raw = ast.literal_eval(body.strip())
        except (ValueError, SyntaxError):
            raw = body
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return " ".join(line.strip() for line in text.splitlines() if line.strip())[:500]
    return head.strip() or type(exc).__name__
