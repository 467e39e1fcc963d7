"""Running named queries: locally on pyoxigraph, or on a remote SPARQL endpoint (SPARQLWrapper).

Queries and their parameters are defined in :mod:`citygraph.named_query`, results in
:mod:`citygraph.query_result`; this module re-exports both, so ``citygraph.query`` is the one import
callers need.

Values are never pasted into the query text. Locally they are pyoxigraph ``substitutions`` (which requires
each parameter to be a projected variable, so every row says which value it was computed with); against a
remote endpoint they go into a ``VALUES`` block inserted as the first element of the outermost WHERE group,
each term written by pyoxigraph's serializer. Both mean the same: the parameter is bound before the rest of
the group is evaluated, so a query uses its parameters in that group (its filters, BINDs, EXISTS and
OPTIONAL conditions), not inside a sub-query. Relative IRIs in a query resolve against ``BASE/id/``.

Queries run with the data named graph as their default graph, so ``.rq`` files have no GRAPH clauses.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import settings, sparql_lexer
from .errors import InputError, ParseError, RemoteError
from .named_query import (
    PARAM_VALUE,
    Header,
    NamedQuery,
    Parameter,
    get_query,
    id_base,
    list_queries,
    parse_header,
    parse_param_assignments,
    read_query,
)
from .namespaces import data_graph_iri
from .query_result import QueryResult, result_from_json

if TYPE_CHECKING:
    from .load import LoadedGraph
    from .sparql_json import Term

__all__ = [
    "PARAM_VALUE",
    "Header",
    "NamedQuery",
    "Parameter",
    "QueryResult",
    "get_query",
    "id_base",
    "list_queries",
    "parse_header",
    "parse_param_assignments",
    "read_query",
    "result_from_json",
    "run_named_query",
    "run_remote_query",
    "where_group_offset",
    "with_values",
]


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
