"""Downloads: ``/dumps/`` (the export), ``/catalog`` (DCAT), ``/.well-known/void``, ``/context.jsonld``.

Harvesters get the catalogue at its own URLs with no redirect (udata refuses them) and every RDF file with
``charset=utf-8`` (udata reads a text response without one as ISO-8859-1).

The files are those ``citygraph export`` writes (``citygraph.export``), generated once per data version into
a cache directory on the first request that needs them: built in a private temporary directory, then renamed
into place, so a reader never sees a half-written set and concurrent server processes never mix theirs.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Route

from ..errors import CitygraphError
from ..formats import RDF_FORMATS
from . import resources
from .cache import CachedResponse
from .conneg import negotiate
from .errors import HttpProblem
from .state import ServerState

if TYPE_CHECKING:
    from ..load import LoadedGraph

CACHE_ENV = "CITYGRAPH_CACHE_DIR"
CHECKSUMS = "SHA256SUMS"


@dataclass(frozen=True)
class DumpFile:
    name: str
    size: int
    sha256: str


def cache_root() -> Path:
    """Where generated files go: ``$CITYGRAPH_CACHE_DIR``, or a per-user directory in the temp dir."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / f"citygraph-cache-{os.getuid() if hasattr(os, 'getuid') else 'user'}"


def media_type(name: str) -> str:
    """The media type of an exported file, from the one format table (``.gz`` files are gzip downloads); every
    text file, RDF included, says it is UTF-8."""
    if name.endswith(".gz"):
        return "application/gzip"
    if name == CHECKSUMS:
        return "text/plain; charset=utf-8"
    extension = name.rpartition(".")[2]
    if extension == "csv":
        return "text/csv; charset=utf-8"
    for fmt in RDF_FORMATS:
        if fmt.extension == extension:
            return f"{fmt.media_type}; charset=utf-8"
    return "application/octet-stream"


def generation_key(state: ServerState) -> str:
    """Names one set of generated files: the data version and the code that writes them (a new release or an
    edited exporter must not reuse older files)."""
    import hashlib

    from .. import __version__, catalog, export, jsonld

    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{state.version}\0{state.base}\0{__version__}".encode())
    for module in (export, catalog, jsonld):
        if module.__file__:
            digest.update(str(os.stat(module.__file__).st_mtime_ns).encode())
    return digest.hexdigest()


