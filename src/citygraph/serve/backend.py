"""The embedded backend: a pool of killable query worker processes over a read-only on-disk store.

Each HTTP worker process owns a pool of ``query_workers`` processes (``workers.py``). A query goes to an idle
worker; if it runs past the time limit the worker is killed (SIGKILL: the only way to stop pyoxigraph) and a
fresh one is started, while the other workers keep answering. A worker that dies (stack overflow, out of
memory) costs one failed query, never the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Awaitable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import fast_path
from .cache import DigestLru
from .errors import BackendFailure, HttpProblem, QueryTimeout
from .fairness import ClientLedger, current_client
from .screen import analyze
from .state import Answer, BindingValue, SelectResult, ServeConfig
from .workers import MEMORY_TITLE, REPLY_HEADER, REQUEST_HEADER, Refusal

if TYPE_CHECKING:
    import pyoxigraph

log = logging.getLogger("citygraph.serve")

WORKER_START_TIMEOUT = 60.0
# The fast path keeps an in-memory copy of the graph in each HTTP process; above this size it is off.
FAST_PATH_MAX_QUADS = 500_000


def cpu_cap(timeout: float) -> int:
    """CPU seconds a worker may spend on one query: the time limit and a margin (the kernel's backstop)."""
    return int(timeout * 1.5) + 2


def load_fast_store(store: Path) -> pyoxigraph.Store | None:
    """An in-memory copy of the on-disk store for the fast path, or None if the graph is too large."""
    import pyoxigraph

    on_disk = pyoxigraph.Store.read_only(str(store))
    memory = pyoxigraph.Store()
    quads = on_disk.quads_for_pattern(None, None, None, None)
    batch: list[pyoxigraph.Quad] = []
    for count, quad in enumerate(quads, 1):
        batch.append(quad)
        if count > FAST_PATH_MAX_QUADS:
            return None
        if len(batch) >= 10_000:
            memory.bulk_extend(batch)
            batch.clear()
    memory.bulk_extend(batch)
    return memory


def prepare_store(config: ServeConfig, directory: Path) -> Path:
    """Load the bundled graph and every ``--graph`` file into an on-disk store at ``directory``; its path.

    Parse errors surface here, before the server starts, as citygraph errors naming file and line.
    """
    import pyoxigraph

    from ..load import load_graph, parse_file

    directory.mkdir(parents=True, exist_ok=True)
    store = pyoxigraph.Store(str(directory))
    if config.bundled:
        loaded = load_graph(base=config.base)
        store.bulk_extend(loaded.store.quads_for_pattern(None, None, None, None))
    for graph_iri, path in config.graphs:
        name = pyoxigraph.NamedNode(graph_iri)
        store.bulk_extend(
            pyoxigraph.Quad(t.subject, t.predicate, t.object, name)
            for t in parse_file(Path(path), base=config.base)
        )
    store.flush()
    del store
    return directory


def term_to_json(value: BindingValue) -> dict[str, str]:
    """A binding as a SPARQL JSON term (a str is a plain literal)."""
    import pyoxigraph

    if isinstance(value, str):
        return {"type": "literal", "value": value}
    if isinstance(value, pyoxigraph.NamedNode):
        return {"type": "uri", "value": value.value}
    if isinstance(value, pyoxigraph.BlankNode):
        return {"type": "bnode", "value": value.value}
    out = {"type": "literal", "value": value.value}
    if value.language:
        out["xml:lang"] = value.language
    else:
        out["datatype"] = value.datatype.value
    return out


# A client query that has run this long may be stopped when another client (with less worker time spent in
# the window) or the site itself needs a worker and none is idle.
PREEMPT_AFTER_S = 1.0
STDERR_TAIL = 4096


class Worker:
    """One query process, its pipes, and what it runs now (for fair sharing)."""

    def __init__(self, process: asyncio.subprocess.Process, isolated: bool) -> None:
        self.process = process
        self.isolated = isolated
        self.owner: str | None = None  # the client whose query runs now (None: idle, or the site's own)
        self.started = 0.0  # loop time the running query started
        self.busy = False
        self.preempted = False
        self.stderr_tail = b""
        self._stderr_task: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(cls, store: Path, memory: int = 0, cpu: int = 0) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "citygraph.serve.workers",
            "--store",
            str(store),
            "--memory",
            str(memory),
            "--cpu",
            str(cpu),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**26,
            env={**os.environ, "RUST_BACKTRACE": "0"},  # the cause on one line, not a backtrace
        )
        worker = cls(process, False)
        worker._stderr_task = asyncio.get_running_loop().create_task(worker._drain_stderr())
        try:
            header, _ = await asyncio.wait_for(worker.read_reply(), WORKER_START_TIMEOUT)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as exc:
            worker.kill()
            raise BackendFailure(f"a query worker failed to start ({exc!r})", 503) from None
        worker.isolated = bool(header.get("isolated"))
        loaded = int(header.get("loaded") or 0)
        if memory and loaded > memory // 2:
            log.warning("the graph takes %d MiB of a query worker's %d MiB memory cap; raise --worker-memory",
                        loaded >> 20, memory >> 20)
        return worker

    async def _drain_stderr(self) -> None:
        """Keep the end of what the worker writes on stderr (why it died), and log it."""
        assert self.process.stderr is not None
        while True:
            line = await self.process.stderr.readline()
            if not line:
                return
            self.stderr_tail = (self.stderr_tail + line)[-STDERR_TAIL:]

    async def death_cause(self) -> str:
        """Why the process ended, in words: the memory cap, the CPU cap, the engine's stack, or a signal."""
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            await asyncio.wait_for(self.process.wait(), 2.0)
        if self._stderr_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        tail = self.stderr_tail.decode("utf-8", "replace")
        code = self.process.returncode
        if "memory allocation of" in tail or "MemoryError" in tail or "capacity overflow" in tail:
            return "memory"
        if code == -signal.SIGXCPU:
            return "cpu"
        if "overflowed its stack" in tail or code == -signal.SIGSEGV:
            return "stack"
        return f"exit status {code}"

    async def read_reply(self) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdout is not None
        head_len, body_len = REPLY_HEADER.unpack(await self.process.stdout.readexactly(REPLY_HEADER.size))
        data = await self.process.stdout.readexactly(head_len + body_len)
        header: dict[str, Any] = json.loads(data[:head_len])
        return header, data[head_len:]

    async def call(self, payload: bytes) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdin is not None
        self.process.stdin.write(REQUEST_HEADER.pack(len(payload)) + payload)
        await self.process.stdin.drain()
        return await self.read_reply()

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


