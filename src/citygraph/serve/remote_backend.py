"""The remote backend (``citygraph serve --store URL``): queries forwarded to a SPARQL store over HTTP.

The HTTP layer screens protocol queries exactly as in embedded mode (size, patterns, nesting, SERVICE and
updates refused) before they reach a backend. Here each query goes to the store's query endpoint (the
SPARQL 1.1 Protocol, POST) under the server's time limit (the HTTP call's timeout; start Oxigraph with
``--timeout-s`` so the store also stops the query itself). The answer is parsed and written back by the same
code as the embedded workers (:class:`citygraph.serve.workers.Engine`), so media types, row caps and errors
are the same in both modes.

A store answer that breaks off or cannot be read (cut mid-stream, malformed JSON or N-Triples) answers a clean
502, never a traceback. A query past the time limit answers 503 and its connection is closed (httpx drops a
connection that timed out), which is all a client can do: the store must stop the query itself (Oxigraph's
``--timeout-s``, Virtuoso's ``MaxQueryExecutionTime``), or it keeps working after the client got its 503. Protocol
queries share the store between clients as the embedded workers do (``fairness.py``: one at a time per client,
a budget of seconds per minute); a running store query cannot be preempted.

Dataset: with no dataset in the request or the query, the store is asked for every served graph both as the
default graph (their union, like the embedded mode) and as named graphs. Bindings become a ``VALUES`` block.
Each served graph is read at its current published version (:mod:`citygraph.stores`), re-read at most once a
second. Store dialects (Virtuoso) are handled here and in :mod:`citygraph.stores`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .. import stores
from ..namespaces import data_graph_iri, ontology_graph_iri
from .errors import BackendFailure, HttpProblem, QueryTimeout
from .fairness import ClientLedger, current_client
from .screen import analyze
from .state import Answer, BindingValue, SelectResult, ServeConfig
from .workers import Engine, Refusal

if TYPE_CHECKING:
    import httpx

    from ..load import LoadedGraph

SPARQL_JSON = "application/sparql-results+json"
FORM = "application/x-www-form-urlencoded"
NTRIPLES = "application/n-triples"
RESOLVE_EVERY_S = 1.0  # how stale the served graphs' current versions may be


def query_endpoint(store_url: str) -> str:
    """The store's query endpoint: ``URL/query`` for an Oxigraph root URL, else the URL as given."""
    url = store_url.rstrip("/")
    if url.endswith(("/query", "/sparql")) or "/repositories/" in url:
        return url
    return url + "/query"


def store_graphs(config: ServeConfig) -> list[str]:
    """The store's graphs this server serves: ontology and data (unless ``--no-bundled``), then ``--graph`` IRIs."""
    bundled = [ontology_graph_iri(config.base), data_graph_iri(config.base)] if config.bundled else []
    return bundled + [iri for iri, _ in config.graphs]


def _construct_graph(endpoint: str, name: str, timeout: float) -> Iterator[str]:
    """The N-Triples lines of one graph of the store, streamed (``CONSTRUCT`` over the query endpoint: any SPARQL
    store answers it), then checked against a ``COUNT``: a store that cuts answers at a row cap (Virtuoso's
    ``ResultSetMaxRows``) fails here instead of yielding a silently shortened copy. BackendFailure if the store
    cannot give the whole graph."""
    import httpx

    query = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{name}> {{ ?s ?p ?o }} }}"
    received = 0
    try:
        with httpx.stream("POST", endpoint, data={"query": query}, headers={"Accept": NTRIPLES},
                          timeout=httpx.Timeout(timeout, connect=5.0)) as response:
            if response.status_code >= 400:
                response.read()
                raise BackendFailure(f"the SPARQL store answered HTTP {response.status_code} for the graph "
                                     f"<{name}>: {_first_line(response.text)}")
            for line in response.iter_lines():
                if line.strip():
                    received += 1
                    yield line
        counted = httpx.post(endpoint, data={"query": stores.count_query(name)}, headers={"Accept": SPARQL_JSON},
                             timeout=httpx.Timeout(timeout, connect=5.0))
        expected = stores.read_count(counted.json())
    except httpx.TransportError as exc:
        raise BackendFailure(f"the SPARQL store at {endpoint} cannot be reached ({exc.__class__.__name__})") \
            from None
    except ValueError:
        raise BackendFailure(f"the SPARQL store at {endpoint} sent an unreadable count of <{name}>") from None
    if received != expected:
        raise BackendFailure(
            f"the SPARQL store sent {received} of the {expected} triples of <{name}>: it caps its answers "
            "(Virtuoso: raise ResultSetMaxRows in the [SPARQL] section of virtuoso.ini)")


