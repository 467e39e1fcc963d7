"""`citygraph publish` against a real Oxigraph server: versions and one switch, counts, failures before the switch."""

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
VERSIONS_GRAPH = BASE + "graph/versions"


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


def graph_names(server: OxigraphServer) -> set[str]:
    """Every named graph the store knows, empty ones included (Oxigraph keeps a name its triples left)."""
    response = httpx.post(server.query_endpoint, timeout=10, headers={"Accept": "application/sparql-results+json"},
                          data={"query": "SELECT ?g { GRAPH ?g { } }"})
    response.raise_for_status()
    return {b["g"]["value"] for b in response.json()["results"]["bindings"]}


def current(server: OxigraphServer, graph: str) -> str:
    """The version of ``graph`` a reader follows (as `serve --store` and `query --endpoint` do)."""
    from citygraph.stores import current_versions

    return current_versions(server.query_endpoint, BASE, [graph])[graph]


def store_triples(server: OxigraphServer, graph: str) -> set[pyoxigraph.Triple]:
    """The triples a reader of ``graph`` sees: those of its current version."""
    response = httpx.get(
        server.store_endpoint,
        params={"graph": current(server, graph)},
        headers={"Accept": "application/n-triples"},
        timeout=10,
    )
    response.raise_for_status()
    return {
        _canonical(q.triple)
        for q in pyoxigraph.parse(response.content, format=pyoxigraph.RdfFormat.N_TRIPLES)
    }


def authority_by_insee(run_cli, endpoint: str, code: str) -> str:
    result = run_cli("query", "authority-by-insee", "--param", f"code={code}", "--endpoint", endpoint,
                     "--format", "csv")
    assert result.returncode == 0, result.stderr
    return result.stdout


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
    data_version, ontology_version = current(oxigraph_server, DATA_GRAPH), current(oxigraph_server, ONTOLOGY_GRAPH)
    assert data_version.startswith(DATA_GRAPH + "/version/") and ontology_version.startswith(ONTOLOGY_GRAPH + "/")
    # The two versions and the pointers, nothing else (nothing in the default graph).
    assert set(store_graphs(oxigraph_server)) == {VERSIONS_GRAPH, data_version, ontology_version}
    assert "match" in result.stdout and data_version in result.stdout
    # query --endpoint follows the pointer to the published data.
    assert "Angers" in authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007")


def test_second_publish_replaces_rather_than_appends(run_cli, oxigraph_server, data_files, tmp_path):
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    first = current(oxigraph_server, DATA_GRAPH)
    subset = [p for p in data_files if p.name in ("authorities.ttl", "schemes.ttl")]
    result = run_cli("publish", "--store", oxigraph_server.url, *map(str, subset))
    assert result.returncode == 0, result.stderr
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*subset)
    second = current(oxigraph_server, DATA_GRAPH)
    # The previous version stays (readers that resolved the pointer just before the switch); older ones go.
    assert first in store_graphs(oxigraph_server) and len(store_graphs(oxigraph_server)) == 5
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    graphs = store_graphs(oxigraph_server)
    assert first not in graphs and second in graphs and len(graphs) == 5
    assert graph_names(oxigraph_server) == set(graphs)  # no empty graph left behind either
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*data_files)


def test_publish_over_a_graph_written_in_place_drops_it_a_publish_later(run_cli, oxigraph_server, data_files):
    """Data PUT under the graph's own name (an older publish, --direct) is kept as the previous version once."""
    assert run_cli("publish", "--store", oxigraph_server.url, "--update-endpoint", "none", "--direct").returncode == 0
    assert DATA_GRAPH in store_graphs(oxigraph_server)
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    assert DATA_GRAPH in store_graphs(oxigraph_server)
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    assert DATA_GRAPH not in store_graphs(oxigraph_server)
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*data_files)


