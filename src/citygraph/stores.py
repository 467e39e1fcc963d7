"""How published graphs live on a triple store, and what differs between stores.

A publish never rewrites a served graph in place. Each graph is written, under a fresh *version* name
(``{graph}/version/{UTC time}-{token}``), then one small SPARQL Update moves a pointer in the *versions graph*
(``{base}graph/versions``)::

    <{base}graph/data> dcat:hasCurrentVersion <{base}graph/data/version/20261201T193000Z-4f2a9c> ;
                       dcat:hasVersion <…> .                       # every version still on the store
    <{base}graph/data/version/20261130T…> prov:invalidatedAtTime "…"^^xsd:dateTime .   # the store's clock

A version stops being current at a switch, which records when (the store's own ``NOW()``); the next publish
deletes it no sooner than ``citygraph.publish.RETIRED_GRACE_S`` after that.

Readers (``citygraph serve --store``, ``citygraph query --endpoint``) ask for the current version of each graph
they serve and query that one; a graph with no pointer is read under its own name (data put there by other
means). Versions are immutable, so their names identify their content.

Store dialects: Virtuoso answers a CONSTRUCT with SPARQL JSON bindings when JSON is acceptable, so graph
queries ask for N-Triples only (:func:`accept_for`); it cuts any answer at ``ResultSetMaxRows`` rows (10,000 in
Debian's virtuoso.ini) without saying so, so copies are checked against a ``COUNT`` (:func:`count_query`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from .namespaces import DCAT, DCT, PROV, XSD

if TYPE_CHECKING:
    import httpx

SPARQL_JSON = "application/sparql-results+json"
NTRIPLES = "application/n-triples"
HAS_CURRENT_VERSION = DCAT + "hasCurrentVersion"
HAS_VERSION = DCAT + "hasVersion"
ISSUED = DCT + "issued"
RETIRED = PROV + "invalidatedAtTime"  # when a version stopped being current (the switch that replaced it)


def versions_graph(base: str) -> str:
    """The graph that says which version of each published graph is current."""
    return base + "graph/versions"


def version_iri(graph: str, stamp: str) -> str:
    return f"{graph}/version/{stamp}"


def accept_for(form: str) -> str:
    """The Accept header for a query of this form (SELECT, ASK, CONSTRUCT, DESCRIBE; "" if unknown)."""
    if form in ("CONSTRUCT", "DESCRIBE"):
        return NTRIPLES
    if form in ("SELECT", "ASK"):
        return SPARQL_JSON
    return f"{SPARQL_JSON}, {NTRIPLES};q=0.9"


def count_query(graph: str) -> str:
    return f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"


def read_count(payload: Any) -> int:
    """The ``?n`` of a COUNT answer (SPARQL JSON); ValueError if it is not one."""
    try:
        bindings = payload["results"]["bindings"]
        return int(bindings[0]["n"]["value"]) if bindings else 0
    except (KeyError, IndexError, TypeError) as exc:
        raise ValueError("not a COUNT answer") from exc


def versions_query(base: str, graphs: Iterable[str]) -> str:
    """Every recorded version of these graphs, and which one is current (``?current`` true)."""
    values = " ".join(f"<{g}>" for g in graphs)
    return (
        f"SELECT ?graph ?version ?current WHERE {{ GRAPH <{versions_graph(base)}> {{ "
        f"VALUES ?graph {{ {values} }} "
        f"{{ ?graph <{HAS_CURRENT_VERSION}> ?version BIND(true AS ?current) }} UNION "
        f"{{ ?graph <{HAS_VERSION}> ?version BIND(false AS ?current) }} }} }}"
    )


def read_versions(payload: Any) -> tuple[dict[str, str], dict[str, set[str]]]:
    """(current version per graph, every recorded version per graph) from a :func:`versions_query` answer."""
    current: dict[str, str] = {}
    recorded: dict[str, set[str]] = {}
    try:
        for row in payload["results"]["bindings"]:
            graph, version = row["graph"]["value"], row["version"]["value"]
            recorded.setdefault(graph, set()).add(version)
            if row["current"]["value"] in ("true", "1"):
                current[graph] = version
    except (KeyError, TypeError) as exc:
        raise ValueError("not an answer to the versions query") from exc
    return current, recorded


def record_update(base: str, versions: Mapping[str, str], issued: str) -> str:
    """Record new versions before writing them (a publish cut short leaves them known, to be dropped later)."""
    triples = " ".join(
        f"<{graph}> <{HAS_VERSION}> <{version}> . <{version}> <{ISSUED}> \"{issued}\"^^<{XSD}dateTime> ."
        for graph, version in versions.items()
    )
    return f"INSERT DATA {{ GRAPH <{versions_graph(base)}> {{ {triples} }} }}"


def forget_update(base: str, versions: Mapping[str, Iterable[str]]) -> str:
    """Remove version records (after their graphs are dropped)."""
    values = " ".join(f"(<{g}> <{v}>)" for g, vs in versions.items() for v in vs)
    return (
        f"DELETE {{ GRAPH <{versions_graph(base)}> {{ ?graph <{HAS_VERSION}> ?version . ?version ?p ?o }} }} "
        f"WHERE {{ VALUES (?graph ?version) {{ {values} }} GRAPH <{versions_graph(base)}> "
        f"{{ ?graph <{HAS_VERSION}> ?version . ?version ?p ?o }} }}"
    )


def switch_update(base: str, versions: Mapping[str, str]) -> str:
    """One operation that makes every new version current at once (the atomic switch), recording when each
    replaced version stopped being current (the store's clock)."""
    graphs = " ".join(f"<{g}>" for g in versions)
    inserted = " ".join(f"<{g}> <{HAS_CURRENT_VERSION}> <{v}> ." for g, v in versions.items())
    pointers = versions_graph(base)
    return (
        f"DELETE {{ GRAPH <{pointers}> {{ ?graph <{HAS_CURRENT_VERSION}> ?old }} }} "
        f"INSERT {{ GRAPH <{pointers}> {{ {inserted} ?old <{RETIRED}> ?now . }} }} "
        f"WHERE {{ OPTIONAL {{ GRAPH <{pointers}> {{ VALUES ?graph {{ {graphs} }} "
        f"?graph <{HAS_CURRENT_VERSION}> ?old }} }} BIND(NOW() AS ?now) }}"
    )


def retired_query(base: str, versions: Iterable[str]) -> str:
    """When each of these versions stopped being current (if recorded), and the store's time now."""
    values = " ".join(f"<{v}>" for v in versions)
    return (
        f"SELECT ?version ?retired ?now WHERE {{ VALUES ?version {{ {values} }} "
        f"OPTIONAL {{ GRAPH <{versions_graph(base)}> {{ ?version <{RETIRED}> ?retired }} }} "
        f"BIND(NOW() AS ?now) }}"
    )


def read_retired(payload: Any) -> dict[str, float]:
    """Seconds since each version of a :func:`retired_query` answer stopped being current; a version with no
    record is left out (never current, or retired by a publish that did not record it). ValueError if the answer
    is not one."""
    from datetime import datetime

    ages: dict[str, float] = {}
    try:
        for row in payload["results"]["bindings"]:
            if "retired" in row:
                retired = datetime.fromisoformat(row["retired"]["value"])
                now = datetime.fromisoformat(row["now"]["value"])
                if (retired.tzinfo is None) != (now.tzinfo is None):
                    raise ValueError("dates with and without a time zone")
                ages[row["version"]["value"]] = (now - retired).total_seconds()
    except (KeyError, TypeError) as exc:
        raise ValueError("not an answer to the retired-versions query") from exc
    return ages


def unpoint_update(base: str, graphs: Iterable[str]) -> str:
    """Remove the current-version pointers of these graphs (after a ``--direct`` publish wrote them in place)."""
    values = " ".join(f"<{g}>" for g in graphs)
    return (
        f"DELETE {{ GRAPH <{versions_graph(base)}> {{ ?graph <{HAS_CURRENT_VERSION}> ?v }} }} "
        f"WHERE {{ GRAPH <{versions_graph(base)}> {{ VALUES ?graph {{ {values} }} "
        f"?graph <{HAS_CURRENT_VERSION}> ?v }} }}"
    )


def current_versions(
    endpoint: str, base: str, graphs: Iterable[str], *, timeout: float = 30.0, client: httpx.Client | None = None
) -> dict[str, str]:
    """Where each graph is read on the store: its current version, or its own name if it has none.

    Raises httpx errors and ValueError (unreadable answer) for the caller to word.
    """
    import httpx

    names = list(dict.fromkeys(graphs))
    if not names:
        return {}
    http = client or httpx.Client(timeout=httpx.Timeout(timeout, connect=5.0))
    try:
        response = http.post(
            endpoint, data={"query": versions_query(base, names)}, headers={"Accept": SPARQL_JSON}
        )
        response.raise_for_status()
        current, _ = read_versions(response.json())
    finally:
        if client is None:
            http.close()
    return {name: current.get(name, name) for name in names}


ABSENT_GRAPH = "urn:x-citygraph:absent-graph"  # sent as a named graph that holds nothing
# Strings and comments are kept as they are; an IRI after the keyword GRAPH is looked at; any other IRI is kept
# whole (so a '#' inside one is not a comment).
_GRAPH_TOKENS = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'
    r"|'''(?:[^'\\]|\\.|'(?!''))*'''"
    r'|"(?:[^"\\\n]|\\.)*"'
    r"|'(?:[^'\\\n]|\\.)*'"
    r"|\#[^\n]*"
    r'|(?<![\w:.\-?$])(?P<keyword>GRAPH|FROM\s+NAMED|FROM)\s*<(?P<iri>[A-Za-z][A-Za-z0-9+.\-]*:[^<>"{}|^`\\\s]*)>'
    r'|<[^<>"{}|^`\\\s]*>',
    re.IGNORECASE,
)


