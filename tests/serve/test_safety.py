"""A public endpoint must survive any request: no outgoing requests, a time limit that frees the worker,
hostile sizes refused, and the server answering afterwards."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from conftest import client_from
from support import Listener

from citygraph.serve.workers import REPLY_HEADER, REQUEST_HEADER

CGO = "https://w3id.org/citygraph/ontology#"
CHEAP = f"SELECT (COUNT(?a) AS ?n) WHERE {{ ?a a <{CGO}SmartCityProgramme> }}"
# A cross product of the whole graph with itself, three times over: ~10^10 rows to count.
SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


@pytest.fixture
def listener() -> Iterator[Listener]:
    lst = Listener()
    yield lst
    lst.close()


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[1].split()[0] != "Z"


def raw_get_status(server_url: str, target: str) -> int | None:
    """Send a GET with any request target over a bare socket; the status code, or None if dropped."""
    host, port = server_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            sock.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            first = sock.recv(64)
        except (ConnectionResetError, BrokenPipeError):
            return None
    return int(first.split()[1]) if first.startswith(b"HTTP/1.1 ") else None


def count_programmes(server_url: str, source: str = "127.0.0.1") -> int:
    with client_from(source) as client:
        response = client.get(server_url + "/sparql", params={"query": CHEAP}, timeout=10)
    assert response.status_code == 200, response.text
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def test_service_never_reaches_a_listener(live_server, listener: Listener) -> None:  # type: ignore[no-untyped-def]
    target = f"<http://127.0.0.1:{listener.port}/sparql>"
    queries = [
        f"SELECT * WHERE {{ SERVICE {target} {{ ?s ?p ?o }} }}",
        f"select * where {{ service silent {target} {{ ?s ?p ?o }} }}",
        f"SELECT * WHERE {{ \\u0053ERVICE {target} {{ ?s ?p ?o }} }}",  # \\u escapes apply first
        f"SELECT * WHERE {{ ?x ?y ?z OPTIONAL {{ SERVICE {target} {{ ?s ?p ?o }} }} }} LIMIT 1",
        f"SELECT * {{ #x\rSERVICE {target} {{ ?s ?p ?o }} }}",  # issue 9: a comment ends at CR too
        f"BASE <http://127.0.0.1:{listener.port}/> SELECT * {{ #\r\nService <sparql> {{ ?s ?p ?o }} }}",
        f"PREFIX r: <http://127.0.0.1:{listener.port}/> ASK {{ {{ SELECT * {{ SERVICE r:sparql {{}} }} }} }}",
    ]
    for query in queries:
        for response in (
            httpx.get(live_server.sparql, params={"query": query}),
            httpx.post(
                live_server.sparql, content=query, headers={"content-type": "application/sparql-query"}
            ),
        ):
            assert response.status_code == 400, (query, response.text)
            assert "SERVICE" in response.json()["error"]["detail"]
    for update in (f"LOAD {target}", f"LOAD {target} INTO GRAPH <http://example.org/g>"):
        assert httpx.post(live_server.sparql, data={"update": update}).status_code == 403
        assert httpx.get(live_server.sparql, params={"query": update}).status_code == 400
    time.sleep(0.5)
    assert listener.connections == 0
    assert count_programmes(live_server.url) == 24


def test_worker_has_no_network_even_past_the_screen(tmp_path: Path, listener: Listener) -> None:
    """Second line of defence: a worker given SERVICE directly cannot connect anywhere."""
    from citygraph.serve.backend import prepare_store
    from citygraph.serve.state import ServeConfig

    store = prepare_store(ServeConfig(bundled=False, graphs=()), tmp_path / "store")
    worker = subprocess.Popen(
        [sys.executable, "-m", "citygraph.serve.workers", "--store", str(store)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert worker.stdin and worker.stdout

    def reply() -> tuple[dict[str, object], bytes]:
        head_len, body_len = REPLY_HEADER.unpack(worker.stdout.read(REPLY_HEADER.size))  # type: ignore[union-attr]
        data = worker.stdout.read(head_len + body_len)  # type: ignore[union-attr]
        return json.loads(data[:head_len]), data[head_len:]

    try:
        ready, _ = reply()
        if not ready.get("isolated"):
            pytest.skip(
                "this system does not allow a private network namespace; the screen still refuses SERVICE"
            )
        request = json.dumps(
            {
                "op": "execute",
                "query": f"SELECT * {{ SERVICE <http://127.0.0.1:{listener.port}/> {{ ?s ?p ?o }} }}",
                "accept": ["application/sparql-results+json"],
                "max_rows": 10,
            }
        )
        worker.stdin.write(REQUEST_HEADER.pack(len(request)) + request.encode())
        worker.stdin.flush()
        header, _ = reply()
        assert header["ok"] is False
        time.sleep(0.3)
        assert listener.connections == 0
    finally:
        worker.kill()
        worker.wait()


def test_time_limit_stops_the_query_and_others_are_served(start_server) -> None:  # type: ignore[no-untyped-def]
    # one HTTP worker: its query workers are then the server process's children
    server = start_server("--timeout", "2", "--workers", "1", "--query-workers", "2")
    workers_before = children(server.process.pid)
    assert len(workers_before) == 3  # two for protocol queries, one for the site's own
    finished: dict[str, float] = {}

    def slow() -> httpx.Response:
        response = httpx.get(server.sparql, params={"query": SLOW}, timeout=60)
        finished["slow"] = time.monotonic()
        return response

    def cheap() -> tuple[int, float]:
        time.sleep(0.5)  # the slow query is running by now
        sent = time.monotonic()
        count = count_programmes(server.url, "127.0.0.2")  # another client: not queued behind the first
        finished["cheap"] = time.monotonic()
        return count, sent

    with ThreadPoolExecutor(2) as pool:
        slow_future, cheap_future = pool.submit(slow), pool.submit(cheap)
        slow_response = slow_future.result()
        count, _ = cheap_future.result()
    assert count == 24
    assert finished["cheap"] < finished["slow"]  # answered while the slow query was still running
    assert slow_response.status_code == 503
    assert "time limit" in slow_response.json()["error"]["detail"]
    # the worker that ran it was killed (no CPU left burning) and replaced
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = children(server.process.pid)
        if len(now) == 3 and now != workers_before:
            break
        time.sleep(0.1)
    killed = workers_before - children(server.process.pid)
    assert len(killed) == 1 and not any(alive(pid) for pid in killed)
    assert len(children(server.process.pid)) == 3
    assert count_programmes(server.url) == 24


def test_two_megabyte_query_is_refused(live_server) -> None:  # type: ignore[no-untyped-def]
    filler = " ".join(f"<http://example.org/s{i}> <http://example.org/p> ?o{i} ." for i in range(40_000))
    query = "ASK { " + filler + " }"
    assert len(query) > 2_000_000
    direct = httpx.post(
        live_server.sparql, content=query, headers={"content-type": "application/sparql-query"}
    )
    assert direct.status_code == 413
    assert direct.json()["error"]["status"] == 413
    form = httpx.post(live_server.sparql, data={"query": query})
    assert form.status_code == 413
    status = raw_get_status(live_server.url, "/sparql?query=" + quote(query))  # httpx refuses such a URL
    assert status is None or 400 <= status < 500  # a 4xx, or the HTTP server drops the request line
    assert count_programmes(live_server.url) == 24


def test_thousand_pattern_query_is_refused(live_server) -> None:  # type: ignore[no-untyped-def]
    """pyoxigraph spends ~16 s planning this 40 KB query; the screen refuses it at once."""
    patterns = " ".join(f"?s{i} <http://example.org/p{i}> ?o{i} ." for i in range(1000))
    query = "ASK { " + patterns + " }"
    assert 30_000 < len(query) < 256 * 1024
    response = httpx.post(
        live_server.sparql, content=query, headers={"content-type": "application/sparql-query"}, timeout=30
    )
    assert response.status_code == 400
    assert "triple patterns" in response.json()["error"]["detail"]
    assert count_programmes(live_server.url) == 24


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("ASK { FILTER(" + "!" * 10_000 + "true) }", "nests"),  # overflowed the store's stack (issue 9)
        ("ASK { ?s ?p (" + " 1" * 300 + ") }", "triple patterns"),  # 9 s of CPU
        ("ASK { ?s ?p (" + " 1" * 20_000 + ") }", "triple patterns"),  # crashed a worker
        ("SELECT * {" + " ".join(f"BIND({i} AS ?v{i})" for i in range(3_000)) + "}", "BIND"),  # crashed a worker
        (
            'SELECT ?x24 { BIND("ab" AS ?x0) '
            + " ".join(f"BIND(CONCAT(?x{i}, ?x{i}) AS ?x{i + 1})" for i in range(24))
            + " }",
            "string",
        ),  # gigabytes in a few seconds
        (
            "SELECT * { ?a0 ?b0 ?c0 "
            + "".join(f"OPTIONAL {{ ?a{i} ?b{i} ?c{i} " for i in range(1, 31))
            + "}" * 30
            + " }",
            "OPTIONAL",
        ),  # 3.4 GB on the bundled graph
    ],
)
def test_costly_queries_are_refused_before_any_engine(live_server, query: str, says: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.post(
        live_server.sparql, content=query, headers={"content-type": "application/sparql-query"}, timeout=30
    )
    assert response.status_code == 400, response.text[:300]
    assert says in response.json()["error"]["detail"]
    assert count_programmes(live_server.url) == 24


@pytest.mark.parametrize("shape", ["braces", "parens", "optional"])
def test_deep_nesting_is_refused(live_server, shape: str) -> None:  # type: ignore[no-untyped-def]
    depth = 5000
    query = {
        "braces": "ASK " + "{ " * depth + "}" * depth,
        "parens": "ASK { FILTER(" + "(" * depth + "1" + ")" * depth + ") }",
        "optional": "ASK { " + "OPTIONAL { " * depth + "}" * depth + " }",
    }[shape]
    response = httpx.post(
        live_server.sparql, content=query, headers={"content-type": "application/sparql-query"}
    )
    assert response.status_code == 400
    assert "nests" in response.json()["error"]["detail"]
    assert count_programmes(live_server.url) == 24


def test_a_dying_worker_costs_one_query_not_the_server(start_server) -> None:  # type: ignore[no-untyped-def]
    """Kill a worker in the middle of a query (as a stack overflow would): one 503, then recovery."""
    server = start_server("--timeout", "20", "--workers", "1", "--query-workers", "1")
    workers = children(server.process.pid)  # the protocol query's worker and the site's

    def killer() -> None:
        time.sleep(0.7)
        for worker in workers:
            os.kill(worker, signal.SIGKILL)

    thread = threading.Thread(target=killer)
    thread.start()
    response = httpx.get(server.sparql, params={"query": SLOW}, timeout=30)
    thread.join()
    assert response.status_code == 503  # a resource limit, never a 5xx of the server itself
    assert "engine" in response.json()["error"]["detail"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and len(children(server.process.pid) - workers) < 2:
        time.sleep(0.1)
    assert count_programmes(server.url) == 24
