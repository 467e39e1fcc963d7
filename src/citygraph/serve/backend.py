"""The embedded backend: a pool of killable query worker processes over a read-only on-disk store.

Each HTTP worker process owns a pool of ``query_workers`` processes (``workers.py``). A query goes to an idle
worker; if it runs past the time limit the worker is killed (SIGKILL: the only way to stop pyoxigraph) and a
fresh one is started, while the other workers keep answering. A worker that dies (stack overflow, out of
memory) costs one failed query, never the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import sys
import tempfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import sparql_json
from . import fast_path
from .errors import BackendFailure, HttpProblem, QueryTimeout
from .screen import analyze
from .state import Answer, BindingValue, SelectResult, ServeConfig
from .workers import REPLY_HEADER, REQUEST_HEADER, Refusal

if TYPE_CHECKING:
    import pyoxigraph

log = logging.getLogger("citygraph.serve")

WORKER_START_TIMEOUT = 60.0
# The fast path keeps an in-memory copy of the graph in each HTTP process; above this size it is off.
FAST_PATH_MAX_QUADS = 500_000


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


def term_to_json(value: BindingValue) -> dict[str, Any]:
    """A binding as a SPARQL JSON term (a str is a plain literal)."""
    if isinstance(value, str):
        return {"type": "literal", "value": value}
    return sparql_json.term_to_json(value)


class Worker:
    """One query process and its pipes."""

    def __init__(self, process: asyncio.subprocess.Process, isolated: bool) -> None:
        self.process = process
        self.isolated = isolated

    @classmethod
    async def spawn(cls, store: Path) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "citygraph.serve.workers",
            "--store",
            str(store),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=2**26,
        )
        worker = cls(process, False)
        try:
            header, _ = await asyncio.wait_for(worker.read_reply(), WORKER_START_TIMEOUT)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as exc:
            worker.kill()
            raise BackendFailure(f"a query worker failed to start ({exc!r})", 503) from None
        worker.isolated = bool(header.get("isolated"))
        return worker

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


class WorkerPool:
    """A fixed number of query workers; a killed or dead one is replaced in the background."""

    def __init__(self, store: Path, size: int) -> None:
        self.store = store
        self.size = max(1, size)
        self.idle: asyncio.Queue[Worker] = asyncio.Queue()
        self.all: set[Worker] = set()
        self.isolated = False
        self._respawns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        workers = await asyncio.gather(*(Worker.spawn(self.store) for _ in range(self.size)))
        for worker in workers:
            self.all.add(worker)
            self.idle.put_nowait(worker)
        self.isolated = all(w.isolated for w in workers)
        if not self.isolated:
            log.warning(
                "query workers could not enter a private network namespace; "
                "SERVICE is still refused by the query screen"
            )

    async def close(self) -> None:
        for task in self._respawns:
            task.cancel()
        for worker in self.all:
            worker.kill()
        for worker in self.all:
            with contextlib.suppress(ProcessLookupError):
                await worker.process.wait()
        self.all.clear()

    def _replace(self, worker: Worker) -> None:
        worker.kill()
        self.all.discard(worker)

        async def respawn() -> None:
            with contextlib.suppress(ProcessLookupError):
                await worker.process.wait()
            while True:
                try:
                    fresh = await Worker.spawn(self.store)
                except BackendFailure:
                    await asyncio.sleep(1.0)
                    continue
                self.all.add(fresh)
                self.idle.put_nowait(fresh)
                return

        task = asyncio.get_running_loop().create_task(respawn())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    async def run(self, request: Mapping[str, Any], timeout: float) -> tuple[dict[str, Any], bytes]:
        """Send one request to an idle worker; the worker is killed if ``timeout`` passes first."""
        payload = json.dumps(request).encode()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            worker = await asyncio.wait_for(self.idle.get(), timeout)
        except TimeoutError:
            raise HttpProblem(
                503,
                "every query worker stayed busy for the whole time limit; retry later",
                title="Server busy",
                headers={"Retry-After": "5"},
            ) from None
        try:
            header, body = await asyncio.wait_for(worker.call(payload), max(deadline - loop.time(), 0.001))
        except TimeoutError:
            self._replace(worker)
            raise QueryTimeout(timeout) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            code = worker.process.returncode
            self._replace(worker)
            raise BackendFailure(
                "the query stopped the engine (worker exit status "
                f"{code}); the server is unharmed, but this query cannot be answered",
                500,
            ) from None
        except BaseException:  # cancelled mid-query: the worker's state is unknown
            self._replace(worker)
            raise
        self.idle.put_nowait(worker)
        return header, body


class EmbeddedBackend:
    """QueryBackend over the local graph, through the worker pool; SELECT/CONSTRUCT results are memoized.

    Lookups of the fast-path class (``fast_path.py``: one basic graph pattern, bounded work) are answered
    in-process from an in-memory copy of the graph; every other query runs in a killable worker.
    """

    def __init__(self, config: ServeConfig, *, base_iri: str | None = None, in_process: bool = True) -> None:
        self.config = config
        self.base_iri = base_iri or config.public_url + "/sparql"
        self.pool: WorkerPool | None = None
        self.fast_store: pyoxigraph.Store | None = None
        self.use_fast_path = in_process
        self._own_dir: str | None = None
        self._memo: OrderedDict[str, Any] = OrderedDict()

    async def start(self) -> None:
        store = self.config.store_path
        if store is None:
            self._own_dir = tempfile.mkdtemp(prefix="citygraph-store-")
            await asyncio.to_thread(prepare_store, self.config, Path(self._own_dir) / "store")
            store = os.path.join(self._own_dir, "store")
        self.pool = WorkerPool(Path(store), self.config.query_workers)
        if self.use_fast_path:
            self.fast_store, _ = await asyncio.gather(
                asyncio.to_thread(load_fast_store, Path(store)), self.pool.start()
            )
        else:
            await self.pool.start()

    async def close(self) -> None:
        if self.pool is not None:
            await self.pool.close()
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
    ) -> tuple[dict[str, Any], bytes]:
        if self.pool is None:
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
        header, body = await self.pool.run(request, timeout or self.config.timeout)
        if not header.get("ok"):
            raise HttpProblem(int(header["status"]), str(header["detail"]), title=header.get("title"))
        return header, body

    def _memo_get(self, key: str) -> Any:
        value = self._memo.get(key)
        if value is not None:
            self._memo.move_to_end(key)
        return value

    def _memo_put(self, key: str, value: Any) -> None:
        self._memo[key] = value
        while len(self._memo) > 2048:
            self._memo.popitem(last=False)

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
        self._memo_put(key, result)
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
        header, body = await self._run(
            "execute",
            query,
            accept=accept,
            default_graphs=default_graphs,
            named_graphs=named_graphs,
            timeout=timeout,
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
        self._memo_put(key, body)
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
