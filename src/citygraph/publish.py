"""Push the ontology and the data to a triple store (Graph Store HTTP Protocol), then check the triple counts.

Each local graph is streamed as N-Triples chunks (never one big string) with ``PUT`` into a fresh temporary
graph, whose triple count is checked on the store; only when every temporary graph is complete are they
swapped into place with one SPARQL Update request (``MOVE``), which a transactional store (Oxigraph,
Fuseki/TDB2, GraphDB) applies all at once. A failure before the swap therefore leaves the store's previous
graphs untouched and queryable. With ``direct=True`` (stores without SPARQL Update) the graphs are ``PUT`` in
place: a ``PUT`` replaces the graph, and what a failed ``PUT`` leaves is up to the store.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .errors import InputError, RemoteError

if TYPE_CHECKING:
    import httpx
    import pyoxigraph

    from .load import LoadedGraph

CHUNK_TRIPLES = 20_000
NTRIPLES = "application/n-triples"
SPARQL_JSON = "application/sparql-results+json"


@dataclass(frozen=True)
class StoreEndpoints:
    """The three URLs a publish uses: Graph Store Protocol, SPARQL query, SPARQL update (None: no update)."""

    store: str
    query: str
    update: str | None
    bulk_param: bool = False  # Oxigraph's ``no_transaction`` bulk load, used for temporary graphs only

    @classmethod
    def derive(
        cls, url: str, *, store: str | None = None, query: str | None = None, update: str | None = None
    ) -> StoreEndpoints:
        """Oxigraph's layout by default (URL/store, URL/query, URL/update); each one can be given instead.

        ``update="none"`` means the store has no update endpoint.
        """
        if not url.startswith(("http://", "https://")):
            raise InputError(f"--store {url!r}: expected an http:// or https:// URL")
        root = url.rstrip("/")
        resolved_update = update or root + "/update"
        return cls(
            store=store or root + "/store",
            query=query or root + "/query",
            update=None if resolved_update.lower() == "none" else resolved_update,
            bulk_param=store is None,  # the Oxigraph layout: its /store takes ``no_transaction``
        )


@dataclass(frozen=True)
class Credentials:
    """Basic auth or a bearer token; secrets come from environment variables, never from the command line."""

    user: str | None = None
    password: str | None = None
    token: str | None = None

    @classmethod
    def from_env(cls, *, user: str | None, password_env: str | None, token_env: str | None) -> Credentials:
        if token_env and (user or password_env):
            raise InputError("give either --user/--password-env or --token-env, not both")
        if password_env and not user:
            raise InputError("--password-env needs --user")
        if token_env:
            return cls(token=_read_env(token_env, "--token-env"))
        if user:
            password = _read_env(password_env, "--password-env") if password_env else ""
            return cls(user=user, password=password)
        return cls()

    def auth(self) -> httpx.Auth | None:
        import httpx

        if self.user is not None:
            return httpx.BasicAuth(self.user, self.password or "")
        return None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


def _read_env(name: str | None, option: str) -> str:
    value = os.environ.get(name or "")
    if not value:
        raise InputError(f"{option} {name}: the environment variable is not set or empty")
    return value


@dataclass
class GraphPublication:
    """One local graph and where it goes on the store, with both triple counts once known."""

    label: str  # "ontology" or "data"
    local_graph: str
    target: str
    local_count: int
    remote_count: int | None = None

    @property
    def matches(self) -> bool:
        return self.remote_count == self.local_count


@dataclass
class PublishResult:
    endpoints: StoreEndpoints
    graphs: list[GraphPublication] = field(default_factory=list)
    dry_run: bool = False

    @property
    def differences(self) -> list[GraphPublication]:
        return [g for g in self.graphs if not self.dry_run and not g.matches]


def plan(graph: LoadedGraph, *, data_target: str | None = None) -> list[GraphPublication]:
    """What would be published: the ontology to ``{base}graph/ontology``, the data to ``{base}graph/data``.

    ``data_target`` names another graph for the data.
    """
    return [
        GraphPublication(
            "ontology", graph.ontology_graph, graph.ontology_graph, graph.triple_count(graph.ontology_graph)
        ),
        GraphPublication(
            "data", graph.data_graph, data_target or graph.data_graph, graph.triple_count(graph.data_graph)
        ),
    ]


def ntriples_chunks(
    graph: LoadedGraph,
    graph_name: str,
    *,
    on_triples: Callable[[int], None] | None = None,
    chunk_triples: int = CHUNK_TRIPLES,
) -> Iterator[bytes]:
    """The triples of one named graph as N-Triples, ``chunk_triples`` at a time (bounded memory)."""
    import pyoxigraph

    batch: list[pyoxigraph.Triple] = []
    for quad in graph.store.quads_for_pattern(None, None, None, pyoxigraph.NamedNode(graph_name)):
        batch.append(quad.triple)
        if len(batch) >= chunk_triples:
            yield _serialize(batch)
            if on_triples:
                on_triples(len(batch))
            batch = []
    if batch:
        yield _serialize(batch)
        if on_triples:
            on_triples(len(batch))


def _serialize(triples: list[pyoxigraph.Triple]) -> bytes:
    import pyoxigraph

    payload = pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES)
    assert payload is not None
    return payload


class StoreClient:
    """The few HTTP calls a publish needs, each turning a failure into a RemoteError that names the call."""

    def __init__(
        self, endpoints: StoreEndpoints, credentials: Credentials, *, timeout: float = 300.0
    ) -> None:
        import httpx

        self.endpoints = endpoints
        self.answered = False  # whether the store answered any request (what a failure message may claim)
        self.http = httpx.Client(
            auth=credentials.auth(),
            headers=credentials.headers(),
            timeout=httpx.Timeout(timeout, connect=10.0),
        )

    def close(self) -> None:
        self.http.close()

    def _send(self, what: str, method: str, url: str, **kwargs: object) -> httpx.Response:
        import httpx

        try:
            response = self.http.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            raise RemoteError(f"{what}: {url} did not answer in time") from None
        except httpx.TransportError as exc:
            raise RemoteError(f"{what}: cannot reach {url} ({exc.__class__.__name__}: {exc})") from None
        self.answered = True
        if response.status_code in (401, 403):
            raise RemoteError(f"{what}: {url} refused the credentials (HTTP {response.status_code})")
        if response.status_code >= 400:
            detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
            raise RemoteError(
                f"{what}: {url} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
            )
        return response

    def put_graph(self, target: str, body: Iterator[bytes], *, bulk: bool = False) -> None:
        """GSP ``PUT ?graph=target`` with a streamed (chunked) N-Triples body.

        ``bulk``: Oxigraph's non-transactional loader (5× faster), only for a temporary graph that nobody
        reads before its count is checked.
        """
        params = {"graph": target, **({"no_transaction": ""} if bulk and self.endpoints.bulk_param else {})}
        self._send(
            f"PUT of graph <{target}>",
            "PUT",
            self.endpoints.store,
            params=params,
            content=body,
            headers={"Content-Type": NTRIPLES},
        )

    def count(self, target: str) -> int:
        """Number of triples the store holds in one named graph."""
        query = f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{_check_iri(target)}> {{ ?s ?p ?o }} }}"
        response = self._send(
            f"count of graph <{target}>",
            "POST",
            self.endpoints.query,
            data={"query": query},
            headers={"Accept": SPARQL_JSON},
        )
        try:
            bindings = response.json()["results"]["bindings"]
            return int(bindings[0]["n"]["value"]) if bindings else 0
        except (ValueError, KeyError, IndexError, TypeError):
            raise RemoteError(
                f"count of graph <{target}>: {self.endpoints.query} sent an unreadable answer"
            ) from None

    def update(self, what: str, sparql: str) -> None:
        assert self.endpoints.update is not None
        self._send(what, "POST", self.endpoints.update, data={"update": sparql})


def _check_iri(iri: str) -> str:
    if any(c in iri for c in '<>"{}|^`\\ \n'):
        raise InputError(f"{iri!r} is not a valid graph IRI")
    return iri


def publish(
    graph: LoadedGraph,
    endpoints: StoreEndpoints,
    *,
    credentials: Credentials | None = None,
    data_target: str | None = None,
    direct: bool = False,
    dry_run: bool = False,
    progress: bool | None = None,
    timeout: float = 300.0,
) -> PublishResult:
    """Publish the ontology and the data graphs; RemoteError (exit 3) says what was and wasn't replaced.

    ``progress=None`` shows a progress bar only on a terminal.
    """
    result = PublishResult(endpoints, plan(graph, data_target=data_target), dry_run=dry_run)
    for item in result.graphs:
        _check_iri(item.target)
    if dry_run:
        return result
    if not direct and endpoints.update is None:
        raise InputError(
            "no update endpoint to swap the graphs in: give --update-endpoint, or --direct to PUT in place"
        )
    client = StoreClient(endpoints, credentials or Credentials(), timeout=timeout)
    try:
        if direct:
            _publish_direct(client, graph, result.graphs, progress)
        else:
            _publish_swap(client, graph, result.graphs, progress)
        for item in result.graphs:
            item.remote_count = client.count(item.target)
    finally:
        client.close()
    return result


def _upload(
    client: StoreClient,
    graph: LoadedGraph,
    item: GraphPublication,
    into: str,
    progress: bool | None,
    *,
    bulk: bool = False,
) -> None:
    from tqdm import tqdm

    with tqdm(
        total=item.local_count,
        unit=" triples",
        unit_scale=True,
        desc=f"{item.label} → store",
        disable=None if progress is None else not progress,
        leave=False,
    ) as bar:
        client.put_graph(into, ntriples_chunks(graph, item.local_graph, on_triples=bar.update), bulk=bulk)


def _publish_swap(
    client: StoreClient, graph: LoadedGraph, items: list[GraphPublication], progress: bool | None
) -> None:
    token = uuid.uuid4().hex[:12]
    staging = {item.target: f"{item.target}-publishing-{token}" for item in items}
    untouched = ", ".join(f"<{item.target}>" for item in items)
    try:
        for item in items:
            _upload(client, graph, item, staging[item.target], progress, bulk=True)
            received = client.count(staging[item.target])
            if received != item.local_count:
                raise RemoteError(
                    f"the store holds {received} of the {item.local_count} {item.label} triples sent"
                )
    except RemoteError as exc:
        if not client.answered:
            raise RemoteError(
                f"{exc}. Nothing was replaced: the store never answered, so this publish changed nothing on it "
                f"(whether it still serves {untouched} is not known)."
            ) from None
        _drop_quietly(client, staging.values())
        raise RemoteError(
            f"{exc}. Nothing was replaced: no swap was sent, so {untouched} were left as they were."
        ) from None
    moves = " ;\n".join(f"MOVE <{staging[item.target]}> TO <{item.target}>" for item in items)
    try:
        client.update("swap of the new graphs into place", moves)
    except RemoteError as exc:
        _drop_quietly(client, staging.values())
        raise RemoteError(
            f"{exc}. The new graphs were uploaded but not swapped in; a transactional store still serves the "
            f"previous {untouched} (check with a COUNT query)."
        ) from None


def _publish_direct(
    client: StoreClient, graph: LoadedGraph, items: list[GraphPublication], progress: bool | None
) -> None:
    done: list[str] = []
    for item in items:
        try:
            _upload(client, graph, item, item.target, progress)
        except RemoteError as exc:
            replaced = ", ".join(done) or "none"
            raise RemoteError(
                f"{exc}. Replaced before the failure: {replaced}; <{item.target}> holds whatever the store "
                f"keeps after a failed PUT (usually its previous version)."
            ) from None
        done.append(f"<{item.target}>")


def _drop_quietly(client: StoreClient, graphs: Iterable[str]) -> None:
    """Best effort: remove temporary graphs after a failure (the store may be down)."""
    if client.endpoints.update is None:
        return
    for name in graphs:
        try:
            client.update("cleanup", f"DROP SILENT GRAPH <{name}>")
        except RemoteError:
            return