def limit_problem(cause: str, memory: int, cpu: int) -> HttpProblem:
    """The 503 for a query that ended its worker: which limit it hit, in words."""
    if cause == "memory":
        return HttpProblem(503, f"the query needed more than the {memory >> 20} MiB a query worker may use and "
                           "was stopped; the server is unharmed", title=MEMORY_TITLE)
    if cause == "cpu":
        return HttpProblem(503, f"the query used more than {cpu} s of CPU time and was stopped",
                           title="Query CPU limit exceeded")
    if cause == "stack":
        return HttpProblem(503, "the query nests too deeply for the engine and was stopped; the server is "
                           "unharmed", title="Query stack limit exceeded")
    return HttpProblem(503, f"the query stopped the engine ({cause}); the server is unharmed, but this query "
                       "cannot be answered", title="Query engine failure")


class WorkerPool:
    """A fixed number of query workers; a killed or dead one is replaced in the background.

    A freed worker goes to the waiting query of highest priority: the site's own queries first, then clients
    by the worker time they spent in the window (least first). When none is idle, a client query that has run
    at least ``PREEMPT_AFTER_S`` for a client that spent more than the waiting one (any client, when the site
    waits) is stopped (503, Retry-After): one heavy client cannot make everyone wait for its time limit.
    """

    def __init__(self, store: Path, size: int, *, memory: int = 0, cpu: int = 0,
                 ledger: ClientLedger | None = None) -> None:
        self.store = store
        self.size = max(1, size)
        self.memory = memory
        self.cpu = cpu
        self.ledger = ledger
        self.idle: list[Worker] = []
        self.all: set[Worker] = set()
        self.isolated = False
        self._waiters: list[tuple[float, int, asyncio.Future[Worker]]] = []  # a heap: (priority, order, …)
        self._order = itertools.count()
        self._respawns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        for worker in workers:
            self.all.add(worker)
            self._release(worker)
        self.isolated = all(w.isolated for w in workers)
        if not self.isolated:
            log.warning(
                "query workers could not enter a private network namespace; "
                "SERVICE is still refused by the query screen"
            )

    def _spawn(self) -> Awaitable[Worker]:
        return Worker.spawn(self.store, self.memory, self.cpu)

    async def close(self) -> None:
        for task in self._respawns:
            task.cancel()
        for worker in self.all:
            worker.kill()
        for worker in self.all:
            with contextlib.suppress(ProcessLookupError):
                await worker.process.wait()
        self.all.clear()

    def _release(self, worker: Worker) -> None:
        """Hand a free worker to the best waiting query, or park it."""
        worker.owner, worker.busy, worker.preempted = None, False, False
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(worker)
                return
        self.idle.append(worker)

    def _replace(self, worker: Worker) -> None:
        worker.kill()
        self.all.discard(worker)

        async def respawn() -> None:
            with contextlib.suppress(ProcessLookupError):
                await worker.process.wait()
            while True:
                try:
                    fresh = await self._spawn()
                except BackendFailure:
                    await asyncio.sleep(1.0)
                    continue
                self.all.add(fresh)
                self._release(fresh)
                return

        task = asyncio.get_running_loop().create_task(respawn())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    def _victim(self, owner: str | None, now: float) -> Worker | None:
        """The busy worker to stop for ``owner``: the heaviest client's long query, or None."""
        if self.ledger is None:
            return None
        mine = self.ledger.used(owner) if owner is not None else -1.0
        best: tuple[float, Worker] | None = None
        for worker in self.all:
            if (not worker.busy or worker.preempted or worker.owner is None or worker.owner == owner
                    or now - worker.started < PREEMPT_AFTER_S):
                continue
            theirs = self.ledger.used(worker.owner)
            if theirs > mine and (best is None or theirs > best[0]):
                best = (theirs, worker)
        return best[1] if best else None

    async def _acquire(self, owner: str | None, deadline: float) -> Worker:
        if self.idle:
            return self.idle.pop()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Worker] = loop.create_future()
        priority = -1.0 if owner is None or self.ledger is None else self.ledger.used(owner)
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        got = False
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise HttpProblem(
                        503,
                        "every query worker stayed busy for the whole time limit; retry later",
                        title="Server busy",
                        headers={"Retry-After": "5"},
                    )
                victim = self._victim(owner, loop.time())
                if victim is not None:
                    victim.preempted = True
                    victim.kill()  # its caller answers 503; the replacement goes to the best waiter
                try:
                    worker = await asyncio.wait_for(asyncio.shield(future), min(remaining, 0.1))
                except TimeoutError:
                    continue
                got = True
                return worker
        finally:
            if not got:  # gave up (time limit, cancelled): a worker handed over meanwhile goes back
                if future.done() and not future.cancelled():
                    self._release(future.result())
                else:
                    future.cancel()

    async def run(self, request: Mapping[str, Any], timeout: float, owner: str | None = None
                  ) -> tuple[dict[str, Any], bytes]:
        """Send one request to an idle worker; the worker is killed if ``timeout`` passes first.

        ``owner`` is the client whose protocol query this is (None for the site's own queries).
        """
        payload = json.dumps(request).encode()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        worker = await self._acquire(owner, deadline)
        worker.owner, worker.started, worker.busy = owner, loop.time(), True
        try:
            header, body = await asyncio.wait_for(worker.call(payload), max(deadline - loop.time(), 0.001))
        except TimeoutError:
            self._replace(worker)
            raise QueryTimeout(timeout) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            self._replace(worker)
            if worker.preempted:
                raise HttpProblem(
                    503, "the query was stopped to give other clients their share of the query workers; "
                    "retry later", title="Server busy", headers={"Retry-After": "2"}) from None
            raise limit_problem(await worker.death_cause(), self.memory, self.cpu) from None
        except BaseException:  # cancelled mid-query: the worker's state is unknown
            self._replace(worker)
            raise
        self._release(worker)
        return header, body


