"""Helpers for tests that start real servers: free ports, readiness, the `oxigraph` server process.

Import them with ``from support import …`` (tests/ is on sys.path); fixtures live in conftest.py.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1.0)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered at {url} within {timeout} s")


@dataclass
class OxigraphServer:
    """A real `oxigraph serve` process on 127.0.0.1 (the `oxigraph` package from PyPI)."""

    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]
    location: Path

    @property
    def query_endpoint(self) -> str:
        return self.url + "/query"

    @property
    def update_endpoint(self) -> str:
        return self.url + "/update"

    @property
    def store_endpoint(self) -> str:
        return self.url + "/store"

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """Terminate a child process, killing it if it has not exited within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def oxigraph_binary() -> str:
    found = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(found).exists():
        pytest.fail("the `oxigraph` server is not installed: pip install '.[test]' installs it")
    return found


def start_oxigraph(location: Path, *, read_only: bool = False) -> OxigraphServer:
    port = free_port()
    command = "serve-read-only" if read_only else "serve"
    process = subprocess.Popen(
        [oxigraph_binary(), command, "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = OxigraphServer(f"http://127.0.0.1:{port}", process, location)
    try:
        wait_for_http(server.query_endpoint + "?query=ASK%7B%7D")
    except RuntimeError:
        server.stop()
        raise
    return server


def cli_error(stderr: str) -> str:
    """The single error line of a failed command's stderr, after the line saying which data it uses."""
    lines = [line for line in stderr.splitlines() if not line.startswith("citygraph: using ")]
    assert len(lines) == 1 and lines[0].startswith("citygraph: error: "), stderr
    return lines[0]
def fixture_data_files() -> list[Path]:
    """The bundled data the failing fixtures under tests/shapes/ are validated with: all of it but members.ttl.

    The ~600 member communes (data/members.ttl) make pyshacl four times slower (6 s, not 1.6 s, per run) and no
    fixture uses them; the whole bundled graph is validated by both engines in its own tests.
    """
    from citygraph import settings

    return [path for path in settings.data_files() if path.name != "members.ttl"]
