"""The lookup lane (``serve/lookups.py``) against the endpoint it stands in for, on generated requests.

Two apps serve the bundled graph with the same configuration, one with the lane and one without (every
request routed to the endpoint). Hypothesis generates requests — fast-path queries and others, spaces sent as
``+`` or ``%20``, extra or repeated parameters, Accept headers with q-values or nothing acceptable, an Origin,
an If-None-Match with the right ETag or another, GET or HEAD, each request sent twice (the second may come
from a cache) — and each must get the same status, headers and body from both. Deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from bgp_generators import queries
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from citygraph import settings as citygraph_settings
from citygraph.serve.app import create_app
from citygraph.serve.backend import prepare_store
from citygraph.serve.cache import CachedResponse
from citygraph.serve.lookups import LookupLane, lookup_messages, url_value
from citygraph.serve.state import ServeConfig

CGO = "https://w3id.org/citygraph/ontology#"
ID = "https://w3id.org/citygraph/id/"
LOOKUPS = [  # the benchmark's shapes, and a few more the lane must answer
    'SELECT ?s ?p WHERE { ?s ?p "44109" } LIMIT 5',
    f"SELECT ?p ?o WHERE {{ <{ID}authority/nantes-metropole> ?p ?o }}",
    f'PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> PREFIX cgo: <{CGO}> SELECT ?a WHERE {{ ?a rdfs:label '
    f'"Nantes Métropole"@fr ; a cgo:LocalAuthority }}',
    f'PREFIX cgo: <{CGO}> SELECT ?a ?p ?o WHERE {{ ?s cgo:inseeCode "44109" . ?a cgo:seat ?s ; ?p ?o }}',
    f"ASK {{ <{ID}authority/nantes-metropole> ?p ?o }}",
    f"SELECT * WHERE {{ ?s <{CGO}seat> ?o }} LIMIT 3 OFFSET 1",
]
OTHERS = [  # not lookups: the lane must leave them to the endpoint
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "SELECT ?s WHERE { ?s ?p ?o FILTER(?o = 1) } LIMIT 2",
    "CONSTRUCT WHERE { ?s a ?t } LIMIT 2",
    "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
    "SELECT ?x WHERE { ?x",
    "",
]
ACCEPTS = [
    None,
    "application/sparql-results+json",
    "application/json",
    "text/csv",
    "text/tab-separated-values;q=0.9, application/sparql-results+xml;q=0.8",
    "*/*",
    "text/turtle",
    "image/png",
    "application/sparql-results+xml;q=0, text/csv;q=0.1",
]
SKIPPED_HEADERS = {"date"}


@pytest.fixture(scope="module")
def clients(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient, Counter[str]]]:
    config = ServeConfig(base=citygraph_settings.base_iri(), query_workers=1, max_rows=7)  # rows get cut
    store = prepare_store(config, tmp_path_factory.mktemp("lane") / "store")
    config = ServeConfig(**{**config.__dict__, "store_path": str(Path(store))})
    answered: Counter[str] = Counter()
    original = LookupLane._respond

    def counting(self: LookupLane, *args: Any) -> Any:
        response = original(self, *args)
        answered["lane" if response is not None else "endpoint"] += 1
        return response

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LookupLane, "_respond", counting)
        with (
            TestClient(create_app(config)) as lane,
            TestClient(create_app(config, lookup_lane=False)) as plain,
        ):
            yield lane, plain, answered


def encode(query: str, plus: bool) -> str:
    encoded = quote(query, safe="")
    return encoded.replace("%20", "+") if plus else encoded


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bool]:
    query = draw(st.one_of(queries(bundled=True), st.sampled_from(LOOKUPS), st.sampled_from(OTHERS)))
    if draw(st.booleans()):
        query += draw(st.sampled_from([" #nonce-1", "\n# c", "  "]))
    qs = "query=" + encode(query, draw(st.booleans()))
    extra = draw(st.sampled_from([None] * 6 + ["format=json", "format=csv", "query=ASK%7B%7D", "output=xml",
                                               f"default-graph-uri={quote(ID)}", "x=1", ""]))
    if extra is not None:
        qs = f"{qs}&{extra}" if draw(st.booleans()) else f"{extra}&{qs}"
    headers: dict[str, str] = {}
    accept = draw(st.sampled_from(ACCEPTS))
    if accept is not None:
        headers["accept"] = accept
    if draw(st.booleans()):
        headers["origin"] = "https://reuser.example"
    method = draw(st.sampled_from(["GET", "GET", "HEAD"]))
    return method, "/sparql?" + qs, headers, draw(st.booleans())


def same_response(lane: TestClient, plain: TestClient, method: str, url: str, headers: dict[str, str]) -> Any:
    got = lane.request(method, url, headers=headers)
    want = plain.request(method, url, headers=headers)
    assert got.status_code == want.status_code, (url, got.text[:300], want.text[:300])
    got_headers = [(k, v) for k, v in got.headers.multi_items() if k not in SKIPPED_HEADERS]
    want_headers = [(k, v) for k, v in want.headers.multi_items() if k not in SKIPPED_HEADERS]
    assert got_headers == want_headers, url
    assert got.content == want.content, url
    return got


@settings(max_examples=400, derandomize=True, database=None, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(request=requests())
def test_the_lane_answers_as_the_endpoint(clients: tuple[TestClient, TestClient, Counter[str]],
                                          request: tuple[str, str, dict[str, str], bool]) -> None:
    lane, plain, _ = clients
    method, url, headers, conditional = request
    first = same_response(lane, plain, method, url, headers)
    if conditional and first.headers.get("etag"):
        headers = {**headers, "if-none-match": first.headers["etag"]}
    second = same_response(lane, plain, method, url, headers)
    event(f"status {first.status_code} then {second.status_code}")


def test_the_lane_answers_the_lookups(clients: tuple[TestClient, TestClient, Counter[str]]) -> None:
    """The lane does answer lookups (else the differential test would compare the endpoint with itself)."""
    lane, plain, answered = clients
    before = answered["lane"]
    for number, query in enumerate(LOOKUPS):
        url = "/sparql?query=" + encode(f"{query} #{number}", plus=number % 2 == 0)
        response = same_response(lane, plain, "GET", url, {"accept": "application/sparql-results+json"})
        assert response.status_code == 200
    assert answered["lane"] - before == len(LOOKUPS)
    for number, query in enumerate(OTHERS):  # asked for the first time (no cached answer to replay)
        lane.get("/sparql?query=" + encode(f"{query}\n#other-{number}", plus=False))
    assert answered["lane"] - before == len(LOOKUPS)  # the others went on to the endpoint


url_bytes = st.lists(
    st.one_of(
        st.binary(min_size=1, max_size=3),  # anything, non-ASCII and line breaks included
        st.sampled_from([b"%", b"%4", b"%zz", b"%%41", b"=", b"+", b"%3D", b"%3d", b"%0A", b"%0D%0A", b"%C3%A9",
                         b"%C3", b"%ff", b"%2B", b"%25", b"%E2%80%AF", b" ", b"_", b"#"]),
        st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=4).map(str.encode),
    ),
    max_size=24,
).map(b"".join)


@settings(max_examples=3000, derandomize=True, database=None)
@given(raw=url_bytes)
def test_url_values_read_as_starlette_reads_them(raw: bytes) -> None:
    """The lane's decoder is Python's parse_qsl reading, on every byte string."""
    from urllib.parse import parse_qsl

    assume(b"&" not in raw)  # two parameters: the lane leaves those to the endpoint
    [(name, value)] = parse_qsl("query=" + raw.decode("latin-1"), keep_blank_values=True)
    assert name == "query"
    assert url_value(raw) == value


header_names = st.sampled_from(["Vary", "vary", "Cache-Control", "X-Citygraph-Truncated", "Content-Language"])
entries = st.builds(
    lambda body, media, etag, headers: CachedResponse(body, media, etag, headers),
    st.binary(max_size=64),
    st.sampled_from(["application/sparql-results+json", "text/csv", "text/tab-separated-values",
                     "text/csv; charset=latin-1", "application/sparql-results+xml", "text/plain;Charset=x"]),
    st.text(alphabet="0123456789abcdef\"", min_size=2, max_size=26),
    st.dictionaries(header_names, st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0xFF), max_size=12),
                    max_size=4),
)


@settings(max_examples=1500, derandomize=True, database=None)
@given(entry=entries, method=st.sampled_from(["GET", "HEAD"]))
def test_lookup_messages_are_what_starlette_and_its_cors_layer_send(entry: CachedResponse, method: str) -> None:
    """The lane's hand-built messages against a Starlette Response sent through the app's CORS middleware."""
    import asyncio

    from starlette.middleware.cors import CORSMiddleware
    from starlette.requests import Request

    from citygraph.serve.app import CORS
    from citygraph.serve.cache import to_response

    scope = {"type": "http", "method": method, "path": "/sparql", "query_string": b"", "headers": []}
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def reference() -> None:
        request = Request(scope)
        response = to_response(request, entry)
        await response(scope, receive, partial(CORSMiddleware(None, **CORS).send, send=send,  # type: ignore[arg-type]
                                                request_headers=request.headers))

    asyncio.run(reference())
    start, body = lookup_messages(entry)
    assert [start["status"], list(start["headers"]), body["body"]] == [
        sent[0]["status"], list(sent[0]["headers"]), sent[1]["body"]]
