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
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from citygraph.serve import fast_path
from citygraph.serve.backend import load_fast_store, prepare_store
from citygraph.serve.state import ServeConfig

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
CGO = "https://w3id.org/citygraph/ontology#"
PROLOGUE = f"PREFIX ex: <{EX}>\nPREFIX xsd: <{XSD}>\nPREFIX cgo: <{CGO}>\nPREFIX dct: <http://purl.org/dc/terms/>\n"
EXAMPLES = 700
BUDGET = 20_000  # quads read per query (larger queries go to a worker in production too)
FORMATS = {
    "application/sparql-results+json": pyoxigraph.QueryResultsFormat.JSON,
    "application/sparql-results+xml": pyoxigraph.QueryResultsFormat.XML,
    "text/tab-separated-values": pyoxigraph.QueryResultsFormat.TSV,
    "text/csv": pyoxigraph.QueryResultsFormat.CSV,
}

# ---------------------------------------------------------------- generated graphs

NODES = [pyoxigraph.NamedNode(EX + name) for name in ("a", "b", "c")]
BLANKS = [pyoxigraph.BlankNode(f"b{i}") for i in range(2)]
PREDICATES = [pyoxigraph.NamedNode(EX + name) for name in ("p", "q")]
RDF_TYPE = pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LITERALS = [
    pyoxigraph.Literal("x"),
    pyoxigraph.Literal("x", language="en"),
    pyoxigraph.Literal("x", language="fr"),
    pyoxigraph.Literal("1", datatype=pyoxigraph.NamedNode(XSD + "integer")),
    pyoxigraph.Literal("1.5", datatype=pyoxigraph.NamedNode(XSD + "decimal")),
    pyoxigraph.Literal("true", datatype=pyoxigraph.NamedNode(XSD + "boolean")),
    pyoxigraph.Literal('a"b\n'),
    pyoxigraph.Literal("Béthune"),
]
GRAPHS = [pyoxigraph.DefaultGraph(), pyoxigraph.NamedNode(EX + "g1"), pyoxigraph.NamedNode(EX + "g2")]
subjects = st.sampled_from([*NODES, *BLANKS, PREDICATES[0]])  # a predicate may be a subject too
objects = st.one_of(subjects, subjects, st.sampled_from(NODES + BLANKS + PREDICATES + LITERALS))  # loops, joins
quads = st.builds(
    pyoxigraph.Quad, subjects, st.sampled_from([*PREDICATES, *PREDICATES, RDF_TYPE]), objects, st.sampled_from(GRAPHS)
)
graphs = st.lists(quads, min_size=6, max_size=24)

# ---------------------------------------------------------------- generated queries

# Each constant with the spellings a query may use for it (all must mean the same term).
SPELLINGS: dict[Any, list[str]] = {
    NODES[0]: ["ex:a", f"<{EX}a>"],
    NODES[1]: ["ex:b", f"<{EX}b>"],
    NODES[2]: ["ex:c"],
    PREDICATES[0]: ["ex:p", f"<{EX}p>"],
    PREDICATES[1]: ["ex:q"],
    LITERALS[0]: ['"x"', "'x'", '"""x"""', "'''x'''", '"x"^^xsd:string'],
    LITERALS[1]: ['"x"@en', '"x"@EN', "'x' @en"],
    LITERALS[2]: ['"x"@fr'],
    LITERALS[3]: ["1", '"1"^^xsd:integer', "+1", "01"],
    LITERALS[4]: ["1.5", '"1.5"^^xsd:decimal', "+1.50"],
    LITERALS[5]: ["true", '"true"^^xsd:boolean'],
    LITERALS[6]: ['"a\\"b\\n"', "'a\"b\\n'", '"""a"b\n"""'],
    LITERALS[7]: ['"Béthune"', '"B\\u00e9thune"'],
}
OTHER = ["-1", "1.5e0", '"1"^^xsd:double', '"x"@en-GB', "false", "ex:zz", "ex:a.b", "<http://example.org/>"]
INVALID = ["ex:a..", "TRUE", "<http://[x>", "ex:.a", '"x"@', "ex:a\\", "1e", "nope:a"]  # the engine refuses these
VARIABLES = ["?x", "?y", "$x", "?z", "?w"]  # ?x and $x are the same variable


