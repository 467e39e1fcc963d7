"""The W3C SPARQL 1.1 Protocol tests, read from ../shared/conformance at test time, against the live server.

Every query test must pass, every bad_* test must get a 4xx, and every update_* test must be refused (this
endpoint is read-only): its update gets a 4xx and the queries that follow show nothing changed.
Beyond the manifest: content negotiation, format=, CORS, the JSON error shape, caching headers.
"""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib import RDF, Namespace
from rdflib.collection import Collection

MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
HT = Namespace("http://www.w3.org/2011/http#")
HTS = Namespace("http://www.w3.org/2011/http-statusCodes#")
CNT = Namespace("http://www.w3.org/2011/content#")
SRX = "{http://www.w3.org/2005/sparql-results#}"
MANIFEST = (
    Path(__file__).resolve().parents[3] / "shared" / "conformance" / "sparql11-protocol" / "manifest.ttl"
)

RESULT_TYPES = {
    "application/sparql-results+json",
    "application/sparql-results+xml",
    "text/csv",
    "text/tab-separated-values",
}
RDF_TYPES = {"text/turtle": "turtle", "application/n-triples": "nt", "application/rdf+xml": "xml"}


@dataclass
class HttpRequest:
    method: str
    path: str  # with the query string
    headers: dict[str, str]
    body: bytes | None
    expected_status: set[str]  # e.g. {"2xx", "3xx"}
    expected_format: str | None
    expected_boolean: bool | None


@dataclass
class ProtocolTest:
    name: str
    requests: list[HttpRequest]


def load_manifest() -> list[ProtocolTest]:
    graph = rdflib.Graph().parse(MANIFEST, format="turtle")
    manifest = next(graph.subjects(RDF.type, MF.Manifest))
    tests = []
    for entry in Collection(graph, graph.value(manifest, MF.entries)):
        action = graph.value(entry, MF.action)
        requests = []
        for req in Collection(graph, graph.value(action, HT.requests)):
            body_node = graph.value(req, HT.body)
            body = None
            if body_node is not None:
                encoding = str(graph.value(body_node, CNT.characterEncoding) or "UTF-8")
                body = str(graph.value(body_node, CNT.chars)).encode(encoding)
            headers = {}
            header_list = graph.value(req, HT.headers)
            if header_list is not None:
                for header in Collection(graph, header_list):
                    headers[str(graph.value(header, HT.fieldName))] = str(graph.value(header, HT.fieldValue))
            resp = graph.value(req, HT.resp)
            statuses = {str(s).rsplit("StatusCode", 1)[1] for s in graph.objects(resp, MF.expectedStatus)}
            fmt = graph.value(resp, MF.expectedFormat)
            boolean = graph.value(resp, MF.expectedBoolean)
            path = str(graph.value(req, HT.absolutePath))
            assert path.startswith("/sparql/")
            requests.append(
                HttpRequest(
                    str(graph.value(req, HT.methodName)),
                    path,
                    headers,
                    body,
                    statuses,
                    str(fmt) if fmt is not None else None,
                    boolean.toPython() if boolean is not None else None,
                )
            )
        tests.append(ProtocolTest(str(entry).rsplit("#", 1)[1], requests))
    return tests


TESTS = load_manifest() if MANIFEST.is_file() else []


def test_manifest_is_complete() -> None:
    """The manifest was found and read: 34 tests, 20 query and 14 update as its README says."""
    assert MANIFEST.is_file(), f"{MANIFEST} is missing"
    assert len(TESTS) == 34
    assert sum(t.name.startswith("update_") or "update" in t.name for t in TESTS) == 14


def send(server_url: str, request: HttpRequest) -> httpx.Response:
    path = "/sparql" + request.path[len("/sparql/") :]
    headers = dict(request.headers)
    with httpx.Client(base_url=server_url, timeout=30, follow_redirects=True) as client:
        return client.request(request.method, path, headers=headers, content=request.body)


