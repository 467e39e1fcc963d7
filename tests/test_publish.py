"""`citygraph publish` against a real Oxigraph server: replace, verify counts, survive a failure midway."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pyoxigraph
import pytest
from support import OxigraphServer, cli_error, start_oxigraph

BASE = "https://w3id.org/citygraph/"
DATA_GRAPH = BASE + "graph/data"
ONTOLOGY_GRAPH = BASE + "graph/ontology"


XSD_DECIMAL = "http://www.w3.org/2001/XMLSchema#decimal"


def _canonical(triple: pyoxigraph.Triple) -> pyoxigraph.Triple:
    """Oxigraph stores xsd:decimal by value ("67.0" comes back as "67"): compare decimals by value."""
    o = triple.object
    if isinstance(o, pyoxigraph.Literal) and o.datatype.value == XSD_DECIMAL:
        value = format(Decimal(o.value).normalize(), "f")
        return pyoxigraph.Triple(
            triple.subject, triple.predicate, pyoxigraph.Literal(value, datatype=o.datatype)
        )
    return triple


def triples_of(*paths: Path) -> set[pyoxigraph.Triple]:
    return {
        _canonical(quad.triple)
        for path in paths
        for quad in pyoxigraph.parse(path=str(path), format=pyoxigraph.RdfFormat.TURTLE)
    }


def store_graphs(server: OxigraphServer) -> dict[str, int]:
    response = httpx.post(
        server.query_endpoint,
        timeout=10,
        headers={"Accept": "application/sparql-results+json"},
        data={"query": "SELECT ?g (COUNT(*) AS ?n) { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g"},
    )
    response.raise_for_status()
    return {b["g"]["value"]: int(b["n"]["value"]) for b in response.json()["results"]["bindings"]}


def store_triples(server: OxigraphServer, graph: str) -> set[pyoxigraph.Triple]:
    response = httpx.get(
        server.store_endpoint,
        params={"graph": graph},
        headers={"Accept": "application/n-triples"},
        timeout=10,
    )
    response.raise_for_status()
    return {
        _canonical(q.triple)
        for q in pyoxigraph.parse(response.content, format=pyoxigraph.RdfFormat.N_TRIPLES)
    }


@pytest.fixture
def data_files(repo_root: Path) -> list[Path]:
    return sorted((repo_root / "data").glob("*.ttl"))


@pytest.fixture
def ontology_file(repo_root: Path) -> Path:
    return repo_root / "ontology" / "citygraph.ttl"


def test_publish_puts_ontology_and_data_in_their_graphs(run_cli, oxigraph_server, data_files, ontology_file):
    result = run_cli("publish", "--store", oxigraph_server.url, "--no-progress")
    assert result.returncode == 0, result.stderr
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*data_files)
    assert store_triples(oxigraph_server, ONTOLOGY_GRAPH) == triples_of(ontology_file)
    # No temporary graph left behind, nothing in the default graph.
    assert set(store_graphs(oxigraph_server)) == {DATA_GRAPH, ONTOLOGY_GRAPH}
    assert "match" in result.stdout


def test_second_publish_replaces_rather_than_appends(run_cli, oxigraph_server, data_files, tmp_path):
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    subset = [p for p in data_files if p.name in ("authorities.ttl", "schemes.ttl")]
    result = run_cli("publish", "--store", oxigraph_server.url, *map(str, subset))
    assert result.returncode == 0, result.stderr
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*subset)
    assert set(store_graphs(oxigraph_server)) == {DATA_GRAPH, ONTOLOGY_GRAPH}


def test_graph_option_names_the_data_graph(run_cli, oxigraph_server, data_files):
    target = "https://example.org/graphs/smart-cities-2017"
    result = run_cli("publish", "--store", oxigraph_server.url, "--graph", target)
    assert result.returncode == 0, result.stderr
    assert store_triples(oxigraph_server, target) == triples_of(*data_files)
    assert DATA_GRAPH not in store_graphs(oxigraph_server)


def test_dry_run_contacts_no_store(run_cli, data_files):
    result = run_cli("publish", "--store", "http://127.0.0.1:9", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert f"{len(triples_of(*data_files))} triples would go to <{DATA_GRAPH}>" in result.stdout


def test_unreachable_store_exits_3_with_a_clear_message(run_cli):
    from support import free_port

    result = run_cli("publish", "--store", f"http://127.0.0.1:{free_port()}")
    assert result.returncode == 3
    cli_error(result.stderr)
    assert "cannot reach" in result.stderr and "Nothing was replaced" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- a real HTTP proxy in front of the store


@dataclass
class Proxy:
    """Forwards to Oxigraph; ``intercept`` may answer instead (status, body), drop the connection or edit."""

    upstream: str
    intercept: Callable[[str, str, dict[str, list[str]], dict[str, str]], tuple[int, bytes] | str | None]
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""


def _read_body(handler: BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            if size == 0:
                handler.rfile.readline()
                return b"".join(parts)
            parts.append(handler.rfile.read(size))
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("Content-Length", 0)))


@pytest.fixture
def proxy(oxigraph_server: OxigraphServer) -> Iterator[Proxy]:
    state = Proxy(oxigraph_server.url, lambda *_: None)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def _handle(self) -> None:
            split = urlsplit(self.path)
            headers = {k.lower(): v for k, v in self.headers.items()}
            state.seen.append((self.command, split.path, headers))
            verdict = state.intercept(self.command, split.path, parse_qs(split.query), headers)
            if verdict == "drop":  # the store dies: no answer at all
                self.close_connection = True
                return
            body = _read_body(self)
            if isinstance(verdict, tuple):
                status, payload = verdict
            else:
                forwarded = httpx.request(
                    self.command,
                    state.upstream + self.path,
                    content=body,
                    timeout=120,  # the swap of the bundled graph (14k triples) on a loaded machine
                    headers={k: v for k, v in headers.items() if k in ("content-type", "accept")},
                )
                status, payload = forwarded.status_code, forwarded.content
                if callable(verdict):
                    payload = verdict(payload)
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Content-Type", "application/sparql-results+json")
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _put_of(graph: str) -> Callable[[str, str, dict[str, list[str]]], bool]:
    return lambda method, path, query: (
        method == "PUT" and path == "/store" and query.get("graph", [""])[0].startswith(graph)
    )


def test_store_stopped_midway_leaves_previous_graphs_queryable(
    run_cli, proxy, oxigraph_server, data_files, tmp_path
):
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    before = store_graphs(oxigraph_server)
    is_data_put = _put_of(DATA_GRAPH)

    def die_on_data_put(method, path, query, headers):
        if is_data_put(method, path, query):
            oxigraph_server.stop()
            return "drop"
        return None

    proxy.intercept = die_on_data_put
    subset = [p for p in data_files if p.name == "authorities.ttl"]
    result = run_cli("publish", "--store", proxy.url, *map(str, subset))
    assert result.returncode == 3
    assert "Nothing was replaced" in result.stderr and f"<{DATA_GRAPH}>" in result.stderr
    assert "Traceback" not in result.stderr

    restarted = start_oxigraph(oxigraph_server.location)
    try:
        after = store_graphs(restarted)
        assert after[DATA_GRAPH] == before[DATA_GRAPH] == len(triples_of(*data_files))
        assert after[ONTOLOGY_GRAPH] == before[ONTOLOGY_GRAPH]
    finally:
        restarted.stop()


def test_server_error_midway_leaves_previous_graphs_and_cleans_up(
    run_cli, proxy, oxigraph_server, data_files
):
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    before = store_graphs(oxigraph_server)
    is_data_put = _put_of(DATA_GRAPH)
    proxy.intercept = lambda m, p, q, h: (503, b"overloaded") if is_data_put(m, p, q) else None
    subset = [p for p in data_files if p.name == "authorities.ttl"]
    result = run_cli("publish", "--store", proxy.url, *map(str, subset))
    assert result.returncode == 3
    assert "HTTP 503" in result.stderr and "Nothing was replaced" in result.stderr
    # Previous graphs intact, the temporary ontology graph that had been uploaded is gone.
    assert store_graphs(oxigraph_server) == before


def test_count_difference_exits_1(run_cli, proxy):
    def inflate(payload: bytes) -> bytes:
        answer = json.loads(payload)
        for binding in answer["results"]["bindings"]:
            binding["n"]["value"] = str(int(binding["n"]["value"]) + 1)
        return json.dumps(answer).encode()

    def intercept(method, path, query, headers):
        # Only the final checks, after the swap (a POST to /update), see a wrong count.
        swapped = any(m == "POST" and p == "/update" for m, p, _ in proxy.seen)
        return inflate if swapped and method == "POST" and path == "/query" else None

    proxy.intercept = intercept
    result = run_cli("publish", "--store", proxy.url)
    assert result.returncode == 1, result.stderr
    assert "differ" in result.stdout


def test_bearer_token_comes_from_the_environment(run_cli, proxy):
    proxy.intercept = lambda m, p, q, h: None if h.get("authorization") == "Bearer s3cret" else (401, b"no")
    missing = run_cli("publish", "--store", proxy.url, "--token-env", "CITYGRAPH_TEST_TOKEN")
    assert missing.returncode == 2 and "CITYGRAPH_TEST_TOKEN" in missing.stderr
    wrong = run_cli(
        "publish",
        "--store",
        proxy.url,
        "--token-env",
        "CITYGRAPH_TEST_TOKEN",
        env={"CITYGRAPH_TEST_TOKEN": "nope"},
    )
    assert wrong.returncode == 3 and "refused the credentials" in wrong.stderr
    right = run_cli(
        "publish",
        "--store",
        proxy.url,
        "--token-env",
        "CITYGRAPH_TEST_TOKEN",
        env={"CITYGRAPH_TEST_TOKEN": "s3cret"},
    )
    assert right.returncode == 0, right.stderr


def test_basic_auth_password_comes_from_the_environment(run_cli, proxy):
    import base64

    expected = "Basic " + base64.b64encode(b"editor:pa55").decode()
    proxy.intercept = lambda m, p, q, h: None if h.get("authorization") == expected else (401, b"no")
    result = run_cli(
        "publish",
        "--store",
        proxy.url,
        "--user",
        "editor",
        "--password-env",
        "CITYGRAPH_TEST_PW",
        env={"CITYGRAPH_TEST_PW": "pa55"},
    )
    assert result.returncode == 0, result.stderr
    assert all(h.get("authorization") == expected for _, _, h in proxy.seen)


def test_direct_put_without_update_endpoint(run_cli, oxigraph_server, data_files):
    result = run_cli("publish", "--store", oxigraph_server.url, "--update-endpoint", "none")
    assert result.returncode == 2 and "--direct" in result.stderr
    result = run_cli("publish", "--store", oxigraph_server.url, "--update-endpoint", "none", "--direct")
    assert result.returncode == 0, result.stderr
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*data_files)


def test_streamed_in_chunks(data_files):
    from citygraph.load import load_graph
    from citygraph.publish import ntriples_chunks

    graph = load_graph()
    chunks = list(ntriples_chunks(graph, graph.data_graph, chunk_triples=100))
    expected = triples_of(*data_files)
    assert len(chunks) == -(-len(expected) // 100)
    received = {
        _canonical(q.triple)
        for c in chunks
        for q in pyoxigraph.parse(c, format=pyoxigraph.RdfFormat.N_TRIPLES)
    }
    assert received == expected