def constant(position: int) -> st.SearchStrategy[str]:
    """A spelled constant for a subject (0), predicate (1) or object (2)."""
    if position == 0:
        terms = [t for t in SPELLINGS if isinstance(t, pyoxigraph.NamedNode) and t not in PREDICATES]
    elif position == 1:
        terms = PREDICATES
    else:  # as many chances for a node as for a literal
        terms = [*NODES, *NODES, *PREDICATES, *PREDICATES, *LITERALS]
    spelled = st.sampled_from(terms).flatmap(lambda term: st.sampled_from(SPELLINGS[term]))
    if position == 1:
        return st.one_of(spelled, spelled, spelled, st.sampled_from(["a"] * 7 + ["A"]))
    if position == 2:
        return st.one_of(spelled, spelled, spelled, st.sampled_from(OTHER), st.sampled_from(OTHER + INVALID))
    return spelled


def slot(position: int) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(VARIABLES), constant(position))




@st.composite
def pattern(draw: st.DrawFn) -> tuple[str, str, str]:
    """A triple pattern; one in three repeats a variable inside itself (``?x ?p ?x``, ``?x ?x ?o``…)."""
    parts = [draw(slot(0)), draw(slot(1)), draw(slot(2))]
    if draw(st.integers(0, 2)) == 0:
        variable = draw(st.sampled_from([*VARIABLES, "?r", "?r", "?r", "?s", "?s"]))  # ?r, ?s: only here
        for position in draw(st.sampled_from([(0, 2), (0, 2), (0, 2), (0, 1), (1, 2), (0, 1, 2)])):
            parts[position] = variable
    return parts[0], parts[1], parts[2]


# ``?a ex:p ?b``: many solutions, so the patterns after it are evaluated many times (stale bindings show)
wide = st.tuples(st.sampled_from(VARIABLES), constant(1), st.sampled_from(VARIABLES))
# ``?r ex:q ?r`` beside such a pattern, in either order: the planner evaluates it later, once per solution
loop = st.builds(
    lambda v, p: (v, p, v), st.sampled_from(["?r", "?s", "?x"]), st.one_of(constant(1), st.sampled_from(VARIABLES))
)
patterns = st.one_of(
    st.sampled_from([1, 2, 2, 3, 3]).flatmap(lambda n: st.lists(st.one_of(pattern(), wide), min_size=n, max_size=n)),
    st.lists(st.one_of(wide, loop, pattern()), min_size=2, max_size=3),
)


@st.composite
def queries(draw: st.DrawFn, bundled: bool = False) -> str:
    triples = list(draw(patterns))
    if bundled:  # terms of the bundled graph
        triples = [
            tuple(
                part.replace("ex:p", "dct:title").replace("ex:q", "cgo:seat").replace("ex:a", "cgo:SmartCityProgramme")
                for part in triple
            )
            for triple in triples
        ]
    body = " . ".join(" ".join(triple) for triple in triples)
    if len(triples) > 1 and draw(st.integers(0, 3)) == 0:  # the ; and , abbreviations (same subject)
        (s, p, o), (_, p2, o2) = triples[0], triples[1]
        triples[1] = (s, p2, o2)
        rest = "".join(" . " + " ".join(triple) for triple in triples[2:])
        body = f"{s} {p} {o} ; {p2} {o2}{rest}" if p2 != p else f"{s} {p} {o} , {o2}{rest}"
    used = sorted({part.replace("$", "?") for triple in triples for part in triple if part[0] in "?$"})
    if draw(st.integers(0, 7)) == 0:
        return f"ASK {{ {body} }}"
    if not used or draw(st.booleans()):
        projection = "*"
    else:
        projection = " ".join(draw(st.lists(st.sampled_from(used), min_size=1, max_size=len(used), unique=True)))
    distinct = "DISTINCT " if draw(st.integers(0, 3)) == 0 else ""
    where = draw(st.sampled_from(["WHERE ", ""]))
    modifiers = ""
    # mostly no slice (the answer is then compared row for row), sometimes one, once in a while a huge one
    limit = draw(st.sampled_from([None] * 6 + [0, 1, 2, 3, 2**64 - 1, 2**64]))
    offset = draw(st.sampled_from([None] * 6 + [0, 1, 2, 3]))
    if limit is not None:
        modifiers += f" LIMIT {limit}"
    if offset is not None:
        modifiers += f" OFFSET {offset}"
    return f"SELECT {distinct}{projection} {where}{{ {body} }}{modifiers}"


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