def test_direct_publish_over_versions_removes_the_pointers(run_cli, oxigraph_server, data_files):
    """Readers follow the pointers: a --direct PUT in place must remove them, or it would not be seen."""
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    without_update = run_cli("publish", "--store", oxigraph_server.url, "--update-endpoint", "none", "--direct")
    assert without_update.returncode == 2 and "have versions" in without_update.stderr  # it could not unpoint
    subset = [p for p in data_files if p.name == "schemes.ttl"]
    result = run_cli("publish", "--store", oxigraph_server.url, "--direct", *map(str, subset))
    assert result.returncode == 0, result.stderr
    assert current(oxigraph_server, DATA_GRAPH) == DATA_GRAPH
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*subset)
    assert "Angers" not in authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007")
    again = run_cli("publish", "--store", oxigraph_server.url, "--update-endpoint", "none", "--direct")
    assert again.returncode == 0, again.stderr  # no pointer left: a store without update can take it


def test_graph_option_names_the_data_graph(run_cli, oxigraph_server, data_files):
    target = "https://example.org/graphs/smart-cities-2017"
    result = run_cli("publish", "--store", oxigraph_server.url, "--graph", target)
    assert result.returncode == 0, result.stderr
    assert store_triples(oxigraph_server, target) == triples_of(*data_files)
    assert current(oxigraph_server, DATA_GRAPH) == DATA_GRAPH  # no pointer for the default name
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
    body: bytes = b""  # the body of the request being intercepted


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
            body = state.body = _read_body(self)
            verdict = state.intercept(self.command, split.path, parse_qs(split.query), headers)
            if verdict == "drop":  # the store dies: no answer at all
                self.close_connection = True
                return
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


def _update_text(proxy: Proxy) -> str:
    return parse_qs(proxy.body.decode()).get("update", [""])[0]


def _is_switch(proxy: Proxy, method: str, path: str) -> bool:
    text = _update_text(proxy) if method == "POST" and path == "/update" else ""
    return "hasCurrentVersion" in text and "INSERT" in text


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
        assert after[current(restarted, DATA_GRAPH)] == len(triples_of(*data_files))
        assert {g: n for g, n in after.items() if g in before and g != VERSIONS_GRAPH} == {
            g: n for g, n in before.items() if g != VERSIONS_GRAPH
        }
        # The cut publish left a recorded version behind; the next publish drops it.
        assert run_cli("publish", "--store", restarted.url).returncode == 0
        assert len(store_graphs(restarted)) == 5
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
    # Previous versions and pointers intact, the new ontology version that had been uploaded is gone.
    assert store_graphs(oxigraph_server) == before


