"""The gathering transport (``serve/transport.py``): a response's head and body leave in one write, nothing is
held past a turn of the event loop, reordered or lost; and the server speaks HTTP/1.1 through it (pipelining)."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from bgp_generators import queries
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from citygraph.serve.transport import GatheringTransport, HttpProtocol


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_writes_of_one_turn_leave_in_one_write_in_order() -> None:
    async def scenario() -> tuple[RecordingTransport, list[list[bytes]]]:
        real = RecordingTransport()
        gathering = GatheringTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        seen = []
        gathering.write(b"HTTP/1.1 200 OK\r\n\r\n")
        gathering.write(b"")  # nothing to write: no empty write either
        gathering.write(bytearray(b"body"))
        seen.append(list(real.writes))  # nothing yet: the turn is not over
        await asyncio.sleep(0)
        seen.append(list(real.writes))
        gathering.writelines([b"a", b"b"])
        await asyncio.sleep(0)
        gathering.write(b"c")
        await asyncio.sleep(0)
        seen.append(list(real.writes))
        return real, seen

    real, seen = asyncio.run(scenario())
    assert seen[0] == []
    assert seen[1] == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    assert seen[2] == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"ab", b"c"]  # each turn's own write, in order
    assert real.writes == seen[2]


def test_close_writes_first_abort_drops_and_a_closed_peer_gets_nothing() -> None:
    async def scenario() -> tuple[RecordingTransport, RecordingTransport, RecordingTransport]:
        loop = asyncio.get_running_loop()
        closed, aborted, gone = RecordingTransport(), RecordingTransport(), RecordingTransport()
        first = GatheringTransport(closed, loop)  # type: ignore[arg-type]
        first.write(b"last words")
        first.close()
        second = GatheringTransport(aborted, loop)  # type: ignore[arg-type]
        second.write(b"dropped")
        assert second.get_write_buffer_size() == len(b"dropped")
        second.abort()
        third = GatheringTransport(gone, loop)  # type: ignore[arg-type]
        third.write(b"to nobody")
        gone.closed = True  # the peer went away before the turn ended
        assert third.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the real transport's
        await asyncio.sleep(0)
        return closed, aborted, gone

    closed, aborted, gone = asyncio.run(scenario())
    assert closed.writes == [b"last words"] and closed.closed
    assert aborted.writes == [] and aborted.aborted
    assert gone.writes == []


def test_pipelined_requests_get_their_answers_in_order(live_server) -> None:  # type: ignore[no-untyped-def]
    """Two requests in one packet on one connection (HTTP/1.1 pipelining): two whole answers, in order."""
    host, port = live_server.url.removeprefix("http://").split(":")
    requests = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/sparql-results+json\r\n\r\n".encode()
        for path in ("/sparql?query=ASK%7B%7D", "/sparql?query=ASK%7BFILTER(false)%7D")
    )
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(requests)
        received = b""
        while received.count(b'"boolean"') < 2:
            chunk = connection.recv(65536)
            assert chunk, received
            received += chunk
    first, second = received.index(b'"boolean":true'), received.index(b'"boolean":false')
    assert received.count(b"HTTP/1.1 200 OK") == 2 and first < second


# ---------------------------------------------------------------- lookups answered by the protocol itself

LOOKUPS = [  # the benchmark's shapes and others the lane answers
    'SELECT ?s ?p WHERE { ?s ?p "44109" } LIMIT 5',
    "SELECT ?p ?o WHERE { <https://w3id.org/citygraph/id/authority/nantes-metropole> ?p ?o }",
    'PREFIX cgo: <https://w3id.org/citygraph/ontology#> SELECT ?a ?p ?o WHERE { ?s cgo:inseeCode "44109" . '
    "?a cgo:seat ?s ; ?p ?o }",
    "ASK { ?s ?p ?o }",
    "SELECT * WHERE { ?s a ?t } LIMIT 3 OFFSET 2",
]
NOT_LOOKUPS = [
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }",
    "SELECT ?x WHERE { ?x",
    "CONSTRUCT WHERE { ?s a ?t } LIMIT 1",
]


WRITTEN: Counter[str] = Counter()  # answers the protocol wrote itself (HttpProtocol._write_answer)


@pytest.fixture(scope="module")
def two_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, int]]:
    """The same app behind uvicorn's own httptools protocol and behind :class:`HttpProtocol` (ports)."""
    import uvicorn

    from citygraph import settings as citygraph_settings
    from citygraph.serve.app import create_app
    from citygraph.serve.backend import prepare_store
    from citygraph.serve.state import ServeConfig

    config = ServeConfig(base=citygraph_settings.base_iri(), query_workers=1, max_rows=7)
    store = prepare_store(config, tmp_path_factory.mktemp("protocol") / "store")
    config = ServeConfig(**{**config.__dict__, "store_path": str(store)})
    servers, threads, ports = [], [], []
    original = HttpProtocol._write_answer

    def counting(self: HttpProtocol, *args: Any) -> None:
        WRITTEN["answers"] += 1
        original(self, *args)

    patch = pytest.MonkeyPatch()
    patch.setattr(HttpProtocol, "_write_answer", counting)
    for http in ("httptools", HttpProtocol):
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(
            uvicorn.Config(
                create_app(config), http=http, log_level="error", access_log=False, proxy_headers=False, log_config=None
            )
        )
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        servers.append(server)
        threads.append(thread)
        ports.append(sock.getsockname()[1])
        deadline = time.monotonic() + 120  # one after the other: two loops may not start processes at once
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "the test server did not start"
            time.sleep(0.05)
    yield ports[0], ports[1]
    for server in servers:
        server.should_exit = True
    for thread in threads:
        thread.join(30)
    patch.undo()