def confine_graphs(query: str, named_graphs: Iterable[str]) -> tuple[str, bool]:
    """``GRAPH <g>`` with ``g`` outside the named graphs sent, pointed at an empty graph that is sent.

    Virtuoso 7.2 treats a ``GRAPH <g>`` block whose ``g`` is not among the request's named graphs as if it
    matched (``ASK`` true, ground patterns found) where SPARQL says it matches nothing; an empty graph that *is*
    in the list matches nothing there too. Only absolute IRIs written in full are rewritten, never inside a
    string or a comment; (query, changed).
    """
    return rename_graphs(query, {}, outside=set(named_graphs))


def rename_graphs(query: str, names: Mapping[str, str], *, outside: set[str] | None = None) -> tuple[str, bool]:
    """The graph IRIs of ``GRAPH <g>``, ``FROM <g>`` and ``FROM NAMED <g>`` renamed by ``names`` (a served graph
    to its current version); with ``outside`` (the named graphs sent), a ``GRAPH <g>`` naming none of them
    points at :data:`ABSENT_GRAPH` (:func:`confine_graphs`). Strings and comments are never touched;
    (query, changed)."""
    changed = False

    def rename(match: re.Match[str]) -> str:
        nonlocal changed
        iri, keyword = match.group("iri"), match.group("keyword")
        if iri is None:
            return match.group(0)
        if iri in names:
            changed = True
            return f"{keyword} <{names[iri]}>"
        if outside is not None and keyword.upper() == "GRAPH" and iri not in outside:
            changed = True
            return f"GRAPH <{ABSENT_GRAPH}>"
        return match.group(0)

    return _GRAPH_TOKENS.sub(rename, query), changed


def is_virtuoso(response_headers: Mapping[str, str]) -> bool:
    return response_headers.get("server", "").lower().startswith("virtuoso")


_LEADING_BASE = re.compile(r"\A(?:\s+|#[^\n]*(?:\n|\Z))*BASE\b", re.IGNORECASE)


def starts_with_base(query: str) -> bool:
    """The query opens with its own BASE: one sent before it would change nothing (and Virtuoso refuses two)."""
    return _LEADING_BASE.match(query) is not None


def canonical_booleans(payload: bytes) -> bytes:
    """SPARQL JSON results with xsd:boolean values written ``true``/``false`` (Virtuoso writes ``1``/``0``)."""
    import json

    if b"XMLSchema#boolean" not in payload:
        return payload
    answer = json.loads(payload)
    for row in answer.get("results", {}).get("bindings", []):
        for term in row.values():
            if term.get("datatype") == XSD + "boolean" and term.get("value") in ("1", "0"):
                term["value"] = "true" if term["value"] == "1" else "false"
    return json.dumps(answer).encode()
