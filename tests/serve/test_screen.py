"""The query screen alone (no server): it refuses every spelling of SERVICE and of an update before any engine
sees the query, counts what costs (issue 9's reproducers), and lets the bundled named queries through.

The SERVICE property is checked against pyoxigraph itself: every generated query is also given to the engine,
with the SERVICE pointing at a loopback listener; whenever the engine made a request, the screen must have
refused the query.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import pyoxigraph
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from support import Listener

from citygraph.query import list_queries, with_values
from citygraph.serve.errors import QueryRefused
from citygraph.serve.screen import MAX_OPTIONAL_DEPTH, analyze, screen
from citygraph.serve.state import ServeConfig

CONFIG = ServeConfig()


def refusal(query: str) -> QueryRefused | None:
    try:
        screen(
            query,
            max_bytes=CONFIG.max_query_bytes,
            max_patterns=CONFIG.max_triple_patterns,
            max_nesting=CONFIG.max_nesting,
        )
    except QueryRefused as exc:
        return exc
    return None


@pytest.fixture(scope="module")
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


# ---------------------------------------------------------------- issue 9's reproducers


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("SELECT * { #x\rSERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "SERVICE"),
        ("SELECT * { #x\r\nservice silent <http://127.0.0.1:9/> { ?s ?p ?o } }", "SERVICE"),
        ("SELECT * { \\u0053ERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }", "SERVICE"),  # SPARQL 1.1's pre-pass
        ("ASK { FILTER(" + "!" * 10_000 + "true) }", "nests"),
        ("ASK { FILTER(" + "-" * 100 + "1) }", "nests"),
        ("ASK { ?s ?p (" + " 1" * 300 + ") }", "triple patterns"),
        ("ASK { ?s ?p (" + " 1" * 20_000 + ") }", "triple patterns"),
        ("SELECT * {" + " ".join(f"BIND({i} AS ?v{i})" for i in range(3_000)) + "}", "BIND"),
        (
            'SELECT ?x30 { BIND("ab" AS ?x0) '
            + " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(30))
            + " }",
            "string",
        ),
        (
            "SELECT * { ?a0 ?b0 ?c0 "
            + "".join(f"OPTIONAL {{ ?a{i} ?b{i} ?c{i} " for i in range(1, 31))
            + "}" * 30
            + " }",
            "OPTIONAL",
        ),
        ("SELECT * { ?a ?b ?c OPTIONAL { ?d ?e ?f OPTIONAL { ?g ?h ?i } } }", "cross product"),
        ("ASK { FILTER(" + "+".join(["1"] * 2_000) + ") }", "operators"),
        ("SELECT * { VALUES ?x { " + " ".join(f"<x:{i}>" for i in range(12_000)) + " } }", "VALUES"),
        ("SELECT * { ?s <p>/<q>/<r>/<s> ?o " + ". ?s <p>/<q>/<r>/<s> ?o " * 80 + "}", "triple patterns"),
        ("INSERT DATA { <a:b> <a:c> <a:d> }", "read-only"),
        ("SELECT * { ?s ?p ?o } \u00a0", "syntax"),
    ],
)
def test_the_screen_refuses_what_costs(query: str, says: str) -> None:
    refused = refusal(query)
    assert refused is not None and refused.status == 400, query[:80]
    assert says in refused.detail


def test_the_screen_is_quick_on_the_largest_query() -> None:
    query = "ASK { FILTER(" + "!" * (CONFIG.max_query_bytes - 30) + "true) }"
    started = time.process_time()
    assert refusal(query) is not None
    assert time.process_time() - started < 5  # generous: a lexer pass, no parser


@pytest.mark.parametrize("named", list_queries(), ids=lambda q: q.name)
def test_every_bundled_named_query_passes(named) -> None:  # type: ignore[no-untyped-def]
    required = any(parameter.required for parameter in named.parameters)
    text = named.sparql() if required else with_values(named.sparql(), named.bind())
    assert refusal(text) is None
    assert analyze(text).form in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * { ?s ?p ?o FILTER(?o < 3 && !BOUND(?x) || -?o > +1) }",
        "SELECT * { ?s ?p ( 1 2 3 4 5 6 7 8 9 10 ) }",
        "SELECT * { ?a ?b ?c OPTIONAL { ?c ?d ?e OPTIONAL { ?e ?f ?g } } }",  # joined: no cross product
        "SELECT (CONCAT(?a, ' ', ?b) AS ?c) { ?s <x:a> ?a ; <x:b> ?b }",
        "SELECT * { " + "OPTIONAL { ?s ?p ?o } " * 20 + "}",  # side by side, not nested
        "SELECT * { ?s ?p <http://example.org/SERVICE> ; <x:p> 'SERVICE' # SERVICE\n }",
        "SELECT * { ?s service:x ?o }",  # a prefix named service
    ],
)
def test_ordinary_queries_pass(query: str) -> None:
    assert refusal(query) is None


def test_optional_depth_limit_is_exact() -> None:
    def nested(depth: int) -> str:
        optionals = "".join(f"OPTIONAL {{ ?c <x:p> ?c{i} " for i in range(depth))
        return "SELECT * { ?a ?b ?c " + optionals + "}" * depth + "}"

    assert refusal(nested(MAX_OPTIONAL_DEPTH)) is None
    refused = refusal(nested(MAX_OPTIONAL_DEPTH + 1))
    assert refused is not None and "OPTIONAL" in refused.detail


# ---------------------------------------------------------------- every spelling of SERVICE


def mixed_case(word: str) -> st.SearchStrategy[str]:
    return st.tuples(*[st.sampled_from([c.lower(), c.upper()]) for c in word]).map("".join)


SEPARATORS = [" ", "\n", "\r", "\t", "\r\n", "#c\r", "#c\n", "#c\r\n", " #SERVICE\r", ""]
CONTEXTS = [
    "{ X }",
    "{ ?s ?p ?o . X }",
    "{ ?s ?p ?o X }",
    "{ OPTIONAL { X } }",
    "{ ?s ?p ?o OPTIONAL { ?s ?p ?o X } }",
    "{ { X } UNION { ?s ?p ?o } }",
    "{ { ?s ?p ?o } UNION { X } }",
    "{ { SELECT * { X } } }",
    "{ ?s ?p ?o FILTER EXISTS { X } }",
    "{ ?s ?p ?o MINUS { X } }",
    "{ GRAPH ?g { X } }",
    "{ ?s ?p ?o { { X } } }",
]


@st.composite
def service_queries(draw: st.DrawFn, port: int) -> str:
    word = draw(st.one_of(mixed_case("SERVICE"), st.sampled_from(["\\u0053ERVICE", "SERVIC\\u0045"])))
    silent = draw(st.sampled_from(["", " SILENT", " silent"]))
    prologue = ""
    target_kind = draw(st.sampled_from(["iri", "relative", "prefixed", "escaped", "variable"]))
    if target_kind == "iri":
        target = f"<http://127.0.0.1:{port}/sparql>"
    elif target_kind == "relative":
        prologue, target = f"BASE <http://127.0.0.1:{port}/> ", "<sparql>"
    elif target_kind == "prefixed":
        prologue, target = f"PREFIX r: <http://127.0.0.1:{port}/> ", "r:sparql"
    elif target_kind == "escaped":
        target = f"<\\u0068ttp://127.0.0.1:{port}/sparql>"
    else:
        target = "?service"
    separator = draw(st.sampled_from(SEPARATORS))
    after = draw(st.sampled_from([" ", "", "\r", "#c\r"]))
    clause = f"{separator}{word}{silent} {target}{after}{{ ?s ?p ?o }}"
    body = draw(st.sampled_from(CONTEXTS)).replace("X", clause)
    if target_kind == "variable":
        body = body[:-1] + f" VALUES ?service {{ <http://127.0.0.1:{port}/sparql> }} }}"
    form = draw(st.sampled_from(["SELECT *", "select *", "ASK", "CONSTRUCT { ?s ?p ?o }"]))
    return f"{prologue}{form} WHERE {body}"


STORE = pyoxigraph.Store()
STORE.add(pyoxigraph.Quad(pyoxigraph.NamedNode("x:s"), pyoxigraph.NamedNode("x:p"), pyoxigraph.Literal("o")))
STORE.add(
    pyoxigraph.Quad(
        pyoxigraph.NamedNode("x:s"), pyoxigraph.NamedNode("x:p"), pyoxigraph.Literal("o"), pyoxigraph.NamedNode("x:g")
    )
)


@settings(max_examples=400, derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_screen_refuses_whatever_the_engine_would_run_as_service(listener: Listener, data: st.DataObject) -> None:
    query = data.draw(service_queries(listener.port))
    refused = refusal(query)
    before = listener.connections
    try:
        answer = STORE.query(query)
        if isinstance(answer, pyoxigraph.QuerySolutions | pyoxigraph.QueryTriples):
            list(answer)
    except SyntaxError:
        event("the engine refuses the query")
    except (OSError, RuntimeError):
        pass  # the listener closed the connection, or no service IRI was bound
    deadline = time.monotonic() + 0.5
    while listener.connections == before and time.monotonic() < deadline and refused is None:
        time.sleep(0.01)
    if listener.connections > before:
        event("the engine made a request")
        assert refused is not None, f"the screen let through a query the engine ran as SERVICE: {query!r}"
        assert "SERVICE" in refused.detail


def test_the_generated_spellings_do_reach_the_engine(listener: Listener) -> None:
    """The property above is not empty: most generated queries make pyoxigraph send a request."""
    reached = 0
    for separator in SEPARATORS:
        for context in CONTEXTS:
            query = f"SELECT * WHERE {context.replace('X', f'{separator}SERVICE <http://127.0.0.1:{listener.port}/>{{}}')}"
            before = listener.connections
            with contextlib.suppress(OSError, SyntaxError):
                list(STORE.query(query))  # type: ignore[arg-type]
            deadline = time.monotonic() + 1
            while listener.connections == before and time.monotonic() < deadline:
                time.sleep(0.01)
            reached += listener.connections > before
    assert reached >= len(SEPARATORS) * len(CONTEXTS) // 2


# ---------------------------------------------------------------- every spelling of an update

UPDATES = [
    "INSERT DATA { <x:a> <x:b> <x:c> }",
    "DELETE DATA { <x:a> <x:b> <x:c> }",
    "DELETE WHERE { ?s ?p ?o }",
    "DELETE { ?s ?p ?o } WHERE { ?s ?p ?o }",
    "INSERT { ?s ?p 1 } WHERE { ?s ?p ?o }",
    "WITH <x:g> DELETE { ?s ?p ?o } INSERT { ?s ?p 2 } USING <x:g> WHERE { ?s ?p ?o }",
    "CLEAR ALL",
    "CLEAR SILENT GRAPH <x:g>",
    "DROP DEFAULT",
    "CREATE GRAPH <x:new>",
    "ADD DEFAULT TO <x:g>",
    "MOVE SILENT <x:g> TO DEFAULT",
    "COPY DEFAULT TO <x:h>",
]


@st.composite
def update_requests(draw: st.DrawFn) -> str:
    operation = draw(st.sampled_from(UPDATES))
    first, _, rest = operation.partition(" ")
    spelled = draw(mixed_case(first)) + " " + rest
    prologue = draw(st.sampled_from(["", "PREFIX x: <x:> ", "#c\r", "BASE <x:> #\n", "# SELECT\r\n"]))
    more = draw(st.sampled_from(["", " ; INSERT DATA { <x:a> <x:b> <x:d> }"]))
    return prologue + spelled + more


@settings(max_examples=200, derandomize=True, database=None, deadline=None)
@given(update=update_requests())
def test_the_screen_refuses_every_update(update: str) -> None:
    pyoxigraph.Store().update(update)  # a real update: the engine would run it
    refused = refusal(update)
    assert refused is not None and "read-only" in refused.detail