@st.composite
def raw_requests(draw: st.DrawFn) -> bytes:
    """One to three requests in one packet (pipelined), the last one asking to close the connection."""
    parts = []
    count = draw(st.integers(1, 3))
    for number in range(count):
        query = draw(st.one_of(st.sampled_from(LOOKUPS), st.sampled_from(NOT_LOOKUPS), queries(bundled=True)))
        query += draw(st.sampled_from(["", f" #{number}", "\n#x"]))
        target = "/sparql?query=" + quote(query, safe="")
        target += draw(st.sampled_from(["", "", "", "&format=csv", "&x=1"]))
        method = draw(st.sampled_from(["GET", "GET", "HEAD"]))
        version = draw(st.sampled_from(["1.1", "1.1", "1.1", "1.0"]))
        lines = [f"{method} {target} HTTP/{version}", "Host: 127.0.0.1"]
        accept = draw(
            st.sampled_from(
                [
                    None,
                    "application/sparql-results+json",
                    "text/csv",
                    "*/*",
                    "image/png",
                    "application/sparql-results+xml, text/tab-separated-values;q=0.5",
                ]
            )
        )
        if accept is not None:
            lines.append(f"Accept: {accept}")
        if draw(st.booleans()):
            lines.append("Origin: https://reuser.example")
        if draw(st.integers(0, 5)) == 5:  # rarely (its answers go through the application)
            lines.append('If-None-Match: "0123"')
        if number == count - 1:
            lines.append("Connection: close")
        elif version == "1.0" and draw(st.booleans()):
            lines.append("Connection: keep-alive")
        parts.append("\r\n".join(lines) + "\r\n\r\n")
    return "".join(parts).encode()


def without_access_log() -> None:
    """Take pytest's capture handlers off uvicorn's access logger (pytest attaches them to every logger that
    does not propagate; uvicorn then logs each request, which ``citygraph serve`` does not by default)."""
    logging.getLogger("uvicorn.access").handlers.clear()


def exchange(port: int, data: bytes) -> bytes:
    """What the server answers to ``data`` until it closes the connection, without its Date headers."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return re.sub(rb"\r\ndate: [^\r]*", b"", received)


@settings(
    max_examples=250,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=raw_requests())
def test_lookups_answered_by_the_protocol_are_the_applications_bytes(two_servers: tuple[int, int], data: bytes) -> None:
    """Requests sent to uvicorn's protocol running the app and to ours answering lookups itself: the same bytes."""
    without_access_log()
    reference, ours = two_servers
    want = exchange(reference, data)
    before = WRITTEN["answers"]
    got = exchange(ours, data)
    assert got == want
    event(f"{want.count(b'HTTP/1.1 200')} answers of 200, {WRITTEN['answers'] - before} written by the protocol")


def test_the_protocol_answers_lookups_without_the_application(two_servers: tuple[int, int]) -> None:
    """The lane answers before any task starts (else the test above compared uvicorn with itself); a query
    it cannot answer (outside the fast path, never asked: not cached) goes to the application."""
    from citygraph.serve.lookups import LookupLane

    without_access_log()
    _, ours = two_servers
    calls: list[str] = []
    original = LookupLane.__call__

    async def counting(self: LookupLane, scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["path"])
        await original(self, scope, receive, send)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LookupLane, "__call__", counting)
        request = f"GET /sparql?query={quote(LOOKUPS[0] + ' #only')} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        written = WRITTEN["answers"]
        answer = exchange(ours, request.encode())
        assert answer.startswith(b"HTTP/1.1 200 OK") and b"inseeCode" in answer
        assert calls == [] and WRITTEN["answers"] == written + 1
        other = exchange(
            ours,
            f"GET /sparql?query={quote(NOT_LOOKUPS[0] + ' #new')} HTTP/1.1\r\nHost: x\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        assert other.startswith(b"HTTP/1.1 200 OK"), other
        assert calls == ["/sparql"]
