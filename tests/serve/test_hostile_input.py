"""Odd input never gets a 5xx: paths an IRI cannot hold, a poisoned Host, a store answer that breaks off;
the Service Description for clients that list RDF beside HTML (rapper); SIGTERM and SIGINT clean up."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
from conftest import LiveServer, free_port, wait_ready

BAD_SUFFIXES = ["%20", "%00", "%FF", "%3C", "<", ">", "%7B", "{", '"', "%22", "%5C", "\\", "%0A", "%09"]


def raw_get(url: str, target: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    """GET any request target over a bare socket (no client-side escaping): status and body."""
    host, port = url.removeprefix("http://").split(":")
    headers = {"Host": f"{host}:{port}", **(headers or {})}
    lines = [f"GET {target} HTTP/1.1", "Connection: close"] + [f"{k}: {v}" for k, v in headers.items()]
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


@pytest.mark.parametrize("route", ["/id/", "/page/", "/data/"])
def test_paths_no_iri_can_hold_answer_404_not_500(live_server, route: str) -> None:  # type: ignore[no-untyped-def]
    """Issue 9 #7: these answered 500 with a traceback; a final %0A or %09 answered as if absent."""
    for suffix in BAD_SUFFIXES:
        for path in (f"authority/paris{suffix}", f"authority/{suffix}paris", f"a{suffix}.ttl"):
            if route == "/data/" and not path.endswith(".ttl"):
                path += ".ttl"
            status, body = raw_get(live_server.url, route + path)
            assert status in (400, 404), (route + path, status, body[:300])
    assert raw_get(live_server.url, "/page/authority/paris")[0] == 200
    assert raw_get(live_server.url, "/data/authority/paris.ttl")[0] == 200
    assert "Traceback" not in live_server.log()


def test_a_host_header_never_reaches_cached_pages(live_server) -> None:  # type: ignore[no-untyped-def]
    """Issue 9 #6: one request with Host: attacker.example made / and /page/… advertise its dumps URL."""
    for path in ("/", "/page/authority/paris", "/dumps/", "/catalog", "/.well-known/void"):
        _, poisoned = raw_get(live_server.url, path, {"Host": "attacker.example"})
        assert b"attacker.example" not in poisoned, path
        later = httpx.get(live_server.url + path, timeout=30)
        assert "attacker.example" not in later.text, path
        if path == "/":
            assert live_server.url + "/dumps/" in later.text


@pytest.mark.parametrize(
    "accept",
    [
        "text/turtle, text/html;q=0.2",  # rapper, Comunica
        "text/html, text/turtle",  # RDF beside HTML
        "application/ld+json, text/html;q=0.9",
        "text/turtle;q=0.5, text/html;q=0.5, */*;q=0.1",
        "application/rdf+xml",
        "*/*",
    ],
)
def test_service_description_for_any_accept_listing_rdf_beside_html(live_server, accept: str) -> None:  # type: ignore[no-untyped-def]
    response = httpx.get(live_server.sparql, headers={"Accept": accept}, timeout=30)
    assert response.status_code == 200, (accept, response.status_code, response.headers.get("location"))
    assert "html" not in response.headers["content-type"]
    assert "sparql-service-description#" in response.text


def test_a_browser_still_gets_the_query_editor(live_server) -> None:  # type: ignore[no-untyped-def]
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"
    response = httpx.get(live_server.sparql, headers={"Accept": browser}, timeout=30)
    assert response.status_code == 303 and response.headers["location"].endswith("/query")


def test_rapper_reads_the_service_description(live_server) -> None:  # type: ignore[no-untyped-def]
    rapper = shutil.which("rapper")
    if rapper is None:
        pytest.fail("rapper is not installed: .ci/run installs Debian's raptor2-utils")
    done = subprocess.run([rapper, "-i", "guess", "-c", live_server.sparql], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    count = int(done.stderr.split("returned")[1].split()[0])
    assert count > 0, done.stderr


# ---------------------------------------------------------------- signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signals_stop_the_server_and_remove_its_temporary_store(tmp_path: Path, sig: int) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    port = free_port()
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "citygraph", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "TMPDIR": str(scratch)},
        )
    server = LiveServer(f"http://127.0.0.1:{port}", "embedded", process, log_path)
    try:
        wait_ready(server)
        assert list(scratch.iterdir()), "the server keeps its store under TMPDIR"
        workers = descendants(process.pid)  # HTTP workers, their query workers (and multiprocessing's tracker)
        assert len(workers) >= 2, workers
        process.send_signal(sig)
        assert process.wait(timeout=30) == 0, server.log()
    finally:
        if process.poll() is None:
            process.kill()
    assert list(scratch.iterdir()) == [], "a temporary store was left behind"
    deadline = time.monotonic() + 10  # orphans still ending are reaped by init within moments
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.1)
    assert not [pid for pid in workers if Path(f"/proc/{pid}").exists()], "worker processes outlived the server"


def descendants(pid: int) -> list[str]:
    """Every process below ``pid`` (children, their children…), from /proc."""
    found: list[str] = []
    pending = [str(pid)]
    while pending:
        parent = pending.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found += children
        pending += children
    return found


# ---------------------------------------------------------------- a store whose answers break off


class BrokenStore(BaseHTTPRequestHandler):
    """A SPARQL store whose answers break off when the query says so (BROKEN_JSON, BROKEN_STREAM)."""

    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:
        return None

    def _answer(self, status: int, media: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        form = parse_qs(self.rfile.read(int(self.headers.get("content-length", 0))).decode())
        query = form.get("query", [""])[0]
        if "CONSTRUCT" in query:
            self._answer(200, "application/n-triples", b"")
        elif "BROKEN_JSON" in query:  # complete HTTP, JSON cut in the middle of the bindings
            self._answer(200, "application/sparql-results+json",
                         b'{"head":{"vars":["s"]},"results":{"bindings":[{"s":{"type":"uri","value":"http://e/a"}},'
                         b'{"s":{"type":"ur')
        elif "BROKEN_STREAM" in query:  # chunked, and the connection drops mid-stream
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            chunk = b'{"head":{"vars":["s"]},"results":{"bindings":['
            self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        elif query.lstrip().upper().startswith(("ASK", "BASE")) and "ASK" in query:
            self._answer(200, "application/sparql-results+json", b'{"head":{},"boolean":true}')
        else:
            self._answer(200, "application/sparql-results+json",
                         json.dumps({"head": {"vars": ["s"]}, "results": {"bindings": []}}).encode())


@pytest.fixture
def broken_store() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BrokenStore)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_store_answer_that_breaks_off_is_a_clean_502(start_server, broken_store: str) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--store", broken_store)
    for marker in ("BROKEN_JSON", "BROKEN_STREAM"):
        query = f"SELECT ?s WHERE {{ ?s ?p ?o }} # {marker}"
        for accept in ("application/sparql-results+json", "text/csv", "application/sparql-results+xml"):
            response = httpx.get(server.sparql, params={"query": query}, headers={"Accept": accept}, timeout=30)
            assert response.status_code == 502, (marker, accept, response.status_code, response.text[:300])
            error = response.json()["error"]
            assert "store" in error["detail"], error
    assert httpx.get(server.sparql, params={"query": "ASK {}"}, timeout=30).status_code == 200
    assert "Traceback" not in server.log()
