"""The in-process fast path for lookups and the front cache: same answers as the workers, bounded work,
ETag/304 kept, errors never cached.

Expectations come from the engine itself (pyoxigraph's own evaluation of the same query, or the worker's answer
to an equivalent query outside the fast-path class), never from copied output.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pyoxigraph
import pytest

from citygraph.serve import fast_path
from citygraph.serve.backend import load_fast_store, prepare_store
from citygraph.serve.cache import IMMUTABLE_MARK, FrontCache
from citygraph.serve.state import ServeConfig

CGO = "https://w3id.org/citygraph/ontology#"
ID = "https://w3id.org/citygraph/id/"
PREFIXES = (
    f"PREFIX cgo: <{CGO}>\nPREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>\n"
    "PREFIX xsd: <http://www.w3.org/2001/XMLSchema#>\n"
)
# Queries of the fast-path class, over the bundled graph.
IN_CLASS = [
    'SELECT ?a ?p ?o WHERE { ?s cgo:inseeCode "44109" . ?a cgo:seat ?s ; ?p ?o }',
    'SELECT * WHERE { ?s cgo:inseeCode "44109" . ?a cgo:seat ?s ; ?p ?o }  # a comment',
    "SELECT DISTINCT ?p WHERE { ?a a cgo:SmartCityProgramme ; ?p ?o }",
    "SELECT ?a ?label { ?a a cgo:SmartCityProgramme ; rdfs:label ?label , ?label2 }",
    'select ?a where { ?a rdfs:label "Nantes Métropole"@FR }',
    "SELECT ?x ?y ?unbound { ?x cgo:seat ?y . ?y ?p ?y }",
    "SELECT ?f ?n { ?f cgo:inhabitants ?n ; ; cgo:inForceOn \"2017-01-01\"^^xsd:date ; }",
    f"SELECT ?p ?o {{ <{ID}authority/nantes-metropole> ?p ?o }}",
    'ASK { ?a cgo:inseeCode "44109" }',
    'ASK { ?a cgo:inseeCode "44109" } # comments never become tokens:\n#x SERVICE <http://127.0.0.1:1/>',
    'ASK WHERE { ?a cgo:inseeCode "00000" }',
    "ASK {}",
    "SELECT * {}",
    'SELECT ?a { ?a ?p """long""" , \'\'\'long\'\'\' }',
    "SELECT ?a { ?a ?p 1.5 , -1 , +1.0e0 , 1. }",
    "SELECT ?a { ?a cgo:a..b ?o }",
    "SELECT ?x ?p { ?a <http://purl.org/dc/terms/title> ?b . ?x ?p ?x }",  # issue 9: was 8 rows, not 32
    'SELECT * { ?x ?p ?x . ?x ?q "x" }',
]
# Queries outside it: each must go to a worker.
OUT_OF_CLASS = [
    "SELECT ?a { ?a ?p ?o FILTER(true) }",
    "SELECT ?a { OPTIONAL { ?a ?p ?o } }",
    "SELECT ?a { SERVICE <http://127.0.0.1:1/> { ?a ?p ?o } }",
    "SELECT ?a { ?a cgo:seat/cgo:inseeCode ?o }",
    "SELECT ?a { ?a <relative> ?o }",
    "BASE <http://example.org/> SELECT ?a { ?a <http://x/p> ?o }",
    "SELECT ?a { _:b ?p ?a }",
    "SELECT ?a { [] ?p ?a }",
    'SELECT ?a { ?a ?p "\\u0041" }',
    "SELECT ?a { ?a ?p ?o } ORDER BY ?a",
    "SELECT ?a { ?a ?p ?o } LIMIT 18446744073709551616",  # Oxigraph refuses LIMIT past 2^64 - 1
    "SELECT ?a { ?a ?p ?o } OFFSET 18446744073709551616",
    "SELECT ?a { ?a ?p ?o } LIMIT 1 LIMIT 2",
    "SELECT ?a { ?a ?p ?o } LIMIT +1",
    "SELECT ?a { cgo:a.. ?p ?a }",  # a local name cannot end with a dot: two tokens here, then an error
    "SELECT ?a { ?a ?p TRUE }",  # Oxigraph reads booleans in lower case only
    "SELECT ?a { ?a A ?o }",
    "SELECT ?a { ?a ?p \"x\"@en--ltr }",
    "SELECT ?a { ?a ?p <http://[bad> }",
    "SELECT ?a { ?a ?p \"x\"@abcdefghijklm }",
    "SELECT ?a FROM <http://example.org/g> { ?a ?p ?o }",
    "SELECT ?a { GRAPH ?g { ?a ?p ?o } }",
    "SELECT ?a { ?a ?p ?o } VALUES ?a { <http://x/> }",
    "SELECT ?a { { SELECT ?a { ?a ?p ?o } } }",
    "SELECT (COUNT(*) AS ?n) { ?a ?p ?o }",
    "SELECT ?a ?a { ?a ?p ?o }",
    "SELECT ?a { ?a undeclared:p ?o }",
    "CONSTRUCT { ?a ?p ?o } WHERE { ?a ?p ?o }",
    "DESCRIBE <http://x/>",
    "SELECT ?a { ?a ?p ?o . ?a ?q ?r . ?a ?s ?t . ?a ?u ?v . ?a ?w ?x . ?a ?y ?z . ?a ?b ?c . ?a ?d ?e . "
    "?a ?f ?g . ?a ?h ?i . ?a ?j ?k . ?a ?l ?m . ?a ?n ?o2 . ?a ?p2 ?q2 . ?a ?r2 ?s2 . ?a ?t2 ?u2 . ?a ?v2 ?w2 }",
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> pyoxigraph.Store:
    """The bundled graph, plus one triple stored in two graphs (the union default graph keeps both)."""
    directory = prepare_store(ServeConfig(), tmp_path_factory.mktemp("fast") / "store")
    memory = load_fast_store(directory)
    assert memory is not None
    twice = (pyoxigraph.NamedNode("http://example.org/a"), pyoxigraph.NamedNode("http://example.org/p"))
    for graph in ("http://example.org/g1", "http://example.org/g2"):
        memory.add(pyoxigraph.Quad(*twice, pyoxigraph.Literal("x"), pyoxigraph.NamedNode(graph)))
    return memory


def engine_answer(store: pyoxigraph.Store, query: str) -> tuple[list[str], Counter[tuple[Any, ...]]] | bool:
    result = store.query(query, use_default_graph_as_union=True)
    if isinstance(result, pyoxigraph.QueryBoolean):
        return bool(result)
    variables = [v.value for v in result.variables]
    return variables, Counter(tuple(solution[v] for v in variables) for solution in result)


@pytest.mark.parametrize("query", [*IN_CLASS, "SELECT ?o { <http://example.org/a> <http://example.org/p> ?o }"])
def test_fast_path_gives_the_engines_answer(store: pyoxigraph.Store, query: str) -> None:
    text = PREFIXES + query
    parsed = fast_path.parse(text)
    assert parsed is not None, "this query is in the fast-path class"
    ours = fast_path.evaluate(store, parsed, max_rows=10_000, budget=1_000_000)
    expected = engine_answer(store, text)
    if isinstance(ours, bool):
        assert ours == expected
        return
    rows, truncated = ours
    assert not truncated
    assert isinstance(expected, tuple)
    assert list(parsed.variables) == expected[0]  # SELECT * lists variables as the engine does
    assert Counter(rows) == expected[1]


def test_limit_and_row_cap(store: pyoxigraph.Store) -> None:
    parsed = fast_path.parse(PREFIXES + "SELECT ?a ?l { ?a rdfs:label ?l } LIMIT 3")
    assert parsed is not None
    rows, truncated = fast_path.evaluate(store, parsed, max_rows=10_000)  # type: ignore[misc]
    assert len(rows) == 3 and not truncated
    everything = engine_answer(store, PREFIXES + "SELECT ?a ?l { ?a rdfs:label ?l }")
    assert isinstance(everything, tuple)
    assert Counter(rows) <= everything[1]
    uncapped = fast_path.parse(PREFIXES + "SELECT ?a ?l { ?a rdfs:label ?l }")
    assert uncapped is not None
    rows, truncated = fast_path.evaluate(store, uncapped, max_rows=2)  # type: ignore[misc]
    assert len(rows) == 2 and truncated


def test_repeated_variable_in_a_later_pattern_gives_no_phantom_row() -> None:
    """Issue 9: ``?x ex:r ?x`` evaluated second used a stale ?x and answered a third, false row."""
    small = pyoxigraph.Store()
    small.load(
        b"@prefix ex: <http://ex/> . ex:a ex:q ex:b, ex:c . ex:n4 ex:r ex:n4 . ex:n5 ex:r ex:n4 .",
        pyoxigraph.RdfFormat.TURTLE,
    )
    query = "PREFIX ex: <http://ex/> SELECT ?y ?x { ex:a ex:q ?y . ?x ex:r ?x }"
    parsed = fast_path.parse(query)
    assert parsed is not None
    rows, _ = fast_path.evaluate(small, parsed, max_rows=100)  # type: ignore[misc]
    expected = engine_answer(small, query)
    assert isinstance(expected, tuple)
    assert Counter(rows) == expected[1] and len(rows) == 2


@pytest.mark.parametrize("query", OUT_OF_CLASS)
def test_anything_else_goes_to_a_worker(query: str) -> None:
    assert fast_path.parse(PREFIXES + query) is None


class CountingStore:
    """Counts the quads the fast path reads."""

    def __init__(self, store: pyoxigraph.Store) -> None:
        self.store = store
        self.read = 0

    def quads_for_pattern(self, *pattern: Any) -> Iterator[pyoxigraph.Quad]:
        for quad in self.store.quads_for_pattern(*pattern):
            self.read += 1
            yield quad


@pytest.mark.parametrize("budget", [1, 50, 1000])
def test_work_stops_at_the_budget(store: pyoxigraph.Store, budget: int) -> None:
    """A cross product of the whole graph is in the class syntactically; the budget ends it."""
    parsed = fast_path.parse("SELECT DISTINCT ?b WHERE { ?a ?b ?c . ?d ?e ?f }")
    assert parsed is not None
    counting = CountingStore(store)
    with pytest.raises(fast_path.BudgetExceeded):
        fast_path.evaluate(counting, parsed, max_rows=10_000, budget=budget)
    assert counting.read <= budget + 1


# ---------------------------------------------------------------- live server


def run_query(server_url: str, query: str, accept: str = "application/sparql-results+json") -> httpx.Response:
    return httpx.get(server_url + "/sparql", params={"query": query}, headers={"Accept": accept}, timeout=30)


def bindings(response: httpx.Response) -> tuple[list[str], Counter[str]]:
    import json

    data = response.json()
    return data["head"]["vars"], Counter(json.dumps(b, sort_keys=True) for b in data["results"]["bindings"])


@pytest.mark.parametrize("query", [q for q in IN_CLASS if not q.startswith("ASK") and q != "SELECT * {}"])
def test_live_answers_equal_the_workers(live_server, query: str) -> None:  # type: ignore[no-untyped-def]
    """The same query with a FILTER(true) added (outside the class: a worker runs it) answers the same."""
    fast = run_query(live_server.url, PREFIXES + query)
    body = query.rstrip().removesuffix("# a comment").rstrip()
    close = body.rindex("}")
    slow = run_query(live_server.url, PREFIXES + body[:close] + " FILTER(true) }" + body[close + 1:])
    assert fast.status_code == slow.status_code == 200, (fast.text, slow.text)
    assert bindings(fast) == bindings(slow)
    assert fast.headers["content-type"] == slow.headers["content-type"]
    for fmt in ("text/csv", "text/tab-separated-values", "application/sparql-results+xml"):
        answer = run_query(live_server.url, PREFIXES + query, fmt)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(fmt)
    refused = run_query(live_server.url, PREFIXES + query, "image/png")
    assert refused.status_code == 406


def test_over_budget_lookup_goes_to_a_killable_worker(start_server) -> None:  # type: ignore[no-untyped-def]
    """A query of the class that needs more work than the budget runs in a worker under the time limit."""
    server = start_server("--timeout", "1", "--query-workers", "1")
    response = run_query(server.url, "SELECT DISTINCT ?b WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }")
    assert response.status_code == 503
    assert "time limit" in response.json()["error"]["detail"]
    again = run_query(server.url, PREFIXES + 'ASK { ?a cgo:inseeCode "44109" }')
    assert again.status_code == 200 and again.json()["boolean"] is True


def test_front_cache_keeps_etags_and_conditional_answers(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        url = "/data/authority/nantes-metropole.ttl"
        first, second = client.get(url), client.get(url)
        assert first.status_code == second.status_code == 200
        assert first.content == second.content and first.headers["etag"] == second.headers["etag"]
        assert "last-modified" in second.headers
        etag = first.headers["etag"]
        for _ in range(2):
            conditional = client.get(url, headers={"If-None-Match": etag})
            assert conditional.status_code == 304 and conditional.headers["etag"] == etag
            assert conditional.content == b""
        other = client.get(url, headers={"If-None-Match": '"something-else"'})
        assert other.status_code == 200 and other.content == first.content
        head = client.head(url)
        assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
        # the answer follows Accept and Origin even when cached
        query = PREFIXES + "SELECT ?a { ?a a cgo:SmartCityProgramme }"
        as_json = [client.get("/sparql", params={"query": query}, headers={"Accept": "application/json"})
                   for _ in range(2)]
        as_csv = [client.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"}) for _ in range(2)]
        assert {r.headers["content-type"].split(";")[0] for r in as_json} == {"application/sparql-results+json"}
        assert {r.headers["content-type"].split(";")[0] for r in as_csv} == {"text/csv"}
        assert as_csv[0].content == as_csv[1].content != as_json[0].content
        plain = client.get("/sparql", params={"query": query})
        cors = [client.get("/sparql", params={"query": query}, headers={"Origin": "https://example.org"})
                for _ in range(2)]
        assert all(r.headers.get("access-control-allow-origin") == "*" for r in cors)
        assert plain.content == cors[1].content


def test_errors_are_never_replayed(live_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30) as client:
        for _ in range(2):
            missing = client.get("/data/authority/no-such-authority.ttl")
            assert missing.status_code == 404
            bad = client.get("/sparql", params={"query": "SELECT ?a WHERE { ?a ?p }"})
            assert bad.status_code == 400


# ---------------------------------------------------------------- the front cache alone


class StubApp:
    """An ASGI app that counts calls and marks its answers immutable or not."""

    def __init__(self, immutable: bool, status: int = 200) -> None:
        self.immutable, self.status, self.calls = immutable, status, 0

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        self.calls += 1
        if self.immutable:
            scope[IMMUTABLE_MARK] = True
        headers = [(b"content-type", b"text/plain"), (b"x-call", str(self.calls).encode())]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        accept = dict(scope["headers"]).get(b"accept", b"")
        await send({"type": "http.response.body", "body": b"answer for " + accept})


def call(app: Any, headers: list[tuple[bytes, bytes]], method: str = "GET") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "method": method, "path": "/x", "query_string": b"a=1", "headers": headers}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def test_front_cache_replays_only_immutable_answers() -> None:
    stub = StubApp(immutable=True)
    front = FrontCache(stub)
    json_h = [(b"host", b"h"), (b"accept", b"application/json")]
    first = call(front, json_h)
    again = call(front, [(b"user-agent", b"other"), *json_h])  # a transport header: same answer
    assert stub.calls == 1
    assert again[0]["status"] == first[0]["status"] and again[0]["headers"] == first[0]["headers"]
    assert again[1]["body"] == first[1]["body"] == b"answer for application/json"
    csv = call(front, [(b"host", b"h"), (b"accept", b"text/csv")])
    assert stub.calls == 2 and csv[1]["body"] == b"answer for text/csv"
    call(front, json_h, method="POST")
    call(front, json_h, method="POST")
    assert stub.calls == 4  # POST always reaches the application
    for stub in (StubApp(immutable=False), StubApp(immutable=True, status=404)):
        front = FrontCache(stub)
        call(front, json_h)
        call(front, json_h)
        assert stub.calls == 2 and len(front) == 0


def test_front_cache_is_bounded() -> None:
    stub = StubApp(immutable=True)
    front = FrontCache(stub, max_bytes=100_000, max_entries=3)
    for i in range(10):
        call(front, [(b"accept", f"type/{i}".encode())])
    assert len(front) == 3
