"""What every part of the server shares: the configuration, the query backend's interface, the server state.

``QueryBackend`` is the seam between the HTTP layer and the engine. The embedded backend (``backend.py``) runs
queries in killable worker processes over the bundled graph; the remote backend (``remote_backend.py``, for
``serve --store URL``) forwards them to a SPARQL store. Pages, resources and the protocol endpoint use only
this interface, so every mode serves the same site.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol, TypeAlias

from ..namespaces import DEFAULT_BASE, data_graph_iri, ontology_graph_iri

if TYPE_CHECKING:
    import pyoxigraph

    from .cache import ResponseCache

    Term: TypeAlias = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | pyoxigraph.Triple
    # A binding given by a caller: a pyoxigraph term, or a str meaning a plain (xsd:string) literal.
    BindingValue: TypeAlias = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | str
else:
    Term = object
    BindingValue = object

CONFIG_ENV = "CITYGRAPH_SERVE_CONFIG"  # the JSON config handed to each HTTP worker process


@dataclass(frozen=True)
class ServeConfig:
    """Options of ``citygraph serve`` (also what the HTTP worker processes receive, as JSON)."""

    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = None  # public URL of the server; default http://HOST:PORT
    base: str = DEFAULT_BASE  # IRI base of the resources (IRIs keep it; the server maps them to base_url)
    graphs: tuple[tuple[str, str], ...] = ()  # extra named graphs: (graph IRI, file path)
    bundled: bool = True  # serve the bundled data and ontology
    timeout: float = 10.0  # seconds per query, then the worker is killed
    max_rows: int = 10_000  # rows (or triples) per result, then truncated
    max_query_bytes: int = 256 * 1024
    max_triple_patterns: int = 256
    max_nesting: int = 64
    workers: int = 1  # HTTP worker processes (uvicorn)
    query_workers: int = 2  # query processes per HTTP worker (embedded mode)
    store_path: str | None = None  # prepared on-disk pyoxigraph store, opened read-only by the query workers
    store_url: str | None = None  # serve --store URL: a remote SPARQL endpoint (remote_backend)
    store_update_url: str | None = None
    cache_bytes: int = 64 * 1024 * 1024  # response cache per HTTP worker
    access_log: bool = True
    worker_memory: int = 0  # data memory cap per query worker, bytes (0: none; the CLI sizes it from the machine)
    client_budget: float = 30.0  # worker seconds per client per 60 s (protocol queries that reach a worker)
    forwarded_allow_ips: tuple[str, ...] = ()  # proxies whose X-Forwarded-For names the client ("*": any)
    ledger_path: str | None = None  # the fair-sharing table every HTTP worker maps (None: per process)
    ledger_key: str = ""  # hex key hashing client addresses in that table (random per process when empty)
    data_version: str = ""  # the served data's version (ETags), computed once for every HTTP worker ("": here)
    data_time: float = 0.0  # its Last-Modified (POSIX time)

    @property
    def public_url(self) -> str:
        url = self.base_url or f"http://{self.host}:{self.port}"
        return url.rstrip("/")

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        raw = json.loads(text)
        raw["graphs"] = tuple(tuple(pair) for pair in raw.get("graphs", ()))
        raw["forwarded_allow_ips"] = tuple(raw.get("forwarded_allow_ips", ()))
        return cls(**raw)


MIB = 1 << 20
MIN_WORKER_MEMORY = 256 * MIB
MAX_WORKER_MEMORY = 2048 * MIB


def available_memory() -> int:
    """Memory the system can give without swapping (``MemAvailable``), or 4 GiB if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 4096 * MIB


MAX_DEFAULT_HTTP_WORKERS = 8


