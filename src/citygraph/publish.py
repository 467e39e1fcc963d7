"""Push the ontology and the data to a triple store (Graph Store HTTP Protocol), then check the triple counts.

Each local graph is written to a file of N-Triples (by Oxigraph, bounded memory), then ``PUT`` with its length
(``Content-Length``: some stores store nothing from a chunked body) into a fresh *version* graph, whose triple
count is checked on the store. Only when every new version is complete does one small SPARQL Update move the
pointers of :mod:`citygraph.stores` to them: the switch is one operation on a few triples, whatever the size
of the graphs, so every store applies it at once. A failure before it leaves the current versions current and
queryable. Versions that are no longer current, except the previous one (kept for readers that resolved the
pointer just before the switch, and to roll back), are deleted; on Oxigraph in a background thread from the start
of the publish, while the new versions are written and uploaded (readers follow the pointers, so nobody reads
them), else after the switch. With ``direct=True`` (stores without SPARQL Update) the graphs are ``PUT`` in place:
what a failed ``PUT`` leaves is up to the store.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import stores
from .errors import InputError, RemoteError

if TYPE_CHECKING:
    import httpx

    from .load import LoadedGraph

NTRIPLES = stores.NTRIPLES
SPARQL_JSON = stores.SPARQL_JSON
UPLOAD_BLOCK = 1 << 20
DROP_SLICE = 100_000  # at most this many triples of one predicate per transaction when Oxigraph deletes a version
# A version stops being current at a switch; it is deleted no sooner than this after it. `serve --store` re-reads
# the pointers every second, `query --endpoint` reads them just before its query, and Oxigraph runs each query
# on a snapshot (a query sent before a deletion commits sees the whole version).
RETIRED_GRACE_S = 3.0


@dataclass(frozen=True)
class StoreEndpoints:
    """The three URLs a publish uses: Graph Store Protocol, SPARQL query, SPARQL update (None: no update)."""

    store: str
    query: str
    update: str | None
    bulk_param: bool = False  # Oxigraph's ``no_transaction`` bulk load, used for version graphs only

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
    """HTTP Basic or Digest auth, or a bearer token; secrets come from environment variables, never the command line."""

    user: str | None = None
    password: str | None = None
    token: str | None = None
    digest: bool = False  # HTTP Digest (Virtuoso's *-auth endpoints) instead of Basic

    @classmethod
    def from_env(
        cls, *, user: str | None, password_env: str | None, token_env: str | None, scheme: str = "basic"
    ) -> Credentials:
        if token_env and (user or password_env):
            raise InputError("give either --user/--password-env or --token-env, not both")
        if password_env and not user:
            raise InputError("--password-env needs --user")
        if scheme == "digest" and not user:
            raise InputError("--auth digest needs --user and --password-env")
        if token_env:
            return cls(token=_read_env(token_env, "--token-env"))
        if user:
            password = _read_env(password_env, "--password-env") if password_env else ""
            return cls(user=user, password=password, digest=scheme == "digest")
        return cls()

    def auth(self) -> httpx.Auth | None:
        import httpx

        if self.user is None:
            return None
        if self.digest:
            return httpx.DigestAuth(self.user, self.password or "")
        return httpx.BasicAuth(self.user, self.password or "")

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
    version: str | None = None  # the version graph now current (None for --direct and --dry-run)

    @property
    def matches(self) -> bool:
        return self.remote_count == self.local_count


@dataclass
class PublishResult:
    endpoints: StoreEndpoints
    graphs: list[GraphPublication] = field(default_factory=list)
    dry_run: bool = False
    notes: list[str] = field(default_factory=list)  # after a successful switch: cleanup that could not be done
    live_after: float | None = None  # seconds from the start until the new versions were current (the switch)
    started: float = 0.0

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


class FileBody:
    """A request body read from a file in blocks: its length is known (``Content-Length``) and it can be sent
    again (an HTTP Digest challenge makes the client resend the request)."""

    def __init__(self, path: str, on_bytes: Callable[[int], None] | None = None) -> None:
        self.path = path
        self.size = os.path.getsize(path)
        self.on_bytes = on_bytes

    def __iter__(self) -> Iterator[bytes]:
        with open(self.path, "rb") as file:
            while block := file.read(UPLOAD_BLOCK):
                yield block
                if self.on_bytes:
                    self.on_bytes(len(block))


class StoreClient:
    """The few HTTP calls a publish needs, each turning a failure into a RemoteError that names the call."""

    def __init__(
        self, endpoints: StoreEndpoints, credentials: Credentials, *, timeout: float = 300.0
    ) -> None:
        import httpx

        self.endpoints = endpoints
        self.credentials, self.timeout = credentials, timeout
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
        except httpx.StreamConsumed:
            raise RemoteError(f"{what}: {url} asked for the credentials again") from None
        self.answered = True
        if response.status_code in (401, 403):
            challenge = response.headers.get("www-authenticate", "").lower()
            basic = isinstance(self.http.auth, httpx.BasicAuth)
            hint = ""
            if basic and (challenge.startswith("digest") or not challenge):  # Virtuoso: a bare 401 to Basic
                hint = " (if the store speaks HTTP Digest, as Virtuoso's *-auth endpoints do: add --auth digest)"
            raise RemoteError(
                f"{what}: {url} refused the credentials (HTTP {response.status_code}){hint}"
            )
        if response.status_code >= 400:
            detail = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
            raise RemoteError(
                f"{what}: {url} answered HTTP {response.status_code}" + (f": {detail}" if detail else "")
            )
        return response

    def put_graph(self, target: str, body: FileBody, *, bulk: bool = False) -> None:
        """GSP ``PUT ?graph=target`` of an N-Triples file, its length given.

        ``bulk``: Oxigraph's non-transactional loader (5× faster), only for a version graph that nobody
        reads before its count is checked and the pointer moves to it.
        """
        params = {"graph": target, **({"no_transaction": ""} if bulk and self.endpoints.bulk_param else {})}
        self._send(
            f"PUT of graph <{target}>",
            "PUT",
            self.endpoints.store,
            params=params,
            content=body,
            headers={"Content-Type": NTRIPLES, "Content-Length": str(body.size)},
        )

    def _select(self, what: str, query: str) -> object:
        response = self._send(
            what, "POST", self.endpoints.query, data={"query": query}, headers={"Accept": SPARQL_JSON}
        )
        try:
            return response.json()
        except ValueError:
            raise RemoteError(f"{what}: {self.endpoints.query} sent an unreadable answer") from None

    def count(self, target: str) -> int:
        """Number of triples the store holds in one named graph."""
        what = f"count of graph <{target}>"
        try:
            return stores.read_count(self._select(what, stores.count_query(_check_iri(target))))
        except ValueError:
            raise RemoteError(f"{what}: {self.endpoints.query} sent an unreadable answer") from None

    def versions(self, base: str, targets: list[str]) -> tuple[dict[str, str], dict[str, set[str]]]:
        """The current version of each target (if any) and every recorded version."""
        what = "reading the current versions"
        try:
            return stores.read_versions(self._select(what, stores.versions_query(base, targets)))
        except ValueError:
            raise RemoteError(f"{what}: {self.endpoints.query} sent an unreadable answer") from None

    def retired_ages(self, base: str, versions: list[str]) -> dict[str, float]:
        """Seconds since each version stopped being current, by the store's clock (only those recorded)."""
        what = "reading when the old versions stopped being current"
        try:
            return stores.read_retired(self._select(what, stores.retired_query(base, versions)))
        except ValueError:
            raise RemoteError(f"{what}: {self.endpoints.query} sent an unreadable answer") from None

    def drop_unread(self, graph: str, stop: threading.Event | None = None) -> bool:
        """Remove a graph nobody reads any more; False if ``stop`` was set first (the graph is partly removed).

        On Oxigraph one predicate at a time, at most DROP_SLICE triples a transaction: a ``DROP`` is one
        transaction whose cost grows faster than the graph, and each slice taken from the start of the whole
        graph would first skip the entries the slices before deleted; a predicate's slice starts past them.
        """
        if not self.endpoints.bulk_param:
            self.update("drop of an old version", f"DROP SILENT GRAPH <{graph}>")
            return True
        while sizes := self._predicate_sizes(graph):
            for predicate, size in sizes.items():
                for _ in range(-(-size // DROP_SLICE)):
                    if stop is not None and stop.is_set():
                        return False
                    self.update("drop of an old version", _slice_deletion(graph, predicate, size))
        self.update("drop of an old version", f"DROP SILENT GRAPH <{graph}>")  # its name, now that it is empty
        return True

    def _predicate_sizes(self, graph: str) -> dict[str, int]:
        what = f"size of graph <{graph}>"
        answer = self._select(
            what, f"SELECT ?p (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }} GROUP BY ?p"
        )
        try:
            rows = answer["results"]["bindings"]  # type: ignore[index]
            return {_check_iri(row["p"]["value"]): int(row["n"]["value"]) for row in rows}
        except (KeyError, TypeError, ValueError):
            raise RemoteError(f"{what}: {self.endpoints.query} sent an unreadable answer") from None

    def update(self, what: str, sparql: str) -> None:
        assert self.endpoints.update is not None
        self._send(what, "POST", self.endpoints.update, data={"update": sparql})


def _slice_deletion(graph: str, predicate: str, size: int) -> str:
    """Delete the triples of one predicate in ``graph``, at most DROP_SLICE of them."""
    if size <= DROP_SLICE:
        return f"DELETE WHERE {{ GRAPH <{graph}> {{ ?s <{predicate}> ?o }} }}"
    return (f"DELETE {{ GRAPH <{graph}> {{ ?s <{predicate}> ?o }} }} WHERE {{ {{ SELECT ?s ?o WHERE "
            f"{{ GRAPH <{graph}> {{ ?s <{predicate}> ?o }} }} LIMIT {DROP_SLICE} }} }}")


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
            "no update endpoint to switch to the new versions: give --update-endpoint, or --direct to PUT in place"
        )
    client = StoreClient(endpoints, credentials or Credentials(), timeout=timeout)
    result.started = time.perf_counter()
    try:
        with tempfile.TemporaryDirectory(prefix="citygraph-publish-") as work:
            if direct:
                _publish_direct(client, graph, result, work, progress)
            else:
                _publish_versions(client, graph, result, work, progress)
    finally:
        client.close()
    return result


def _upload(
    client: StoreClient,
    graph: LoadedGraph,
    item: GraphPublication,
    into: str,
    work: str,
    progress: bool | None,
    *,
    bulk: bool = False,
) -> None:
    import pyoxigraph
    from tqdm import tqdm

    path = os.path.join(work, f"{item.label}.nt")  # written by Oxigraph itself: twice as fast as in chunks
    graph.store.dump(path, pyoxigraph.RdfFormat.N_TRIPLES, from_graph=pyoxigraph.NamedNode(item.local_graph))
    with tqdm(
        total=os.path.getsize(path),
        unit="B",
        unit_scale=True,
        desc=f"{item.label} ({item.local_count} triples) → store",
        disable=None if progress is None else not progress,
        leave=False,
    ) as bar:
        client.put_graph(into, FileBody(path, bar.update), bulk=bulk)
    os.unlink(path)


class Cleanup:
    """Deletes versions nobody reads (each one, then its record) with its own connection, in a thread or not.

    A version that stopped being current less than RETIRED_GRACE_S ago (by the store's clock) is deleted once
    that much time has passed. ``stop()`` ends the work after the current transaction: what is left stays
    recorded, and the next publish deletes it.
    """

    def __init__(self, client: StoreClient, base: str, stale: dict[str, set[str]]) -> None:
        self.client = StoreClient(client.endpoints, client.credentials, timeout=client.timeout)
        self.base = base
        self.stale = [(t, v) for t in sorted(stale) for v in sorted(stale[t])]
        self.failure: RemoteError | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="citygraph-cleanup", daemon=True)
        self._thread.start()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        self.wait()

    def wait(self) -> None:
        if self._thread is not None:
            self._thread.join()

    def run(self) -> None:
        if not self.stale:
            return
        try:
            try:
                ages = self.client.retired_ages(self.base, [v for _, v in self.stale])
            except RemoteError:
                ages = {v: 0.0 for _, v in self.stale}  # when unknown, wait the whole grace
            started = time.monotonic()
            for target, version in self.stale:
                wait = RETIRED_GRACE_S - ages.get(version, RETIRED_GRACE_S) - (time.monotonic() - started)
                if (wait > 0 and self._stop.wait(wait)) or not self.client.drop_unread(version, self._stop):
                    return
                self.client.update(
                    "record of the dropped versions", stores.forget_update(self.base, {target: [version]})
                )
        except RemoteError as exc:
            self.failure = exc


