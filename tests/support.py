"""Helpers for tests that start real servers: free ports, readiness, the `oxigraph` server process.

Import them with ``from support import …`` (tests/ is on sys.path); fixtures live in conftest.py.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

WIKIDATA_ITEMS = Path(__file__).parent / "fixtures" / "wikidata" / "items.ttl"  # a stand-in Wikidata, for `link`


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


# ---------------------------------------------------------------- Virtuoso (Debian's virtuoso-opensource 7.2)

VIRTUOSO_INI = """\
[Database]
DatabaseFile = {dir}/virtuoso.db
ErrorLogFile = {dir}/virtuoso.log
LockFile = {dir}/virtuoso.lck
TransactionFile = {dir}/virtuoso.trx
xa_persistent_file = {dir}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
Striping = 0
TempStorage = TempDatabase
[TempDatabase]
DatabaseFile = {dir}/virtuoso-temp.db
TransactionFile = {dir}/virtuoso-temp.trx
[Parameters]
ServerPort = 127.0.0.1:{sql_port}
DisableUnixSocket = 1
CheckpointInterval = 0
NumberOfBuffers = 10000
MaxDirtyBuffers = 6000
DirsAllowed = {dir}
CaseMode = 2
[HTTPServer]
ServerPort = 127.0.0.1:{http_port}
ServerRoot = /var/lib/virtuoso-opensource-7/vsp
ServerThreads = 10
MaxClientConnections = 10
Charset = UTF-8
EnabledGzipContent = 0
[SPARQL]
; Debian's default row cap, kept: copies above it must fail loudly, not be cut silently
ResultSetMaxRows = {max_rows}
MaxQueryExecutionTime = 0
MaxQueryCostEstimationTime = 0
"""


@dataclass
class VirtuosoServer:
    """A real `virtuoso-t` on 127.0.0.1 with its own virtuoso.ini and database in a temporary directory, and a
    user allowed to write (SPARQL_UPDATE) whose password only the tests know."""

    url: str  # http://127.0.0.1:PORT
    process: subprocess.Popen[bytes]
    directory: Path
    user: str
    password: str

    @property
    def query_endpoint(self) -> str:
        return self.url + "/sparql"

    @property
    def update_endpoint(self) -> str:
        return self.url + "/sparql-auth"

    @property
    def store_endpoint(self) -> str:
        return self.url + "/sparql-graph-crud-auth"

    def publish_args(self) -> list[str]:
        """The `citygraph publish` options for this store (the password in $CITYGRAPH_VIRTUOSO_PW)."""
        return ["--store", self.url, "--store-endpoint", self.store_endpoint, "--query-endpoint",
                self.query_endpoint, "--update-endpoint", self.update_endpoint, "--auth", "digest",
                "--user", self.user, "--password-env", "CITYGRAPH_VIRTUOSO_PW"]

    def put(self, graph: str, body: bytes, media: str) -> None:
        """GSP PUT of one graph (Digest, with a Content-Length: Virtuoso stores nothing from a chunked body)."""
        response = httpx.put(self.store_endpoint, params={"graph": graph}, content=body,
                             headers={"Content-Type": media}, auth=httpx.DigestAuth(self.user, self.password),
                             timeout=60)
        response.raise_for_status()

    def log(self) -> str:
        path = self.directory / "virtuoso.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop(self) -> None:
        stop_process(self.process)


def start_virtuoso(directory: Path, *, max_rows: int = 10_000, timeout: float = 120.0) -> VirtuosoServer:
    """Start Virtuoso in ``directory`` (loopback, free ports), wait until its SPARQL endpoint answers (a cold
    start creates the database: seconds, more on a busy machine), create the test user; killed on failure."""
    import secrets

    binary = shutil.which("virtuoso-t")
    isql = shutil.which("isql-vt")
    if not binary or not isql:
        pytest.fail("Virtuoso is not installed: `apt-get install virtuoso-opensource` (.ci/run does it)")
    directory.mkdir(parents=True, exist_ok=True)
    sql_port, http_port = free_port(), free_port()
    (directory / "virtuoso.ini").write_text(
        VIRTUOSO_INI.format(dir=directory, sql_port=sql_port, http_port=http_port, max_rows=max_rows)
    )
    process = subprocess.Popen(
        [binary, "+foreground", "+configfile", str(directory / "virtuoso.ini")],
        cwd=directory,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = VirtuosoServer(f"http://127.0.0.1:{http_port}", process, directory, "citygraph",
                            secrets.token_hex(12))
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"Virtuoso exited ({process.returncode}):\n{server.log()}")
            try:
                if httpx.get(server.query_endpoint, params={"query": "ASK {}"}, timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"Virtuoso did not answer within {timeout} s:\n{server.log()}")
            time.sleep(0.2)
        admin_password = secrets.token_hex(12)
        sql = (f"DB.DBA.USER_CREATE('{server.user}', '{server.password}'); "
               f"GRANT SPARQL_UPDATE TO \"{server.user}\"; "
               f"USER_SET_PASSWORD('dba', '{admin_password}');")
        done = subprocess.run([isql, f"127.0.0.1:{sql_port}", "dba", "dba", f"exec={sql}"],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0 or "Error" in done.stdout + done.stderr:
            raise RuntimeError(f"cannot create the Virtuoso test user: {done.stdout}{done.stderr}")
    except BaseException:
        server.stop()
        raise
    return server


_shared_virtuoso: VirtuosoServer | None = None


def shared_virtuoso() -> VirtuosoServer:
    """One Virtuoso for the whole test session (started on first use; stop_shared_virtuoso() at the end)."""
    import tempfile

    global _shared_virtuoso
    if _shared_virtuoso is None or _shared_virtuoso.process.poll() is not None:
        _shared_virtuoso = start_virtuoso(Path(tempfile.mkdtemp(prefix="citygraph-virtuoso-")))
    return _shared_virtuoso


def stop_shared_virtuoso() -> None:
    global _shared_virtuoso
    if _shared_virtuoso is not None:
        _shared_virtuoso.stop()
        shutil.rmtree(_shared_virtuoso.directory, ignore_errors=True)
        _shared_virtuoso = None


class Listener:
    """A loopback TCP listener counting the connections it receives (closing each at once)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.05)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()