def resolve_graphs(config: ServeConfig, *, timeout: float = 30.0) -> dict[str, str]:
    """Where each served graph is read on the store: its current published version, else its own name."""
    import httpx

    assert config.store_url is not None
    endpoint = query_endpoint(config.store_url)
    try:
        return stores.current_versions(endpoint, config.base, store_graphs(config), timeout=timeout)
    except httpx.HTTPError as exc:
        raise BackendFailure(f"the SPARQL store at {endpoint} cannot say which versions are current "
                             f"({exc.__class__.__name__})") from None
    except ValueError:
        raise BackendFailure(f"the SPARQL store at {endpoint} sent an unreadable list of versions") from None


class _ContentDigest:
    """A digest of graphs' N-Triples lines whatever order the store lists them in: per graph, the line count and
    the sum of a hash of each line."""

    def __init__(self) -> None:
        import hashlib

        self._digest = hashlib.blake2b(digest_size=16)

    def add_graph(self, name: str, lines: Iterable[str]) -> None:
        import hashlib

        total = count = 0
        for line in lines:
            if line:
                total += int.from_bytes(hashlib.blake2b(line.encode("utf-8"), digest_size=16).digest(), "big")
                count += 1
        self._digest.update(f"<{name}> {count} {total % (1 << 128):032x}\n".encode())

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def store_fingerprint(config: ServeConfig, *, timeout: float = 600.0) -> str:
    """A digest of what the served graphs of the store hold: the data version of ``serve --store`` (ETags)."""
    assert config.store_url is not None
    endpoint = query_endpoint(config.store_url)
    digest = _ContentDigest()
    for name, location in resolve_graphs(config).items():
        digest.add_graph(name, _construct_graph(endpoint, location, timeout))
    return digest.hexdigest()


def fetch_graphs(config: ServeConfig, *, timeout: float = 600.0) -> tuple[LoadedGraph, str]:
    """The store's ontology and data graphs copied into a local in-memory store (what the dumps are written from),
    and a digest of what was copied (the store may have changed since the server started). BackendFailure if the
    store cannot give them."""
    import pyoxigraph

    from ..load import LoadedGraph

    assert config.store_url is not None
    endpoint = query_endpoint(config.store_url)
    graph = LoadedGraph(pyoxigraph.Store(), config.base, [], [])
    digest = _ContentDigest()
    locations = resolve_graphs(config)
    for name in (graph.ontology_graph, graph.data_graph):
        lines = list(_construct_graph(endpoint, locations.get(name, name), timeout))
        digest.add_graph(name, lines)
        try:
            graph.store.load("\n".join(lines).encode("utf-8"), format=pyoxigraph.RdfFormat.N_TRIPLES,
                             to_graph=pyoxigraph.NamedNode(name))
        except SyntaxError as exc:
            raise BackendFailure(f"the SPARQL store sent unreadable N-Triples for <{name}>: {exc}") from None
    return graph, digest.hexdigest()[:16]


class _Answer:
    """Stands for a store in :class:`Engine`: ``query()`` hands back the already fetched, parsed answer."""

    def __init__(self, parsed: Any) -> None:
        self.parsed = parsed

    def query(self, _query: str, **_kwargs: Any) -> Any:
        return self.parsed


