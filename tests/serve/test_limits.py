"""Bounded workers and caches: memory and CPU caps per query worker, caches bounded in bytes with digest keys.

Each hostile query of issue 9 (a cross product, 30 nested OPTIONALs, a CONCAT doubling) must end in a 503
within the caps, the server's memory staying under them, and the worker replaced and serving again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import struct
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest

from citygraph.serve.cache import IMMUTABLE_MARK, FrontCache, ResponseCache
from citygraph.serve.state import MIB, default_worker_memory

CGO = "https://w3id.org/citygraph/ontology#"
CHEAP = f"SELECT (COUNT(?a) AS ?n) WHERE {{ ?a a <{CGO}SmartCityProgramme> }}"
CAP_MIB = 320


def concat_doubling(steps: int = 30) -> str:
    """A 16-character string doubled ``steps`` times by a chain of BINDs (16 GiB at 30)."""
    binds = " ".join(f"BIND(CONCAT(?a{i}, ?a{i}) AS ?a{i + 1})" for i in range(steps))
    return f'SELECT (STRLEN(?a{steps}) AS ?n) WHERE {{ BIND("abcdefghijklmnop" AS ?a0) {binds} }}'


def nested_optionals(depth: int = 30) -> str:
    inner = "".join(f"OPTIONAL {{ ?s{i} ?p{i} ?o{i} " for i in range(1, depth + 1)) + "}" * depth
    return f"SELECT * WHERE {{ ?s0 ?p0 ?o0 {inner} }}"


CROSS_PRODUCT = "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i"
HOSTILE = {"concat": concat_doubling(), "optionals": nested_optionals(), "cross": CROSS_PRODUCT}


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, bytes."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                total += next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except (OSError, StopIteration):
            continue
        pending += [int(child) for child in children]
    return total


def process_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))


def children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


class PeakSampler:
    """Samples the resident memory of each process of a tree every 20 ms: the peak of the largest one."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_worker = 0
        self.peak_total = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_total = max(self.peak_total, tree_rss(self.pid))
            for child in children(self.pid):
                with contextlib.suppress(OSError, StopIteration):
                    self.peak_worker = max(self.peak_worker, process_rss(child))
            time.sleep(0.02)

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_default_worker_memory_is_sized_from_the_machine() -> None:
    assert default_worker_memory(1, 2, available=16384 * MIB) == 2048 * MIB  # 2.7 GiB each: capped at 2 GiB
    assert default_worker_memory(1, 3, available=4096 * MIB) == 512 * MIB  # half of 4 GiB over 3 + 1 workers
    assert default_worker_memory(4, 4, available=2048 * MIB) == 256 * MIB  # never below 256 MiB
    assert default_worker_memory(1, 2) >= 256 * MIB


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_worker_past_its_memory_cap_ends_alone(tmp_path: Path, name: str) -> None:
    """Below the screen: the worker itself, given the query directly, cannot grow past its cap."""
    from citygraph.serve.backend import prepare_store
    from citygraph.serve.pool import WorkerPool
    from citygraph.serve.state import ServeConfig

    store = prepare_store(ServeConfig(), tmp_path / "store")

    async def scenario() -> tuple[Any, int, dict[str, Any]]:
        pool = WorkerPool(store, 1, memory=CAP_MIB * MIB, cpu=30)
        await pool.start()
        (worker,) = pool.all
        request = {"op": "execute", "query": HOSTILE[name], "accept": ["application/sparql-results+json"],
                   "max_rows": 10_000}
        sampler = PeakSampler(os.getpid())
        with sampler:
            try:
                await pool.run(request, 60.0)
            except Exception as exc:
                problem: Any = exc
            else:
                problem = None
        # replaced, and the fresh worker answers
        _header, body = await pool.run({"op": "select", "query": CHEAP, "max_rows": 10}, 30.0)
        assert worker not in pool.all
        await pool.close()
        return problem, sampler.peak_worker, json.loads(body)

    problem, peak, answer = asyncio.run(scenario())
    assert problem is not None and problem.status == 503, problem
    assert "memory" in problem.title.lower(), (problem.title, problem.detail)
    assert f"{CAP_MIB} MiB" in problem.detail
    assert peak < CAP_MIB * MIB, peak >> 20
    assert answer["results"]["bindings"][0]["n"]["value"] == "24"


def test_hostile_queries_end_in_503_and_the_server_stays_under_its_caps(start_server) -> None:  # type: ignore[no-untyped-def]
    """The issue's three memory reproducers over HTTP: each a 503 (or a refusal by the screen), the server's
    whole process tree under its caps, the worker replaced, and the next query answered."""
    # one HTTP worker: the server process answers, and its children are its query workers
    server = start_server("--worker-memory", f"{CAP_MIB}M", "--workers", "1", "--query-workers", "2", "--timeout", "20")
    http_rss = process_rss(server.process.pid)
    for name, query in HOSTILE.items():
        before = children(server.process.pid)
        with PeakSampler(server.process.pid) as sampler:
            started = time.monotonic()
            response = httpx.post(server.sparql, data={"query": query}, timeout=60)
            elapsed = time.monotonic() - started
        if response.status_code != 503:  # the screen may refuse it before any worker runs it
            assert 400 <= response.status_code < 500, (name, response.status_code, response.text)
            continue
        error = response.json()["error"]
        assert "memory" in error["title"].lower(), (name, error)
        assert elapsed < 20, (name, elapsed)  # the cap ended it, not the time limit
        assert sampler.peak_worker < CAP_MIB * MIB, (name, sampler.peak_worker >> 20)
        assert sampler.peak_total < http_rss + 64 * MIB + 2 * CAP_MIB * MIB, (name, sampler.peak_total >> 20)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(children(server.process.pid) - before) < 1:
            time.sleep(0.1)
        assert len(children(server.process.pid)) == 3  # the worker was replaced (2 + the site's own)
        answer = httpx.get(server.sparql, params={"query": CHEAP + f" # {name}"}, timeout=30)
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"]["bindings"][0]["n"]["value"] == "24"
    assert "Traceback" not in server.log()


