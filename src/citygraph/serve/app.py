"""The ASGI application: routes, error handlers, CORS, and the backend's lifetime.

Route providers are modules exposing ``routes(state: ServerState) -> list[BaseRoute]``; those listed in
``ROUTE_PROVIDERS`` that exist are mounted after the SPARQL endpoint, in that order.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.util
import os
import sys
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from .cache import FrontCache, ResponseCache
from .errors import exception_handlers
from .fairness import current_client
from .lookups import LookupLane
from .sparql import TRUNCATED_HEADER
from .state import CONFIG_ENV, QueryBackend, ServeConfig, ServerState

# Modules that add routes; each has routes(state) -> list[BaseRoute]. Missing modules are skipped.
ROUTE_PROVIDERS: list[str] = [
    "citygraph.serve.sparql",
    "citygraph.serve.service_description",
    "citygraph.serve.resources",
    "citygraph.serve.downloads",
    "citygraph.serve.pages",
]


CORS: dict[str, Any] = {  # any origin may read every answer (a public, read-only service)
    "allow_origins": ["*"],
    "allow_methods": ["GET", "HEAD", "POST", "OPTIONS"],
    "allow_headers": ["*"],
    "expose_headers": [TRUNCATED_HEADER],  # a script in a browser may read it
    "max_age": 86400,
}


def make_backend(config: ServeConfig) -> QueryBackend:
    """The embedded backend (worker processes over the local store), or the remote one for ``--store``."""
    if config.store_url:
        remote = importlib.import_module("citygraph.serve.remote_backend")
        backend: QueryBackend = remote.RemoteBackend(config)
        return backend
    from .backend import EmbeddedBackend

    return EmbeddedBackend(config)


def make_state(config: ServeConfig, backend: QueryBackend | None = None) -> ServerState:
    from .service_description import served_graphs

    version, last_modified = (config.data_version, config.data_time) if config.data_version else data_version(config)
    state = ServerState(
        config=config,
        backend=backend or make_backend(config),
        cache=ResponseCache(config.cache_bytes, version),
        base=config.base,
        public_url=config.public_url,
        version=version,
        last_modified=last_modified,
    )
    state.named_graphs = served_graphs(state)
    return state


def data_version(config: ServeConfig) -> tuple[str, float]:
    """A short hash of the input files' names, sizes and times, and the newest time (ETag, Last-Modified).

    With ``--store``: a digest of what the store's served graphs hold, and the start time; if the store cannot
    be read now, a version of its own (no client keeps a stale copy, caches just start afresh).
    """
    import hashlib

    from .. import settings

    if config.store_url:
        import time
        import uuid

        from .errors import HttpProblem
        from .remote_backend import store_fingerprint

        try:
            fingerprint = store_fingerprint(config)
        except HttpProblem as exc:
            print(f"citygraph serve: cannot read the store's graphs to version them ({exc.detail})", file=sys.stderr)
            fingerprint = uuid.uuid4().hex
        return hashlib.blake2b(f"{fingerprint}\0{config.base}".encode(), digest_size=8).hexdigest(), time.time()

    paths: list[str] = [path for _, path in config.graphs]
    if config.bundled:
        paths += [str(p) for p in settings.ontology_files() + settings.data_files()]
    digest = hashlib.blake2b(digest_size=8)
    newest = 0.0
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            digest.update(f"{path}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
            newest = max(newest, st.st_mtime)
    digest.update(config.base.encode())
    return digest.hexdigest(), newest


def collect_routes(state: ServerState) -> list[BaseRoute]:
    routes: list[BaseRoute] = []
    for name in ROUTE_PROVIDERS:
        if importlib.util.find_spec(name) is None:
            continue
        module = importlib.import_module(name)
        routes.extend(module.routes(state))
    return routes


def create_app(
    config: ServeConfig, *, backend: QueryBackend | None = None, freeze_heap: bool = False, lookup_lane: bool = True
) -> Starlette:
    """The whole site for ``config``; the backend starts with the app and stops with it.

    ``lookup_lane=False`` leaves out the lookup lane (``lookups.py``): every lookup goes through routing (the
    reference its tests compare it with).

    ``freeze_heap`` (a server process): once started, what startup built (graphs, pages, tables) is moved out
    of the cyclic garbage collector's sight (``gc.freeze``), so its collections stop re-reading it.
    """
    from starlette.middleware.cors import CORSMiddleware

    state = make_state(config, backend)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await state.backend.start()
        if freeze_heap:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await state.backend.close()

    middleware = [
        Middleware(FrontCache, max_bytes=config.cache_bytes),  # cached answers skip everything below
        Middleware(ClientAddress, trusted=config.forwarded_allow_ips),  # who asks (fair sharing)
        Middleware(CORSMiddleware, **CORS),
    ]
    if lookup_lane:  # first: lookups skip everything else, and get the same CORS headers
        middleware.insert(0, Middleware(LookupLane, state=state, cors=CORS))
    app = Starlette(
        routes=collect_routes(state),
        exception_handlers=exception_handlers(),  # type: ignore[arg-type]
        middleware=middleware,
        lifespan=lifespan,
    )
    app.state.citygraph = state
    return app


class ClientAddress:
    """Raw ASGI middleware: names the request's client for fair sharing (``fairness.current_client``).

    The client is the socket peer; only when the peer is a trusted proxy (``--forwarded-allow-ips``, ``*`` for
    any) does ``X-Forwarded-For`` count: its rightmost address that is not itself a trusted proxy.
    """

    def __init__(self, app: Any, trusted: tuple[str, ...] = ()) -> None:
        self.app = app
        self.trust_all = "*" in trusted
        self.trusted = frozenset(trusted)

    def _trusted(self, address: str) -> bool:
        return self.trust_all or address in self.trusted

    def client(self, scope: Any) -> str:
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if not self._trusted(address):
            return address
        for name, value in scope.get("headers", ()):
            if name == b"x-forwarded-for":
                hops = [hop.strip() for hop in value.decode("latin-1").split(",") if hop.strip()]
                for hop in reversed(hops):
                    if not self._trusted(hop):
                        return str(hop[:64])
        return address

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = current_client.set(self.client(scope))
        try:
            await self.app(scope, receive, send)
        finally:
            current_client.reset(token)


def app_from_env() -> Starlette:
    """Factory for uvicorn worker processes: the config comes as JSON in ``CITYGRAPH_SERVE_CONFIG``."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set: start the server with `citygraph serve`")
    return create_app(ServeConfig.from_json(text), freeze_heap=True)