class RemoteBackend:
    """QueryBackend over a remote SPARQL endpoint (Oxigraph, Fuseki, GraphDB, Virtuoso, QLever…)."""

    def __init__(self, config: ServeConfig, *, base_iri: str | None = None) -> None:
        assert config.store_url is not None
        self.config = config
        self.endpoint = query_endpoint(config.store_url)
        self.base_iri = base_iri or config.public_url + "/sparql"
        self.graphs = store_graphs(config)
        self.locations = {name: name for name in self.graphs}  # served graph -> where it is read now
        self._resolved_at = float("-inf")
        self.client: httpx.AsyncClient | None = None
        self.ledger = ClientLedger.for_config(config)
        self.virtuoso = False

    async def start(self) -> None:
        import httpx

        self.client = httpx.AsyncClient(timeout=httpx.Timeout(self.config.timeout, connect=5.0))
        try:  # which store answers: Virtuoso needs citygraph.stores.confine_graphs
            probe = await self.client.post(self.endpoint, data={"query": "ASK {}"}, headers={"Accept": SPARQL_JSON})
            self.virtuoso = stores.is_virtuoso(probe.headers)
        except httpx.HTTPError:
            pass

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    # ---------------------------------------------------------------- the HTTP call

    async def _follow_versions(self) -> None:
        """Re-read which published version of each served graph is current (at most once a second): a publish
        switches the store's pointers, and the next query reads the new versions."""
        import time

        import httpx

        if self.client is None or time.monotonic() - self._resolved_at < RESOLVE_EVERY_S or not self.graphs:
            return
        try:
            response = await self.client.post(
                self.endpoint, data={"query": stores.versions_query(self.config.base, self.graphs)},
                headers={"Accept": SPARQL_JSON})
            response.raise_for_status()
            current, _ = stores.read_versions(response.json())
        except (httpx.HTTPError, ValueError):
            return  # the query itself will say what is wrong with the store
        self.locations = {name: current.get(name, name) for name in self.graphs}
        self._resolved_at = time.monotonic()

    def _form(
        self, query: str, default_graphs: Sequence[str], named_graphs: Sequence[str]
    ) -> list[tuple[str, str]]:
        # same line: error positions stay right; a query opening with its own BASE keeps it alone
        prologue = "" if stores.starts_with_base(query) else f"BASE <{self.base_iri}> "
        moved = {name: where for name, where in self.locations.items() if name != where}
        if moved:  # GRAPH/FROM <served graph> in the text reads its current version too
            query = stores.rename_graphs(query, moved)[0]
        form = [("query", prologue + query)]
        if not default_graphs and not named_graphs and not analyze(query).has_dataset_clause:
            default_graphs = named_graphs = self.graphs
        # a served graph is read where its current version is (a graph named in the request too)
        default_graphs = [self.locations.get(g, g) for g in default_graphs]
        named_graphs = [self.locations.get(g, g) for g in named_graphs]
        if self.virtuoso and named_graphs:
            confined, changed = stores.confine_graphs(query, named_graphs)
            if changed:
                form[0] = ("query", prologue + confined)
                named_graphs = [*named_graphs, stores.ABSENT_GRAPH]
        form += [("default-graph-uri", g) for g in default_graphs]
        form += [("named-graph-uri", g) for g in named_graphs]
        return form

    async def _fetch(
        self,
        query: str,
        *,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
        form: str = "",
    ) -> Any:
        """POST the query; the parsed answer (QueryBoolean, QuerySolutions or a list of triples).

        ``form`` (SELECT…, else read from the query) picks the Accept header: N-Triples alone for graph
        queries (Virtuoso answers a CONSTRUCT with JSON bindings when JSON is acceptable)."""
        import httpx
        import pyoxigraph

        if self.client is None:
            raise BackendFailure("the remote store connection is not started", 503)
        limit = timeout or self.config.timeout
        await self._follow_versions()
        form = form or analyze(query).form
        try:
            response = await self.client.post(
                self.endpoint,
                content=urlencode(self._form(query, default_graphs, named_graphs)).encode(),
                headers={"Accept": stores.accept_for(form), "Content-Type": FORM},
                timeout=httpx.Timeout(limit, connect=5.0),
            )
        except httpx.TimeoutException:
            raise QueryTimeout(limit) from None
        except httpx.TransportError as exc:
            raise BackendFailure(
                f"the SPARQL store at {self.endpoint} cannot be reached ({exc.__class__.__name__})"
            ) from None
        if response.status_code == 400:
            raise HttpProblem(
                400,
                _first_line(response.text) or "the store rejected the query",
                title="Bad Request: SPARQL syntax error",
            )
        if response.headers.get("x-sql-state"):  # Virtuoso's "anytime" answer: partial results past its time limit
            raise QueryTimeout(limit)
        if response.status_code in (408, 504) or (
            response.status_code >= 500 and "timeout" in response.text[:200].lower()
        ):
            raise QueryTimeout(limit)
        if response.status_code >= 400:
            raise BackendFailure(
                f"the SPARQL store answered HTTP {response.status_code}: {_first_line(response.text)}"
            )
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        try:
            if media == SPARQL_JSON:
                content = stores.canonical_booleans(response.content) if self.virtuoso else response.content
                return pyoxigraph.parse_query_results(content, format=pyoxigraph.QueryResultsFormat.JSON)
            if media in (NTRIPLES, "text/plain"):
                return [
                    q.triple
                    for q in pyoxigraph.parse(response.content, format=pyoxigraph.RdfFormat.N_TRIPLES)
                ]
        except SyntaxError as exc:
            raise BackendFailure(f"the SPARQL store sent an unreadable answer ({exc.msg})") from None
        raise BackendFailure(f"the SPARQL store answered with an unexpected media type {media!r}")

    def _format(self, op: str, parsed: Any, accept: Sequence[str] = ()) -> tuple[dict[str, Any], bytes]:
        request = {"op": op, "query": "", "accept": list(accept), "max_rows": self.config.max_rows}
        try:
            return Engine(_Answer(parsed)).run(request)
        except Refusal as exc:
            raise HttpProblem(exc.status, exc.detail, title=exc.title) from None
        except (SyntaxError, ValueError, UnicodeError) as exc:  # results are parsed as they are read
            raise BackendFailure(f"the SPARQL store sent an answer that breaks off or cannot be read ({exc})") \
                from None

    # ---------------------------------------------------------------- QueryBackend

    async def select(
        self,
        query: str,
        *,
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        bindings: Mapping[str, BindingValue] | None = None,
    ) -> SelectResult:
        from .backend import parse_select

        parsed = await self._fetch(
            _bind(query, bindings), default_graphs=default_graphs, named_graphs=named_graphs, form="SELECT"
        )
        header, body = self._format("select", parsed)
        return parse_select(body, truncated=bool(header.get("truncated")))

    async def execute(
        self,
        query: str,
        *,
        accept: Sequence[str],
        default_graphs: Sequence[str] = (),
        named_graphs: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Answer:
        async with self.ledger.turn(current_client.get(), timeout or self.config.timeout):
            parsed = await self._fetch(
                query, default_graphs=default_graphs, named_graphs=named_graphs, timeout=timeout
            )
            header, body = self._format("execute", parsed, accept)
        return Answer(str(header["media_type"]), body, bool(header.get("truncated")))

    async def construct(self, query: str, *, bindings: Mapping[str, BindingValue] | None = None) -> bytes:
        parsed = await self._fetch(_bind(query, bindings), form="CONSTRUCT")
        _, body = self._format("construct", parsed)
        return body


def _bind(query: str, bindings: Mapping[str, BindingValue] | None) -> str:
    """Bindings as a VALUES block at the top of the WHERE group (a str is a plain literal)."""
    if not bindings:
        return query
    import pyoxigraph

    from ..query import with_values

    terms = {k: pyoxigraph.Literal(v) if isinstance(v, str) else v for k, v in bindings.items()}
    return with_values(query, terms)


def _first_line(text: str) -> str:
    lines: Iterator[str] = (line.strip() for line in text.splitlines())
    return next((line for line in lines if line), "")[:300]
