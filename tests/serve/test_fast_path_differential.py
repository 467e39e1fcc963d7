"""Differential test of the fast path against pyoxigraph's own engine, on generated queries and graphs.

Hypothesis generates bounded basic-graph-pattern queries (variables repeated inside one pattern, every kind
of term and literal spelling, SELECT * or a projection, DISTINCT, LIMIT / OFFSET, ASK) over the bundled graph
and over small generated graphs whose quads share IRIs and blank nodes across named graphs (the union
default graph keeps duplicates). Every query the fast path accepts must give the engine's answer, as a
multiset, in every results format the endpoint serves; every query the engine refuses, the fast path must
refuse too. Deterministic (``derandomize``), no example database: the same examples run in CI every time.
"""

from __future__ import annotations

import io
from collections import Counter
from typing import Any

import pyoxigraph
import pytest
from bgp_generators import CGO, EX, XSD, graphs, queries
from hypothesis import HealthCheck, event, given, settings

from citygraph.serve import fast_path
from citygraph.serve.backend import load_fast_store, prepare_store
from citygraph.serve.state import ServeConfig

PROLOGUE = f"PREFIX ex: <{EX}>\nPREFIX xsd: <{XSD}>\nPREFIX cgo: <{CGO}>\nPREFIX dct: <http://purl.org/dc/terms/>\n"
EXAMPLES = 700
BUDGET = 20_000  # quads read per query (larger queries go to a worker in production too)
FORMATS = {
    "application/sparql-results+json": pyoxigraph.QueryResultsFormat.JSON,
    "application/sparql-results+xml": pyoxigraph.QueryResultsFormat.XML,
    "text/tab-separated-values": pyoxigraph.QueryResultsFormat.TSV,
    "text/csv": pyoxigraph.QueryResultsFormat.CSV,
}

# ---------------------------------------------------------------- comparing answers


def engine(store: pyoxigraph.Store, query: str) -> Any:
    return store.query(query, use_default_graph_as_union=True)


def rows_of(solutions: pyoxigraph.QuerySolutions) -> tuple[list[str], list[tuple[Any, ...]]]:
    variables = [v.value for v in solutions.variables]
    return variables, [tuple(solution[v] for v in variables) for solution in solutions]


def without_slice(query: str) -> str:
    return query.split(" LIMIT ")[0].split(" OFFSET ")[0]


def check(store: pyoxigraph.Store, query: str) -> None:
    text = PROLOGUE + query
    try:
        expected = engine(store, text)
    except SyntaxError:
        assert fast_path.parse(text) is None, "the fast path answers a query the engine refuses"
        event("refused by the engine")
        return
    parsed = fast_path.parse(text)
    if parsed is None:
        event("outside the fast-path class")
        return  # a worker runs it
    try:
        ours = fast_path.evaluate(store, parsed, max_rows=10_000, budget=BUDGET)
    except fast_path.BudgetExceeded:
        event("over the budget")
        return
    event("compared")
    if isinstance(expected, pyoxigraph.QueryBoolean):
        assert ours is bool(expected)
        return
    assert not isinstance(ours, bool)
    rows, truncated = ours
    variables, expected_rows = rows_of(expected)
    assert list(parsed.variables) == variables
    if truncated:
        event("over the row cap")
        return
    if parsed.limit is None and parsed.offset == 0:
        assert Counter(rows) == Counter(expected_rows)
    else:  # no ORDER BY: which rows a slice keeps is the engine's choice; how many, and from what, is not
        _, everything = rows_of(engine(store, without_slice(text)))
        assert Counter(rows) <= Counter(everything)
        total = len(set(everything)) if parsed.distinct else len(everything)
        wanted = max(0, total - parsed.offset)
        assert len(rows) == (wanted if parsed.limit is None else min(parsed.limit, wanted))
        assert len(rows) == len(expected_rows)
    check_formats(store, parsed, text, variables, rows)


def check_formats(
    store: pyoxigraph.Store, parsed: fast_path.BgpQuery, text: str, variables: list[str], rows: list[Any]
) -> None:
    """Each results format the endpoint serves, read back by pyoxigraph's parsers; CSV, which cannot be read
    back into terms, compared line by line with pyoxigraph's own CSV of the query without its slice."""
    sliced = parsed.limit is not None or parsed.offset != 0
    for media, fmt in FORMATS.items():
        _, body, _ = fast_path.answer(store, parsed, [media], max_rows=10_000, budget=BUDGET)
        if fmt == pyoxigraph.QueryResultsFormat.CSV:
            out = io.BytesIO()
            engine(store, without_slice(text)).serialize(out, fmt)
            ours, theirs = body.split(b"\r\n"), out.getvalue().split(b"\r\n")
            assert ours[0] == theirs[0]
            if sliced:
                assert Counter(ours[1:]) <= Counter(theirs[1:])
            else:
                assert Counter(ours[1:]) == Counter(theirs[1:])
            continue
        back = pyoxigraph.parse_query_results(body, format=fmt)
        assert isinstance(back, pyoxigraph.QuerySolutions)
        read_vars, read_rows = rows_of(back)
        assert read_vars == variables
        assert Counter(read_rows) == Counter(rows), media


# ---------------------------------------------------------------- the tests

DIFFERENTIAL = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def bundled(tmp_path_factory: pytest.TempPathFactory) -> pyoxigraph.Store:
    memory = load_fast_store(prepare_store(ServeConfig(), tmp_path_factory.mktemp("differential") / "store"))
    assert memory is not None
    return memory


@DIFFERENTIAL
@given(graph=graphs, query=queries())
def test_fast_path_equals_the_engine_on_generated_graphs(graph: list[pyoxigraph.Quad], query: str) -> None:
    store = pyoxigraph.Store()
    store.extend(graph)
    check(store, query)


@settings(DIFFERENTIAL, max_examples=EXAMPLES // 2)
@given(query=queries(bundled=True))
def test_fast_path_equals_the_engine_on_the_bundled_graph(bundled: pyoxigraph.Store, query: str) -> None:
    check(bundled, query)