class Dumps:
    """The export's files for one server state, generated on first use: from the bundled files, or with
    ``serve --store`` from the store's graphs, copied on first use (a set already generated for the same content
    is reused)."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.directory = cache_root() / f"dumps-{generation_key(state)}"
        self._lock = asyncio.Lock()
        self._files: dict[str, DumpFile] | None = None

    @property
    def available(self) -> bool:
        """Dumps describe the bundled dataset; a server without it (only --graph files) has none."""
        return self.state.config.bundled

    async def files(self) -> dict[str, DumpFile]:
        if self._files is not None:
            return self._files
        if not self.available:
            return {}
        async with self._lock:
            if self._files is None:
                await asyncio.to_thread(self._prepare)
                self._files = self._read_listing()
        return self._files

    def _prepare(self) -> None:
        """Make sure ``self.directory`` holds the complete set (generating it if need be)."""
        from ..load import load_graph

        if self.state.config.store_url:  # named by what is copied now (the store may have changed since start)
            from .remote_backend import fetch_graphs

            graph, content = fetch_graphs(self.state.config)
            self.directory = self.directory.with_name(f"{self.directory.name}-{content}")
            if not (self.directory / CHECKSUMS).is_file():
                self._generate(graph)
        elif not (self.directory / CHECKSUMS).is_file():
            self._generate(load_graph(base=self.state.base))

    def _generate(self, graph: LoadedGraph) -> None:
        from ..export import export

        self.directory.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{self.directory.name}-", dir=self.directory.parent))
        try:
            export(graph, staging, "all")
            try:
                os.rename(staging, self.directory)
            except OSError:
                # Another process may have renamed its complete set first; anything else is a failure.
                if not (self.directory / CHECKSUMS).is_file():
                    raise
        except CitygraphError as exc:
            raise HttpProblem(500, f"the dumps could not be generated: {exc}") from None
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)

    def _read_listing(self) -> dict[str, DumpFile]:
        listing: dict[str, DumpFile] = {}
        for line in (self.directory / CHECKSUMS).read_text("ascii").splitlines():
            digest, _, name = line.partition("  ")
            path = self.directory / name
            if name and path.is_file():
                listing[name] = DumpFile(name, path.stat().st_size, digest)
        checksums = self.directory / CHECKSUMS
        listing[CHECKSUMS] = DumpFile(CHECKSUMS, checksums.stat().st_size, "")
        return dict(sorted(listing.items()))

    async def response(self, request: Request, name: str, media: str | None = None) -> Response:
        """One generated file, with ETag (its SHA-256) and Last-Modified; 304 when the client has it."""
        files = await self.files()
        found = files.get(name)
        if found is None:
            raise HttpProblem(404, f"no file {name!r} here (see /dumps/)")
        path = self.directory / name
        etag = f'"{found.sha256[:32]}"' if found.sha256 else f'"{self.state.version}-{found.size}"'
        headers = {"ETag": etag, "Access-Control-Allow-Origin": "*", "Cache-Control": "public, max-age=3600"}
        if self.state.last_modified:
            headers["Last-Modified"] = resources.http_date(self.state.last_modified)
        inm = request.headers.get("if-none-match")
        if (inm and etag in [tag.strip().removeprefix("W/") for tag in inm.split(",")]) or (
                not inm and resources.not_modified_since(request, self.state)):
            return Response(status_code=304, headers=headers)
        return FileResponse(path, media_type=media or media_type(name), headers=headers)


def routes(state: ServerState) -> list[BaseRoute]:
    dumps = Dumps(state)

    async def listing(request: Request) -> Response:
        from . import pages

        site = pages.Site(state)
        files = list((await dumps.files()).values())

        async def produce(lang: pages.Lang) -> CachedResponse:
            context = site.context(request, lang, pages.t(lang.code, "dumps.title"), files=files,
                                   alternates=[{"href": "/dumps.json", "media_type": "application/json"}])
            return site.entry(site.render("dumps.html", context))

        return await site.page(request, produce)

    async def listing_json(request: Request) -> Response:
        import json

        files = await dumps.files()

        async def produce() -> CachedResponse:
            body = json.dumps({"files": [{"name": f.name, "url": f"/dumps/{f.name}", "size": f.size,
                                          "sha256": f.sha256 or None, "media_type": media_type(f.name)}
                                         for f in files.values()]}, ensure_ascii=False, indent=1)
            return state.cache.make(body.encode("utf-8"), "application/json",
                                    {"Access-Control-Allow-Origin": "*"})

        return await resources.respond(request, state, resources.cache_key(request), produce)

    async def dump_file(request: Request) -> Response:
        return await dumps.response(request, request.path_params["name"])

    async def catalog_file(request: Request, name: str, media: str | None = None) -> Response:
        response = await dumps.response(request, name, media)
        response.headers["Link"] = ('</catalog.ttl>; rel="alternate"; type="text/turtle", '
                                    '</catalog.jsonld>; rel="alternate"; type="application/ld+json"')
        return response

    async def catalog(request: Request) -> Response:
        """The DCAT catalogue, Turtle or JSON-LD by Accept (or ``/catalog.ttl``, ``/catalog.jsonld``)."""
        ext = request.path_params.get("ext")
        if ext is not None:
            if ext not in ("ttl", "jsonld"):
                raise HttpProblem(404, f"no catalogue format .{ext} (available: .ttl, .jsonld)")
            return await catalog_file(request, f"catalog.{ext}")
        offered = ["text/turtle", "application/ld+json", "application/json", "text/html"]
        choice = negotiate(request.headers.get("accept"), offered, default="text/turtle")
        if choice is None:
            raise resources.not_acceptable("text/turtle, application/ld+json")
        ext = "jsonld" if choice in ("application/ld+json", "application/json") else "ttl"
        # A browser gets the Turtle as text it can show, not a file to save.
        media = "text/plain; charset=utf-8" if choice == "text/html" else None
        response = await catalog_file(request, f"catalog.{ext}", media)
        response.headers["Vary"] = "Accept"
        return response

    async def catalog_udata(request: Request) -> Response:
        """The catalogue for udata (data.gouv.fr): the same graph, checksums as plain strings (see README)."""
        return await catalog_file(request, "catalog-udata.ttl")

    async def void(request: Request) -> Response:
        return await dumps.response(request, "void.ttl")

    async def context(request: Request) -> Response:
        from ..export import context_bytes

        async def produce() -> CachedResponse:
            return state.cache.make(context_bytes(state.base), "application/ld+json",
                                    {"Access-Control-Allow-Origin": "*"})

        return await resources.respond(request, state, resources.cache_key(request), produce)

    return [
        Route("/dumps/", listing, methods=["GET", "HEAD"]),
        Route("/dumps", lambda request: Response(status_code=308, headers={"Location": "/dumps/"}),
              methods=["GET", "HEAD"]),
        Route("/dumps.json", listing_json, methods=["GET", "HEAD"]),
        Route("/dumps/{name}", dump_file, methods=["GET", "HEAD"]),
        Route("/catalog", catalog, methods=["GET", "HEAD"]),
        Route("/catalog-udata.ttl", catalog_udata, methods=["GET", "HEAD"]),
        Route("/catalog.{ext}", catalog, methods=["GET", "HEAD"]),
        Route("/.well-known/void", void, methods=["GET", "HEAD"]),
        Route("/context.jsonld", context, methods=["GET", "HEAD"]),
    ]