def test_cpu_cap_ends_a_worker_the_server_failed_to_stop(tmp_path: Path) -> None:
    """RLIMIT_CPU beyond the wall-clock limit: a worker left to run (no one kills it) ends by itself."""
    from citygraph.serve.backend import prepare_store
    from citygraph.serve.state import ServeConfig

    store = prepare_store(ServeConfig(), tmp_path / "store")
    worker = subprocess.Popen(
        [sys.executable, "-m", "citygraph.serve.workers", "--store", str(store), "--cpu", "2"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
    )
    assert worker.stdout is not None and worker.stdin is not None
    head_len, body_len = struct.unpack(">II", worker.stdout.read(8))
    worker.stdout.read(head_len + body_len)
    request = json.dumps({"op": "execute", "query": "SELECT (COUNT(*) AS ?n) { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }",
                          "accept": [], "max_rows": 10}).encode()
    worker.stdin.write(struct.pack(">I", len(request)) + request)
    worker.stdin.flush()
    started = time.monotonic()
    code = worker.wait(timeout=60)
    assert code < 0 and -code in (24, 9), code  # SIGXCPU (or SIGKILL at the hard limit)
    assert time.monotonic() - started < 20


# ---------------------------------------------------------------- caches


class StubApp:
    """An ASGI app answering a small immutable body."""

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        scope[IMMUTABLE_MARK] = True
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"text/plain"), (b"etag", b'"x"')]})
        await send({"type": "http.response.body", "body": b"small answer", "more_body": False})


def test_front_cache_with_huge_request_headers_stays_within_its_bytes() -> None:
    """3,000 requests with a distinct 60 KB header each: the cache keeps digests, not the headers."""
    front = FrontCache(StubApp(), max_bytes=4 * MIB)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    async def run() -> None:
        for i in range(3000):
            pad = secrets.token_hex(30_000).encode()
            scope = {"type": "http", "method": "GET", "path": "/sparql", "query_string": f"q={i}".encode(),
                     "headers": [(b"host", b"h"), (b"x-pad", pad)]}
            await front(scope, receive, send)

    tracemalloc.start()
    try:
        asyncio.run(run())
        retained, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(front) == 3000
    assert front.size <= front.max_bytes
    assert retained < 8 * MIB, retained >> 20  # was 180 MB: the 60 KB headers were the keys


def test_response_cache_counts_headers_and_keys_by_digest() -> None:
    cache = ResponseCache(200_000)
    big_query = "SELECT * { ?s ?p ?o } # " + "x" * 100_000
    cache.put(big_query, cache.make(b"body", "text/plain", {"X-Big": "y" * 5_000}))
    assert cache.get(big_query) is not None
    assert cache.size < 6_000  # the body, the headers, a digest: not the 100 KB query text
    for i in range(200):
        cache.put(f"k{i}", cache.make(b"b", "text/plain", {"X-Big": "y" * 5_000}))
    assert cache.size <= 200_000 and len(cache) < 40


def test_live_front_cache_does_not_grow_with_header_sizes(start_server) -> None:  # type: ignore[no-untyped-def]
    """The issue's reproducer against a server: 3,000 cacheable requests, each with a new 60 KB header."""
    server = start_server("--query-workers", "1")
    url = server.sparql + "?query=" + httpx.QueryParams({"q": "ASK {}"})["q"]
    with httpx.Client(timeout=30) as client:
        for _ in range(50):  # warm up: allocator pools, caches of routing and parsing
            assert client.get(url, headers={"x-pad": secrets.token_hex(30_000)}).status_code == 200
        before = process_rss(server.process.pid)
        for _ in range(3000):
            assert client.get(url, headers={"x-pad": secrets.token_hex(30_000)}).status_code == 200
    grown = process_rss(server.process.pid) - before
    assert grown < 48 * MIB, grown >> 20  # was +175 MB


def test_cross_product_at_100k_triples_ends_in_503_under_the_cap(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Issue 9 #4: a cross product at 100k triples reached 4.9 GB; now the worker's cap ends it."""
    graph = tmp_path / "g100k.nt"
    subprocess.run([sys.executable, str(Path(__file__).resolve().parents[2] / "bench" / "scale" / "generate.py"),
                    "--triples", "100000", "--out", str(graph)], check=True, stdout=subprocess.DEVNULL)
    server = start_server("--worker-memory", "400M", "--query-workers", "1", "--no-bundled",
                          "--graph", f"http://example.org/g100k={graph}")
    with PeakSampler(server.process.pid) as sampler:
        response = httpx.post(server.sparql, data={"query": "SELECT * WHERE { ?a ?b ?c . ?d ?e ?f } ORDER BY ?c ?f"},
                              timeout=60)
    if response.status_code != 503:  # the screen may refuse it before any worker runs it
        assert 400 <= response.status_code < 500, response.text[:300]
        return
    assert "memory" in response.json()["error"]["title"].lower(), response.text[:300]
    assert sampler.peak_worker < 400 * MIB, sampler.peak_worker >> 20
    answer = httpx.get(server.sparql, params={"query": "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"}, timeout=60)
    assert answer.status_code == 200 and int(answer.json()["results"]["bindings"][0]["n"]["value"]) > 100_000
