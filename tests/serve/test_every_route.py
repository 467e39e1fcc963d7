"""A property test: generated paths, query strings, headers and bodies at every route of a live server (both
modes) get 2xx, 3xx or 4xx, or a 503 for a time or memory limit; never another 5xx, never a traceback."""

from __future__ import annotations

import socket
from pathlib import Path
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
NAMED = sorted(p.stem for p in (ROOT / "queries").glob("*.rq"))
ROUTES = [
    "/", "/sparql", "/sparql/", "/query", "/queries", "/queries/{name}", "/id/{path}", "/page/{path}",
    "/data/{path}", "/data/{path}.ttl", "/data/{path}.jsonld", "/ontology", "/ontology.{ext}", "/dumps",
    "/dumps/", "/dumps/{name}", "/dumps.json", "/catalog", "/catalog.{ext}", "/.well-known/void",
    "/context.jsonld", "/static/{name}", "/{path}",
]
PARAMS = ["query", "update", "format", "output", "lang", "default-graph-uri", "named-graph-uri", "page", "max",
          "code", "theme", "kind", "limit", "q", "x"]
MEDIA = ["text/html", "application/json", "text/turtle", "application/sparql-results+json", "text/csv",
         "application/ld+json", "application/rdf+xml", "application/n-triples", "*/*", "text/*", "image/png",
         "application/sparql-query", "application/x-www-form-urlencoded", "application/sparql-update", "x/y"]
# Answers a hostile request may get besides 2xx-4xx: the time, memory or busy limits (503).
LIMIT_TITLES = ("time limit", "memory limit", "cpu limit", "stack limit", "server busy", "engine failure")

fragments = st.sampled_from(["authority/paris", "initiative", "ontology", "a b", "%00", "%FF", "<", ">", "{",
                             '"', "\\", "%0A", "%09", "..", "/", "é", "\u202e", "%2F", "?", "#", ";", "%", "%%",
                             "SELECT", "authority/saint-étienne-métropole", "x" * 300])
texts = st.one_of(st.text(max_size=40), fragments, st.lists(fragments, max_size=4).map("".join))
queries = st.one_of(
    texts,
    st.sampled_from(["ASK {}", "SELECT * { ?s ?p ?o } LIMIT 3", "CONSTRUCT WHERE { ?s ?p ?o } LIMIT 2",
                     "DESCRIBE <https://w3id.org/citygraph/id/authority/paris>",
                     "SELECT * { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }",
                     "INSERT DATA { <a:a> <a:b> <a:c> }", "SELECT ?x { BIND(1/0 AS ?x) }", "SELECT * {",
                     "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f }", "ASK { FILTER(" + "!" * 500 + "true) }"]),
)


def encode(text: str) -> str:
    return quote(text, safe="/:@!$&'()*+,;=-._~%")


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, list[tuple[str, str]], bytes]:
    route = draw(st.sampled_from(ROUTES))
    path = route.format(name=draw(st.one_of(st.sampled_from([*NAMED, "query.js", "site.css"]), texts)),
                        path=draw(texts), ext=draw(st.sampled_from(["ttl", "jsonld", "nt", "rdf", "xml", "x"])))
    pairs = draw(st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), texts), queries), max_size=4))
    target = encode(path) + ("?" + "&".join(f"{encode(k)}={quote(v, safe='')}" for k, v in pairs) if pairs else "")
    method = draw(st.sampled_from(["GET", "GET", "HEAD", "POST", "OPTIONS", "PUT", "DELETE"]))
    header_value = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                           max_size=60)
    accept = st.lists(st.tuples(st.sampled_from(MEDIA), st.sampled_from(["", ";q=0", ";q=0.5", ";q=1", ";q=x"])),
                      max_size=4).map(lambda items: ", ".join(m + q for m, q in items))
    headers = draw(st.lists(st.one_of(
        st.tuples(st.just("Accept"), accept),
        st.tuples(st.sampled_from(["Accept-Language", "If-None-Match", "If-Modified-Since", "Range", "Origin",
                                   "X-Forwarded-For", "Host", "Cookie", "Accept-Encoding"]), header_value),
        st.tuples(st.just("Content-Type"), st.sampled_from(MEDIA).map(lambda m: m + "; charset=utf-8")),
    ), max_size=4))
    body = b""
    if method in ("POST", "PUT"):
        body = draw(st.one_of(st.binary(max_size=200), queries.map(lambda q: ("query=" + quote(q)).encode()),
                              queries.map(str.encode)))
    return method, target, headers, body


def send(url: str, method: str, target: str, headers: list[tuple[str, str]], body: bytes) -> tuple[int, bytes]:
    host, port = url.removeprefix("http://").split(":")
    names = {name.lower() for name, _ in headers}
    lines = [f"{method} {target} HTTP/1.1"]
    if "host" not in names:
        lines.append(f"Host: {host}:{port}")
    lines += [f"{name}: {value}" for name, value in headers]
    lines += ["Connection: close", f"Content-Length: {len(body)}"]
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
def test_every_route_answers_4xx_not_5xx_to_generated_requests(live_server, request) -> None:  # type: ignore[no-untyped-def]
    method, target, headers, body = request
    status, answer = send(live_server.url, method, target, headers, body)
    if status == 503:
        assert any(title in answer.decode("utf-8", "replace").lower() for title in LIMIT_TITLES), answer[:300]
        return
    assert 200 <= status < 500, (method, target, headers, status, answer[:500])


def test_no_traceback_after_the_generated_requests(live_server) -> None:  # type: ignore[no-untyped-def]
    """Runs after the property test in the same module (same server): nothing failed unseen."""
    assert "Traceback" not in live_server.log()