class EmbeddedBackend:
    """QueryBackend over the local graph, through the worker pool; SELECT/CONSTRUCT results are memoized.

    Lookups of the fast-path class (``fast_path.py``: one basic graph pattern, bounded work) are answered
    in-process from an in-memory copy of the graph; every other query runs in a killable worker.
    """

    def __init__(self, config: ServeConfig, *, base_iri: str | None = None, in_process: bool = True) -> None:
        self.config = config
        self.base_iri = base_iri or config.public_url + "/sparql"
        self.pool: WorkerPool | None = None  # protocol queries of clients
        self.site_pool: WorkerPool | None = None  # the site's own queries (pages, dereferences), never queued
        self.fast_store: pyoxigraph.Store | None = None
        self.use_fast_path = in_process
        self._own_dir: str | None = None
        # Answers to the site's own queries (pages, dereferences), bounded in bytes, keyed by digest.
        self._memo: DigestLru[Any] = DigestLru(max(config.cache_bytes // 4, 1 << 20))
        self.ledger = ClientLedger(config.client_budget)

    async def start(self) -> None:
        store = self.config.store_path
        if store is None:
            self._own_dir = tempfile.mkdtemp(prefix="citygraph-store-")
            await asyncio.to_thread(prepare_store, self.config, Path(self._own_dir) / "store")
            store = os.path.join(self._own_dir, "store")
        memory, cpu = self.config.worker_memory, cpu_cap(self.config.timeout)
        self.pool = WorkerPool(Path(store), self.config.query_workers, memory=memory, cpu=cpu, ledger=self.ledger)
        self.site_pool = WorkerPool(Path(store), 1, memory=memory, cpu=cpu)
        starting = [self.pool.start(), self.site_pool.start()]
        if self.use_fast_path:
            self.fast_store, *_ = await asyncio.gather(asyncio.to_thread(load_fast_store, Path(store)), *starting)
        else:
            await asyncio.gather(*starting)

    async def close(self) -> None:
        for pool in (self.pool, self.site_pool):
            if pool is not None:
                await pool.close()
        if self._own_dir:
            shutil.rmtree(self._own_dir, ignore_errors=True)

    async def _run(
        self,
        op: str,
        query: str,
        *,
        accept: Sequence[str] = (),
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        bindings: Mapping[str, BindingValue] | None = None,
        timeout: float | None = None,
        owner: str | None = None,
    ) -> tuple[dict[str, Any], bytes]:
        if self.pool is None or self.site_pool is None:
            raise BackendFailure("the query engine is not started", 503)
        request = {
            "op": op,
            "query": query,
            "accept": list(accept),
            "default_graphs": list(default_graphs),
            "named_graphs": list(named_graphs),
            "base_iri": self.base_iri,
            "max_rows": self.config.max_rows,
            "has_dataset_clause": analyze(query).has_dataset_clause,
            "bindings": {k: term_to_json(v) for k, v in (bindings or {}).items()},
        }
        pool = self.pool
        if owner is None and (self.site_pool.idle or not self.pool.idle):
            pool = self.site_pool  # the site's lane, unless it is busy and a client worker is idle
        header, body = await pool.run(request, timeout or self.config.timeout, owner)
        if not header.get("ok"):
            raise HttpProblem(int(header["status"]), str(header["detail"]), title=header.get("title"))
        return header, body

    def _memo_get(self, key: str) -> Any:
        return self._memo.get(key)

    def _memo_put(self, key: str, value: Any, cost: int) -> None:
        self._memo.put(key, value, cost)

    async def select(
        self,
        query: str,
        *,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        bindings: Mapping[str, BindingValue] | None = None,
    ) -> SelectResult:
        key = json.dumps(
            [
                "select",
                query,
                list(default_graphs),
                list(named_graphs),
                {k: term_to_json(v) for k, v in (bindings or {}).items()},
            ]
        )
        cached = self._memo_get(key)
        if cached is not None:
            assert isinstance(cached, SelectResult)
            return cached
        header, body = await self._run(
            "select", query, default_graphs=default_graphs, named_graphs=named_graphs, bindings=bindings
        )
        result = parse_select(body, truncated=bool(header.get("truncated")))
        self._memo_put(key, result, 4 * len(body) + 256)  # parsed terms take a few times their JSON
        return result

    async def execute(
        self,
        query: str,
        *,
        accept: Sequence[str],
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Answer:
        if not default_graphs and not named_graphs:
            answer = self.answer_in_process(query, accept)
            if answer is not None:
                return answer
        client = current_client.get()
        async with self.ledger.turn(client, timeout or self.config.timeout):
            header, body = await self._run(
                "execute",
                query,
                accept=accept,
                default_graphs=default_graphs,
                named_graphs=named_graphs,
                timeout=timeout,
                owner=client,
            )
        return Answer(str(header["media_type"]), body, bool(header.get("truncated")))

    def answer_in_process(self, query: str, accept: Sequence[str]) -> Answer | None:
        """The answer when ``query`` is in the fast-path class and takes no more work than the budget; None
        otherwise (a worker must run it). Needs no dataset parameters (the caller checks).

        Raises HttpProblem(406) when no accepted media type fits, as a worker would.
        """
        if self.fast_store is None:
            return None
        parsed = fast_path.parse(query)
        if parsed is None:
            return None
        try:
            media, body, extra = fast_path.answer(self.fast_store, parsed, accept, max_rows=self.config.max_rows)
        except fast_path.BudgetExceeded:
            return None  # more work than a lookup: a worker runs it under the time limit
        except Refusal as exc:
            raise HttpProblem(exc.status, exc.detail, title=exc.title) from None
        return Answer(media, body, bool(extra.get("truncated")))

    async def construct(self, query: str, *, bindings: Mapping[str, BindingValue] | None = None) -> bytes:
        key = json.dumps(["construct", query, {k: term_to_json(v) for k, v in (bindings or {}).items()}])
        cached = self._memo_get(key)
        if cached is not None:
            assert isinstance(cached, bytes)
            return cached
        _, body = await self._run("construct", query, bindings=bindings)
        self._memo_put(key, body, len(body) + 256)
        return body


def parse_select(body: bytes, *, truncated: bool = False) -> SelectResult:
    """SPARQL JSON results → SelectResult (an ASK gives one row ``{"ask": true/false literal}``)."""
    import pyoxigraph

    parsed = pyoxigraph.parse_query_results(body, format=pyoxigraph.QueryResultsFormat.JSON)
    if isinstance(parsed, pyoxigraph.QueryBoolean):
        return SelectResult(
            ["ask"],
            [
                {
                    "ask": pyoxigraph.Literal(
                        "true" if parsed else "false",
                        datatype=pyoxigraph.NamedNode("http://www.w3.org/2001/XMLSchema#boolean"),
                    )
                }
            ],
        )
    variables = [v.value for v in parsed.variables]
    rows: list[
        dict[str, pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | pyoxigraph.Triple]
    ] = []
    for solution in parsed:
        rows.append({name: term for name, term in zip(variables, solution, strict=True) if term is not None})
    return SelectResult(variables, rows, truncated)