def test_old_graphs_answer_until_the_switch(run_cli, proxy, oxigraph_server, data_files):
    """Everything is uploaded and counted before the switch; until it, readers get the previous data."""
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    seen_before_switch: list[str] = []

    def at_switch(method, path, query, headers):
        if _is_switch(proxy, method, path):
            stamp = _update_text(proxy).split(DATA_GRAPH + "/version/")[1].split(">")[0]
            new_version = f"{DATA_GRAPH}/version/{stamp}"
            seen_before_switch.append(authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007"))
            seen_before_switch.append(new_version)
        return None

    proxy.intercept = at_switch
    subset = [p for p in data_files if p.name == "schemes.ttl"]
    result = run_cli("publish", "--store", proxy.url, *map(str, subset))
    assert result.returncode == 0, result.stderr
    old_answer, new_version = seen_before_switch
    assert "Angers" in old_answer  # the new version was on the store, complete, and not yet read
    assert store_graphs(oxigraph_server)[new_version] == len(triples_of(*subset))
    assert current(oxigraph_server, DATA_GRAPH) == new_version
    assert "Angers" not in authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007")


def test_publish_cut_at_the_switch_replaces_nothing(run_cli, proxy, oxigraph_server, data_files):
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    before = store_graphs(oxigraph_server)
    pointers = current(oxigraph_server, DATA_GRAPH), current(oxigraph_server, ONTOLOGY_GRAPH)
    proxy.intercept = lambda m, p, q, h: "drop" if _is_switch(proxy, m, p) else None
    subset = [p for p in data_files if p.name == "schemes.ttl"]
    result = run_cli("publish", "--store", proxy.url, *map(str, subset))
    assert result.returncode == 3, result.stderr
    assert "Not switched" in result.stderr and "Traceback" not in result.stderr
    assert (current(oxigraph_server, DATA_GRAPH), current(oxigraph_server, ONTOLOGY_GRAPH)) == pointers
    assert store_graphs(oxigraph_server) == before  # the uploaded versions were dropped
    assert "Angers" in authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007")


def test_count_difference_before_the_switch_replaces_nothing_and_direct_exits_1(run_cli, proxy, oxigraph_server):
    def inflate(payload: bytes) -> bytes:
        answer = json.loads(payload)
        for binding in answer["results"]["bindings"]:
            binding["n"]["value"] = str(int(binding["n"]["value"]) + 1)
        return json.dumps(answer).encode()

    switched: list[bool] = []

    def intercept(method, path, query, headers):
        if _is_switch(proxy, method, path):
            switched.append(True)
        counting = method == "POST" and path == "/query" and b"COUNT" in proxy.body.upper()
        return inflate if counting and b"GROUP" not in proxy.body.upper() else None

    proxy.intercept = intercept
    result = run_cli("publish", "--store", proxy.url)
    assert result.returncode == 3, result.stderr
    assert "the store holds" in result.stderr and "Nothing was replaced" in result.stderr and not switched
    assert store_graphs(oxigraph_server) == {}  # the versions uploaded were dropped, no pointer set
    direct = run_cli("publish", "--store", proxy.url, "--direct")  # in place: counted after the PUT
    assert direct.returncode == 1, direct.stderr
    assert "differ" in direct.stdout


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


# ---------------------------------------------------------------- deleting the versions nobody reads


PROV_RETIRED = "http://www.w3.org/ns/prov#invalidatedAtTime"


def retired_at(server: OxigraphServer, version: str, when: str | None) -> None:
    """Say on the store that ``version`` stopped being current at ``when`` (None: the store's time now)."""
    value = f'"{when}"^^<http://www.w3.org/2001/XMLSchema#dateTime>' if when else "?now"
    update = (
        f"DELETE {{ GRAPH <{VERSIONS_GRAPH}> {{ <{version}> <{PROV_RETIRED}> ?t }} }} "
        f"INSERT {{ GRAPH <{VERSIONS_GRAPH}> {{ <{version}> <{PROV_RETIRED}> {value} }} }} "
        f"WHERE {{ OPTIONAL {{ GRAPH <{VERSIONS_GRAPH}> {{ <{version}> <{PROV_RETIRED}> ?t }} }} BIND(NOW() AS ?now) }}"
    )
    httpx.post(server.update_endpoint, data={"update": update}, timeout=30).raise_for_status()


def recorded_versions(server: OxigraphServer) -> set[str]:
    from citygraph.stores import versions_query

    response = httpx.post(server.query_endpoint, data={"query": versions_query(BASE, [DATA_GRAPH, ONTOLOGY_GRAPH])},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30)
    return {row["version"]["value"] for row in response.json()["results"]["bindings"]}


def _is_drop_slice(proxy: Proxy, method: str, path: str) -> bool:
    text = _update_text(proxy) if method == "POST" and path == "/update" else ""
    return text.startswith("DELETE") and "/version/" in text and "hasVersion" not in text


def test_switch_records_when_a_version_stopped_being_current(run_cli, oxigraph_server):
    from citygraph.publish import RETIRED_GRACE_S, StoreClient, StoreEndpoints
    from citygraph.publish import Credentials as Creds

    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    first = current(oxigraph_server, DATA_GRAPH)
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    client = StoreClient(StoreEndpoints.derive(oxigraph_server.url), Creds())
    try:
        ages = client.retired_ages(BASE, [first, current(oxigraph_server, DATA_GRAPH)])
    finally:
        client.close()
    assert list(ages) == [first]  # the current version has no end; the first one ended at the second switch
    assert 0 <= ages[first] < 60 and RETIRED_GRACE_S > 1


def test_a_version_just_replaced_is_kept_for_the_grace(oxigraph_server, data_files):
    """Readers may hold a pointer resolved just before a switch: deletion waits RETIRED_GRACE_S after it."""
    from citygraph.load import load_graph
    from citygraph.publish import Cleanup, Credentials, StoreClient, StoreEndpoints, publish

    graph = load_graph()
    endpoints = StoreEndpoints.derive(oxigraph_server.url)
    publish(graph, endpoints, progress=False)
    first = current(oxigraph_server, DATA_GRAPH)
    publish(graph, endpoints, progress=False)
    retired_at(oxigraph_server, first, None)  # replaced this very moment
    size = store_graphs(oxigraph_server)[first]
    client = StoreClient(endpoints, Credentials())
    cleanup = Cleanup(client, BASE, {DATA_GRAPH: {first}})
    cleanup.start()
    cleanup.stop()  # well within the grace: nothing deleted, the version still recorded
    assert store_graphs(oxigraph_server)[first] == size and first in recorded_versions(oxigraph_server)
    retired_at(oxigraph_server, first, "2000-01-01T00:00:00Z")
    Cleanup(client, BASE, {DATA_GRAPH: {first}}).run()
    assert first not in store_graphs(oxigraph_server) and first not in recorded_versions(oxigraph_server)
    client.close()


def test_old_version_is_deleted_during_the_upload_while_the_current_one_answers(
    run_cli, proxy, oxigraph_server, data_files
):
    """On Oxigraph the version before the previous goes while the new one is uploaded, not after the switch."""
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    first = current(oxigraph_server, DATA_GRAPH)
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    second = current(oxigraph_server, DATA_GRAPH)
    retired_at(oxigraph_server, first, "2000-01-01T00:00:00Z")
    is_data_put = _put_of(DATA_GRAPH)
    seen: list[object] = []

    def hold_the_data_put(method, path, query, headers):
        if is_data_put(method, path, query):
            for _ in range(600):  # the deletion runs beside this upload: wait for it here (at most 60 s)
                if first not in store_graphs(oxigraph_server):
                    break
                threading.Event().wait(0.1)
            seen.append(first in store_graphs(oxigraph_server))
            seen.append(current(oxigraph_server, DATA_GRAPH))
            seen.append(authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007"))
        return None

    proxy.intercept = hold_the_data_put
    result = run_cli("publish", "--store", proxy.url)
    assert result.returncode == 0, result.stderr
    still_there, pointer, answer = seen
    assert not still_there and pointer == second and "Angers" in answer
    assert store_graphs(oxigraph_server)[second] == len(triples_of(*data_files))  # kept as the previous one
    assert len(store_graphs(oxigraph_server)) == 5


def test_publish_killed_while_deleting_leaves_the_current_version_and_the_next_cleans_up(
    run_cli, proxy, oxigraph_server, data_files, tmp_path
):
    import os
    import signal
    import subprocess
    import sys

    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    first = current(oxigraph_server, DATA_GRAPH)
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    second = current(oxigraph_server, DATA_GRAPH)
    retired_at(oxigraph_server, first, "2000-01-01T00:00:00Z")
    size = store_graphs(oxigraph_server)[first]
    publisher: list[subprocess.Popen[str]] = []
    slices: list[int] = []

    def kill_after_two_slices(method, path, query, headers):
        if _is_drop_slice(proxy, method, path):
            slices.append(1)
            if len(slices) == 3:  # two slices of the old version deleted: the publisher dies, this one is lost
                os.kill(publisher[0].pid, signal.SIGKILL)
                return "drop"
        return None

    proxy.intercept = kill_after_two_slices
    publisher.append(subprocess.Popen([sys.executable, "-m", "citygraph", "publish", "--store", proxy.url],
                                      cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    publisher[0].communicate(timeout=120)
    assert publisher[0].returncode == -signal.SIGKILL
    # Killed mid-deletion: the current version untouched and served, the old one partly deleted, still recorded.
    assert current(oxigraph_server, DATA_GRAPH) == second
    assert store_graphs(oxigraph_server)[second] == len(triples_of(*data_files))
    assert 0 < store_graphs(oxigraph_server).get(first, 0) < size and first in recorded_versions(oxigraph_server)
    assert "Angers" in authority_by_insee(run_cli, oxigraph_server.query_endpoint, "49007")

    proxy.intercept = lambda *_: None
    assert run_cli("publish", "--store", oxigraph_server.url).returncode == 0
    graphs = store_graphs(oxigraph_server)
    assert first not in graphs and second in graphs and len(graphs) == 5  # the killed publish's versions too
    assert graph_names(oxigraph_server) == set(graphs)
    assert recorded_versions(oxigraph_server) == set(graphs) - {VERSIONS_GRAPH}
    assert store_triples(oxigraph_server, DATA_GRAPH) == triples_of(*data_files)