def boolean_of(response: httpx.Response) -> bool:
    media = response.headers["content-type"].split(";")[0]
    if media == "application/sparql-results+json":
        value = response.json()["boolean"]
        assert isinstance(value, bool)
        return value
    assert media == "application/sparql-results+xml", media
    text = ET.fromstring(response.content).find(f"{SRX}boolean").text  # type: ignore[union-attr]
    return text == "true"


def check_format(response: httpx.Response, expected: str) -> None:
    media = response.headers["content-type"].split(";")[0]
    if expected == "boolean":
        boolean_of(response)
    elif expected == "tabular":
        assert media in RESULT_TYPES, media
        if media == "application/sparql-results+json":
            assert "vars" in response.json()["head"]
        elif media == "application/sparql-results+xml":
            assert ET.fromstring(response.content).find(f"{SRX}results") is not None
        else:
            assert list(
                csv.reader(io.StringIO(response.text), delimiter="," if media == "text/csv" else "\t")
            )
    elif expected == "RDF":
        assert media in RDF_TYPES, media
        rdflib.Graph().parse(data=response.content, format=RDF_TYPES[media])
    else:
        raise AssertionError(f"unknown expected format {expected}")


def status_class(code: int) -> str:
    return f"{code // 100}xx"


@pytest.mark.parametrize("test", [t for t in TESTS if not t.name.startswith("update_")], ids=lambda t: t.name)
def test_w3c_protocol(protocol_server, test: ProtocolTest) -> None:  # type: ignore[no-untyped-def]
    for request in test.requests:
        response = send(protocol_server.url, request)
        assert status_class(response.status_code) in request.expected_status, (
            f"{test.name}: {response.status_code} {response.text[:500]}"
        )
        if status_class(response.status_code) == "4xx":
            error = response.json()["error"]
            assert error["status"] == response.status_code and error["detail"]
        if request.expected_format:
            check_format(response, request.expected_format)
        if request.expected_boolean is not None:
            assert boolean_of(response) is request.expected_boolean, test.name


@pytest.mark.parametrize("test", [t for t in TESTS if t.name.startswith("update_")], ids=lambda t: t.name)
def test_w3c_update_refused(protocol_server, test: ProtocolTest) -> None:  # type: ignore[no-untyped-def]
    update, *checks = test.requests
    response = send(protocol_server.url, update)
    assert response.status_code == 403, response.text
    assert "read-only" in response.json()["error"]["detail"]
    for check in checks:  # the ASK the manifest uses to see the update's effect: there is none
        answer = send(protocol_server.url, check)
        assert answer.status_code == 200
        assert boolean_of(answer) is False


def test_bad_non_utf8_is_400(protocol_server) -> None:  # type: ignore[no-untyped-def]
    """Invalid UTF-8 bytes with no charset declared: 400 naming the cause."""
    response = httpx.post(
        protocol_server.sparql,
        content=b'ASK { <http://a> <http://b> "\xe9" }',
        headers={"content-type": "application/sparql-query"},
    )
    assert response.status_code == 400
    assert "UTF-8" in response.json()["error"]["detail"]


def test_default_graph_is_union_of_graphs(protocol_server) -> None:  # type: ignore[no-untyped-def]
    """Without a protocol dataset, the default graph merges every graph (the --graph ones and the bundle)."""
    query = (
        "ASK { <http://kasei.us/2009/09/sparql/data/data1.rdf> a ?t ."
        " ?a a <https://w3id.org/citygraph/ontology#LocalAuthority> }"
    )
    response = httpx.get(protocol_server.sparql, params={"query": query})
    assert boolean_of(response) is True
    # a protocol dataset replaces it: data3 alone does not hold data1's triple
    response = httpx.get(
        protocol_server.sparql,
        params={"query": query, "default-graph-uri": "http://kasei.us/2009/09/sparql/data/data3.rdf"},
    )
    assert boolean_of(response) is False