def usable_cores() -> int:
    """The CPU cores this process may run on (its affinity mask; the whole machine if unknown)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_workers(cores: int | None = None) -> tuple[int, int]:
    """(HTTP workers, query workers per HTTP worker) for the cores this process may use: one HTTP worker per
    core (at most 8), and the cores shared by the query workers (at least one per HTTP worker)."""
    cores = usable_cores() if cores is None else max(1, cores)
    http = min(cores, MAX_DEFAULT_HTTP_WORKERS)
    return http, max(1, cores // http)


def default_worker_memory(workers: int, query_workers: int, available: int | None = None) -> int:
    """Half the available memory shared by every query worker (each HTTP worker has ``query_workers`` for
    protocol queries and one for the site's own), within 256 MiB - 2 GiB each."""
    processes = max(1, workers * (query_workers + 1))
    share = (available_memory() if available is None else available) // 2 // processes
    return max(MIN_WORKER_MEMORY, min(MAX_WORKER_MEMORY, share))


@dataclass
class SelectResult:
    """Rows of a SELECT: variable names in order, one dict per row (unbound variables absent)."""

    variables: list[str]
    rows: list[dict[str, Term]]
    truncated: bool = False  # the row cap cut the result


class Answer(NamedTuple):
    """A query's answer for the protocol endpoint, serialized."""

    media_type: str
    body: bytes
    truncated: bool = False  # the row cap cut the result


class QueryBackend(Protocol):
    """Runs read-only SPARQL queries under the server's limits (time limit, row cap, no outgoing requests).

    Errors are raised as ``errors.HttpProblem`` subclasses: QuerySyntaxError (400), QueryRefused (4xx),
    QueryTimeout (503), BackendFailure (502).
    """

    async def start(self) -> None:
        """Get ready to answer (start worker processes, open connections)."""

    async def close(self) -> None:
        """Release everything start() acquired."""

    async def select(
        self,
        query: str,
        *,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        bindings: Mapping[str, BindingValue] | None = None,
    ) -> SelectResult:
        """Run a SELECT (or an ASK: one row, variable ``ask``); parsed rows, for pages and named queries."""
        ...

    async def execute(
        self,
        query: str,
        *,
        accept: Sequence[str],
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Answer:
        """Run any query form for the protocol endpoint: media type, body, whether the row cap cut it.

        ``accept`` lists the media types the client accepts, best first (already negotiated); the backend uses
        the first one that fits the query's form (results formats for SELECT/ASK, RDF formats for
        CONSTRUCT/DESCRIBE) and raises HttpProblem(406) if none does.
        """
        ...

    async def construct(self, query: str, *, bindings: Mapping[str, BindingValue] | None = None) -> bytes:
        """Run a CONSTRUCT or DESCRIBE and return N-Triples (for resource pages and their RDF twins)."""
        ...


@dataclass
class ServerState:
    """Everything a route needs: configuration, backend, IRIs, and the version of the (immutable) data."""

    config: ServeConfig
    backend: QueryBackend
    cache: ResponseCache
    base: str  # configured IRI base, e.g. https://w3id.org/citygraph/
    public_url: str  # where this server answers, e.g. http://127.0.0.1:8000 (no trailing slash)
    data_graph: str = field(init=False)
    ontology_graph: str = field(init=False)
    named_graphs: tuple[str, ...] = ()  # every graph served (data, ontology, --graph ones)
    version: str = "0"  # changes when the served data changes: part of every ETag
    last_modified: float = 0.0  # POSIX time of the newest input file (Last-Modified)
    sparql_path: str = "/sparql"
    # The error page for browsers, set by the pages of this app (errors.error_response calls it).
    html_error_renderer: Callable[..., Any] | None = None
    # The lookup lane once the app's middleware is built (lookups.LookupLane): the HTTP protocol asks it first.
    lookup_lane: Any = None

    def __post_init__(self) -> None:
        self.data_graph = data_graph_iri(self.base)
        self.ontology_graph = ontology_graph_iri(self.base)

    @property
    def endpoint_url(self) -> str:
        return self.public_url + self.sparql_path

    def to_public(self, iri: str) -> str:
        """Map an IRI under the configured base to this server's URL (other IRIs unchanged)."""
        if iri.startswith(self.base):
            return self.public_url + "/" + iri[len(self.base) :]
        return iri

    def from_public(self, url: str) -> str:
        """Map a URL of this server back to the IRI under the configured base."""
        prefix = self.public_url + "/"
        if url.startswith(prefix):
            return self.base + url[len(prefix) :]
        return url
