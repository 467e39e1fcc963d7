"""The embedded backend: killable query worker processes (``pool.py``) over a read-only on-disk store.

Each HTTP worker process owns a pool of ``query_workers`` processes for protocol queries, shared fairly between
clients (``fairness.py``), and one worker for the site's own queries (pages, dereferences), so that those never
wait behind a client's query. Lookups of the fast-path class are answered in-process.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import sparql_json
from . import fast_path
from .cache import DigestLru
from .errors import BackendFailure, HttpProblem
from .fairness import ClientLedger, current_client
from .pool import WorkerPool, cpu_cap
from .screen import analyze
from .state import Answer, BindingValue, SelectResult, ServeConfig
from .workers import Refusal

if TYPE_CHECKING:
    import pyoxigraph

log = logging.getLogger("citygraph.serve")

# Graphs up to this size are copied into memory by each process that reads them (lookups ~5x faster); larger
# ones are read from the on-disk store, which every process shares through the page cache (nothing to copy).
IN_MEMORY_MAX_QUADS = 500_000


def fits_in_memory(store: Path) -> bool:
    """Whether the on-disk store holds at most :data:`IN_MEMORY_MAX_QUADS` quads (counts no further)."""
    import itertools

    import pyoxigraph

    quads = pyoxigraph.Store.read_only(str(store)).quads_for_pattern(None, None, None, None)
    return sum(1 for _ in itertools.islice(quads, IN_MEMORY_MAX_QUADS + 1)) <= IN_MEMORY_MAX_QUADS


def load_fast_store(store: Path, in_memory: bool = True) -> pyoxigraph.Store:
    """The fast path's store: an in-memory copy of the on-disk store, or (``in_memory=False``, a large graph)
    the on-disk store itself, read-only."""
    import pyoxigraph

    on_disk = pyoxigraph.Store.read_only(str(store))
    if not in_memory:
        return on_disk
    memory = pyoxigraph.Store()
    memory.bulk_extend(on_disk.quads_for_pattern(None, None, None, None))
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


class EmbeddedBackend:
    """QueryBackend over the local graph, through the worker pool; SELECT/CONSTRUCT results are memoized.

    Lookups of the fast-path class (``fast_path.py``: one basic graph pattern, bounded work) are answered
    in-process, from an in-memory copy of the graph (or the on-disk store when the graph is larger than
    :data:`IN_MEMORY_MAX_QUADS`); every other query runs in a killable worker.
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
        self.ledger = ClientLedger.for_config(config)

    async def start(self) -> None:
        store = self.config.store_path
        if store is None:
            self._own_dir = tempfile.mkdtemp(prefix="citygraph-store-")
            await asyncio.to_thread(prepare_store, self.config, Path(self._own_dir) / "store")
            store = os.path.join(self._own_dir, "store")
        memory, cpu = self.config.worker_memory, cpu_cap(self.config.timeout)
        in_memory = await asyncio.to_thread(fits_in_memory, Path(store))
        self.pool = WorkerPool(Path(store), self.config.query_workers, memory=memory, cpu=cpu, ledger=self.ledger,
                               in_memory=in_memory)
        self.site_pool = WorkerPool(Path(store), 1, memory=memory, cpu=cpu, in_memory=in_memory)
        starting = [self.pool.start(), self.site_pool.start()]
        if self.use_fast_path:
            self.fast_store, *_ = await asyncio.gather(
                asyncio.to_thread(load_fast_store, Path(store), in_memory), *starting
            )
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