def test_from_clause_is_honoured_without_protocol_dataset(protocol_server) -> None:  # type: ignore[no-untyped-def]
    base = "http://kasei.us/2009/09/sparql/data/"
    yes = httpx.get(
        protocol_server.sparql, params={"query": f"ASK FROM <{base}data1.rdf> {{ <{base}data1.rdf> a ?t }}"}
    )
    no = httpx.get(
        protocol_server.sparql, params={"query": f"ASK FROM <{base}data2.rdf> {{ <{base}data1.rdf> a ?t }}"}
    )
    assert (boolean_of(yes), boolean_of(no)) == (True, False)


SELECT_KINDS = "SELECT ?kind (COUNT(?a) AS ?n) WHERE { ?a a ?kind } GROUP BY ?kind"


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "application/sparql-results+json"),
        ("*/*", "application/sparql-results+json"),
        ("application/sparql-results+xml", "application/sparql-results+xml"),
        ("text/csv;q=0.5, text/tab-separated-values", "text/tab-separated-values"),
        ("text/csv, application/sparql-results+json;q=0.9", "text/csv"),
        ("application/json", "application/sparql-results+json"),
        ("text/*;q=0.2, application/sparql-results+xml;q=0.1", "text/csv"),
    ],
)
def test_select_conneg(live_server, accept: str | None, expected: str) -> None:  # type: ignore[no-untyped-def]
    headers = {"accept": accept} if accept else {}
    response = httpx.get(live_server.sparql, params={"query": SELECT_KINDS}, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == expected
    check_format(response, "tabular")


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        (None, "text/turtle"),
        ("application/n-triples", "application/n-triples"),
        ("application/rdf+xml;q=0.9, text/turtle;q=0.5", "application/rdf+xml"),
        ("application/ld+json", "application/ld+json"),
        ("application/sparql-results+json, */*;q=0.1", "text/turtle"),
    ],
)
def test_construct_conneg(live_server, accept: str | None, expected: str) -> None:  # type: ignore[no-untyped-def]
    query = "DESCRIBE ?a WHERE { ?a a <https://w3id.org/citygraph/ontology#LocalAuthority> } LIMIT 2"
    headers = {"accept": accept} if accept else {}
    response = httpx.post(live_server.sparql, data={"query": query}, headers=headers)
    assert response.status_code == 200, response.text
    media = response.headers["content-type"].split(";")[0]
    assert media == expected
    fmt = {**RDF_TYPES, "application/ld+json": "json-ld"}[media]
    graph = rdflib.Graph().parse(data=response.content, format=fmt)
    assert len(set(graph.subjects())) >= 2