def _publish_versions(
    client: StoreClient, graph: LoadedGraph, result: PublishResult, work: str, progress: bool | None
) -> None:
    items, base = result.graphs, graph.base
    targets = [item.target for item in items]
    untouched = ", ".join(f"<{t}>" for t in targets)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + uuid.uuid4().hex[:8]
    new = {t: stores.version_iri(t, stamp) for t in targets}
    cleanup: Cleanup | None = None
    try:
        before, recorded = client.versions(base, targets)
        # Versions neither current nor the new one are no longer read: on Oxigraph they go while the new ones are
        # written and uploaded. The current one is kept (the previous one after the switch).
        stale = {t: recorded.get(t, set()) - {before.get(t, "")} for t in targets}
        cleanup = Cleanup(client, base, stale)
        if client.endpoints.bulk_param:
            cleanup.start()
        client.update("record of the new versions", stores.record_update(base, new, _now()))
        for item in items:
            _upload(client, graph, item, new[item.target], work, progress, bulk=True)
            received = client.count(new[item.target])
            if received != item.local_count:
                raise RemoteError(
                    f"the store holds {received} of the {item.local_count} {item.label} triples sent"
                )
    except RemoteError as exc:
        if cleanup is not None:
            cleanup.stop()
            cleanup.client.close()
        if not client.answered:
            raise RemoteError(
                f"{exc}. Nothing was replaced: the store never answered, so this publish changed nothing on it "
                f"(whether it still serves {untouched} is not known)."
            ) from None
        _drop_quietly(client, base, new)
        raise RemoteError(
            f"{exc}. Nothing was replaced: no switch was sent, so the store still serves the previous {untouched}."
        ) from None
    except BaseException:
        if cleanup is not None:
            cleanup.stop()
            cleanup.client.close()
        raise
    try:
        client.update("switch to the new versions", stores.switch_update(base, new))
    except RemoteError as exc:
        cleanup.stop()
        try:
            switched = client.versions(base, targets)[0] == new
        except RemoteError:
            raise RemoteError(
                f"{exc}. The new versions were uploaded; whether the switch happened is unknown (the store no "
                f"longer answers): if not, it still serves the previous {untouched}; the next publish cleans up."
            ) from None
        if not switched:
            _drop_quietly(client, base, new)
            raise RemoteError(f"{exc}. Not switched: the store still serves the previous {untouched}.") from None
    result.live_after = time.perf_counter() - result.started
    for item in items:  # counted before the switch: a version is never written again
        item.version = new[item.target]
        item.remote_count = item.local_count
    if client.endpoints.bulk_param:
        cleanup.wait()
    elif not cleanup.stopped:
        cleanup.run()
    cleanup.client.close()
    try:
        if cleanup.failure is not None:
            raise cleanup.failure
        for t in targets:
            if t in before:  # what a publish before versions (or --direct) left under the name itself
                client.drop_unread(t)
    except RemoteError as exc:
        result.notes.append(f"published, but old versions are left on the store ({exc}); the next publish retries")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _publish_direct(
    client: StoreClient, graph: LoadedGraph, result: PublishResult, work: str, progress: bool | None
) -> None:
    items, base = result.graphs, graph.base
    targets = [item.target for item in items]
    pointed = [t for t in client.versions(base, targets)[0] if t in targets]
    if pointed and client.endpoints.update is None:
        raise InputError(
            f"{', '.join(f'<{t}>' for t in pointed)} have versions on the store that readers follow: a --direct "
            "PUT would not be seen; publish without --direct (give --update-endpoint)"
        )
    done: list[str] = []
    for item in items:
        try:
            _upload(client, graph, item, item.target, work, progress)
        except RemoteError as exc:
            replaced = ", ".join(done) or "none"
            raise RemoteError(
                f"{exc}. Replaced before the failure: {replaced}; <{item.target}> holds whatever the store "
                f"keeps after a failed PUT (usually its previous version)."
            ) from None
        done.append(f"<{item.target}>")
    if pointed:
        client.update("removal of the version pointers", stores.unpoint_update(base, pointed))
    for item in items:
        item.remote_count = client.count(item.target)


def _drop_quietly(client: StoreClient, base: str, versions: dict[str, str]) -> None:
    """Best effort: remove the new version graphs and their records after a failure (the store may be down)."""
    if client.endpoints.update is None:
        return
    try:
        for name in versions.values():
            client.update("cleanup", f"DROP SILENT GRAPH <{name}>")
        client.update("cleanup", stores.forget_update(base, {t: [v] for t, v in versions.items()}))
    except RemoteError:
        return