def test_not_acceptable(live_server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(live_server.sparql, params={"query": "ASK {}"}, headers={"accept": "image/png"})
    assert response.status_code == 406
    assert response.json()["error"]["status"] == 406


def test_format_parameter_overrides_accept(live_server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(
        live_server.sparql,
        params={"query": SELECT_KINDS, "format": "csv"},
        headers={"accept": "application/sparql-results+json"},
    )
    assert response.headers["content-type"].startswith("text/csv")


def test_json_error_shape_is_pinned(live_server) -> None:  # type: ignore[no-untyped-def]
    """Machines get exactly {"error": {"status", "title", "detail"}} as application/json."""
    response = httpx.get(live_server.sparql, params={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    assert sorted(body["error"]) == ["detail", "status", "title"]
    assert body["error"]["status"] == 400
    assert "1:" in body["error"]["detail"]  # the parser's message locates the error (line:column)


def test_method_not_allowed(live_server) -> None:  # type: ignore[no-untyped-def]
    response = httpx.request("DELETE", live_server.sparql)
    assert response.status_code == 405
    assert response.json()["error"]["status"] == 405


def test_cors_open_for_reads(live_server) -> None:  # type: ignore[no-untyped-def]
    origin = {"origin": "https://example.org"}
    response = httpx.get(live_server.sparql, params={"query": "ASK {}"}, headers=origin)
    assert response.headers["access-control-allow-origin"] == "*"
    preflight = httpx.options(
        live_server.sparql,
        headers={
            **origin,
            "access-control-request-method": "POST",
            "access-control-request-headers": "content-type",
        },
    )
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["access-control-allow-methods"]


def test_etag_and_304(live_server) -> None:  # type: ignore[no-untyped-def]
    first = httpx.get(live_server.sparql, params={"query": SELECT_KINDS})
    etag = first.headers["etag"]
    again = httpx.get(live_server.sparql, params={"query": SELECT_KINDS}, headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize("mode", ["embedded", "store"])
def test_row_cap_says_it_cut_the_result(start_server, mode: str) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--max-rows", "5", mode=mode)
    lookup = "SELECT * WHERE { ?s ?p ?o }"  # a basic graph pattern: answered in process in embedded mode
    ordered = "SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s"  # run by a worker (or the store)
    for query in (lookup, ordered):
        response = httpx.get(server.sparql, params={"query": query})
        assert response.status_code == 200
        assert len(response.json()["results"]["bindings"]) == 5
        assert response.headers["citygraph-truncated"] == "max-rows=5", query
    graph = httpx.get(server.sparql, params={"query": "CONSTRUCT WHERE { ?s ?p ?o }"},
                      headers={"accept": "application/n-triples"})
    assert graph.status_code == 200 and len(graph.text.strip().splitlines()) == 5
    assert graph.headers["citygraph-truncated"] == "max-rows=5"
    small = httpx.get(server.sparql, params={"query": "SELECT ?s WHERE { ?s ?p ?o } LIMIT 3"})
    assert len(small.json()["results"]["bindings"]) == 3
    assert "citygraph-truncated" not in small.headers
    # A script on another origin may read the header.
    cors = httpx.get(server.sparql, params={"query": ordered}, headers={"origin": "https://example.org"})
    assert "citygraph-truncated" in cors.headers["access-control-expose-headers"].lower()
    # Named queries: the 24 authorities, cut at 5, say so in their downloads and on their page.
    table = httpx.get(server.url + "/queries/authorities-by-kind.csv")
    assert table.status_code == 200 and len(table.text.strip().splitlines()) == 1 + 5
    assert table.headers["citygraph-truncated"] == "max-rows=5"
    page = httpx.get(server.url + "/queries/authorities-by-kind", params={"lang": "en"})
    assert "Result cut short: the server returns at most 5 rows per query." in page.text
    full = start_server(mode=mode)
    assert "cut short" not in httpx.get(full.url + "/queries/authorities-by-kind", params={"lang": "en"}).text


def test_bundled_counts_from_the_survey(live_server) -> None:  # type: ignore[no-untyped-def]
    """The endpoint serves the bundled graph: 24 authorities, as the survey lists."""
    query = (
        "PREFIX cgo: <https://w3id.org/citygraph/ontology#> SELECT (COUNT(DISTINCT ?a) AS ?n)"
        " WHERE { ?p a cgo:SmartCityProgramme ; cgo:runBy ?a }"
    )
    response = httpx.get(live_server.sparql, params={"query": query})
    assert response.status_code == 200, response.text
    assert json.loads(response.content)["results"]["bindings"][0]["n"]["value"] == "24"


def test_browser_without_query_goes_to_the_editor(live_server) -> None:  # type: ignore[no-untyped-def]
    """A browser opening /sparql is sent to the query page; RDF clients get the Service Description."""
    browser = httpx.get(live_server.sparql, headers={"accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert browser.status_code == 303
    assert browser.headers["location"] == "/query"
    machine = httpx.get(live_server.sparql, headers={"accept": "*/*"})
    assert machine.headers["content-type"].startswith("text/turtle")
