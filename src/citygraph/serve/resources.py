"""Dereferenceable IRIs: ``/id/…`` answers 303 to the page or the data; ``/data/…`` serves the RDF.

IRIs keep the configured base (``{base}id/authority/paris``); this server answers for them under its own host:
``/id/authority/paris`` → 303 → ``/page/authority/paris`` (HTML) or ``/data/authority/paris.ttl`` (and
``.jsonld``, ``.nt``, ``.rdf``), chosen from ``Accept``. The ontology's hash IRIs (``{base}ontology#Term``)
resolve at ``/ontology`` (page or RDF by ``Accept``) and ``/ontology.ttl`` etc.

Every description comes from the query backend (CONSTRUCT and SELECT), never from the store directly, so the
same routes work over a remote store. This module also holds the helpers shared by the pages and downloads:
conditional answers (ETag, Last-Modified, 304) and the RDF formats offered.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from email.utils import formatdate, parsedate_to_datetime
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..formats import RDF_FORMATS, RdfFormatInfo, oxigraph_format, rdf_format
from ..namespaces import PREFIXES
from .cache import CachedResponse
from .conneg import negotiate
from .errors import HttpProblem
from .state import ServerState

if TYPE_CHECKING:
    import pyoxigraph

HTML = "text/html"
HTML_TYPES = (HTML, "application/xhtml+xml")
# RDF formats a single resource is offered in (graphs only: no N-Quads or TriG).
TWIN_FORMATS: tuple[RdfFormatInfo, ...] = tuple(fmt for fmt in RDF_FORMATS if not fmt.dataset)
TWIN_EXTENSIONS: tuple[str, ...] = tuple(fmt.extension for fmt in TWIN_FORMATS)

# A resource's description: what it says, and what says something about it (one hop each way).
DESCRIBE_QUERY = """\
CONSTRUCT { ?resource ?p ?o . ?s ?q ?resource }
WHERE { { ?resource ?p ?o } UNION { ?s ?q ?resource } }"""
EXISTS_QUERY = "ASK { { ?resource ?p ?o } UNION { ?s ?q ?resource } }"


# ---------------------------------------------------------------- IRIs and local paths


def id_prefix(state: ServerState) -> str:
    return state.base + "id/"


def ontology_iri(state: ServerState) -> str:
    return state.base + "ontology"


def resource_iri(state: ServerState, path: str) -> str:
    """The IRI of the resource served at ``/id/{path}``."""
    return id_prefix(state) + path


# What an IRI cannot hold (RFC 3987 and SPARQL's IRIREF), plus U+FFFD: a byte that was not UTF-8.
NOT_IN_IRI = re.compile(r'[\x00-\x20<>"{}|^`\\\x7f-\x9f\ufffd\ud800-\udfff]')


def local_path(request: Request, prefix: str, state: ServerState) -> str:
    """The resource path of a request under ``prefix`` (``/id/``, ``/page/``, ``/data/``), read from the whole
    decoded path (a route's pattern would drop a final line feed); 404 if no IRI can end with it."""
    full = request.scope.get("path", "")
    path = full[len(prefix):] if full.startswith(prefix) else ""
    bad = NOT_IN_IRI.search(path)
    if bad is not None or not path:
        shown = f" (it holds {bad.group(0)!r}, which an IRI cannot)" if bad else ""
        raise HttpProblem(404, f"no resource at {prefix}{path!r}{shown}", title="Not Found")
    import pyoxigraph

    try:
        pyoxigraph.NamedNode(resource_iri(state, path))
    except ValueError as exc:
        raise HttpProblem(404, f"no resource at {prefix}{path!r}: not an IRI ({exc})", title="Not Found") \
            from None
    return path


def local_href(state: ServerState, iri: str) -> str | None:
    """This server's path for an IRI under the base (its page), or None for an outside IRI."""
    if iri.startswith(id_prefix(state)):
        return "/page/" + iri[len(id_prefix(state)):]
    onto = ontology_iri(state)
    if iri == onto:
        return "/ontology"
    if iri.startswith(onto + "#"):
        return "/ontology" + iri[len(onto):]
    return None


def data_href(path: str, fmt: RdfFormatInfo) -> str:
    return f"/data/{path}.{fmt.extension}"


def alternates(path: str) -> list[tuple[str, str]]:
    """(href, media type) of every representation of the resource at ``/id/{path}``, the page first."""
    return [("/page/" + path, HTML)] + [(data_href(path, fmt), fmt.media_type) for fmt in TWIN_FORMATS]


def link_header(links: Sequence[tuple[str, str]]) -> str:
    return ", ".join(f'<{href}>; rel="alternate"; type="{media}"' for href, media in links)


# ---------------------------------------------------------------- conditional answers


def http_date(timestamp: float) -> str:
    return formatdate(int(timestamp), usegmt=True)


def not_modified_since(request: Request, state: ServerState) -> bool:
    """True when ``If-Modified-Since`` is not older than the data (ignored beside ``If-None-Match``)."""
    since = request.headers.get("if-modified-since")
    if not since or request.headers.get("if-none-match") or not state.last_modified:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return when.timestamp() >= int(state.last_modified)


async def respond(request: Request, state: ServerState, key: str,
                  produce: Callable[[], Awaitable[CachedResponse]]) -> Response:
    """An answer that never changes while the server runs: cached, ETag and Last-Modified, 304 if fresh."""
    response = await state.cache.respond(request, key, produce)
    if response.status_code == 200 and not_modified_since(request, state):
        response = Response(status_code=304, headers={"ETag": response.headers.get("etag", "")})
    if state.last_modified and response.status_code in (200, 304):
        response.headers["Last-Modified"] = http_date(state.last_modified)
    return response


def cache_key(request: Request, *parts: str) -> str:
    return "\0".join((request.url.path, str(request.query_params), *parts))


# ---------------------------------------------------------------- RDF through the backend


def parse_ntriples(payload: bytes) -> list[pyoxigraph.Triple]:
    """Triples of the N-Triples the backend returns."""
    import pyoxigraph

    return [quad.triple for quad in pyoxigraph.parse(payload, format=pyoxigraph.RdfFormat.N_TRIPLES)]


def serialize(triples: Sequence[pyoxigraph.Triple], fmt: RdfFormatInfo, state: ServerState) -> bytes:
    """Triples in one of the twin formats, with the usual prefixes where the format has them."""
    import pyoxigraph

    prefixes = {**PREFIXES, "cgo": ontology_iri(state) + "#"}
    unique = list(dict.fromkeys(triples))
    if fmt.key == "ttl":  # resources as <authority/paris> under @base: readable, and the same IRIs
        out = pyoxigraph.serialize(unique, format=oxigraph_format(fmt), prefixes=prefixes,
                                   base_iri=id_prefix(state))
    elif fmt.key in ("rdf", "jsonld"):
        out = pyoxigraph.serialize(unique, format=oxigraph_format(fmt), prefixes=prefixes)
    else:
        out = pyoxigraph.serialize(unique, format=oxigraph_format(fmt))
    return out or b""


async def describe(state: ServerState, iri: str) -> list[pyoxigraph.Triple]:
    """The triples about ``iri`` (both directions), from the backend; empty if the graph never mentions it."""
    import pyoxigraph

    payload = await state.backend.construct(DESCRIBE_QUERY, bindings={"resource": pyoxigraph.NamedNode(iri)})
    return parse_ntriples(payload)


async def exists(state: ServerState, iri: str) -> bool:
    import pyoxigraph

    result = await state.backend.select(EXISTS_QUERY, bindings={"resource": pyoxigraph.NamedNode(iri)})
    if not result.rows:
        return False
    answer = result.rows[0].get("ask")
    return bool(answer is not None and getattr(answer, "value", "") == "true")


def not_found(iri: str) -> HttpProblem:
    return HttpProblem(404, f"the graph says nothing about <{iri}>", title="Not Found", key="says_nothing",
                       fields={"iri": iri})


def rdf_entry(state: ServerState, triples: Sequence[pyoxigraph.Triple], fmt: RdfFormatInfo,
              links: Sequence[tuple[str, str]] = ()) -> CachedResponse:
    headers = {"Vary": "Accept", "Access-Control-Allow-Origin": "*"}
    if links:
        headers["Link"] = link_header(links)
    media = fmt.media_type + ("; charset=utf-8" if fmt.key in ("ttl", "nt") else "")
    return state.cache.make(serialize(triples, fmt, state), media, headers)


def negotiate_rdf(accept: str | None, *, html: bool) -> str | None:
    """What ``Accept`` asks for: ``text/html`` (if offered) or a twin format's key; None if nothing fits.

    Without an Accept header a person is assumed (HTML) when HTML is offered, Turtle otherwise.
    """
    offered: list[str] = list(HTML_TYPES) if html else []
    by_media: dict[str, str] = {}
    for fmt in TWIN_FORMATS:
        for media in (fmt.media_type, *fmt.aliases):
            offered.append(media)
            by_media[media] = fmt.key
    by_media.update({"application/json": "jsonld", "application/xml": "rdf", "text/xml": "rdf"})
    offered += ["application/json", "application/xml", "text/xml"]
    choice = negotiate(accept, offered, default=offered[0])
    if choice is None:
        return None
    return HTML if choice in HTML_TYPES else by_media[choice]


def not_acceptable(offered: str) -> HttpProblem:
    return HttpProblem(406, f"no representation matches the Accept header; available: {offered}",
                       title="Not Acceptable")


# ---------------------------------------------------------------- routes


def routes(state: ServerState) -> list[BaseRoute]:
    async def dereference(request: Request) -> Response:
        """``/id/…``: 303 See Other to the page or the data, by content negotiation."""
        path = local_path(request, "/id/", state)
        iri = resource_iri(state, path)
        if not await exists(state, iri):
            raise not_found(iri)
        choice = negotiate_rdf(request.headers.get("accept"), html=True)
        if choice is None:
            raise not_acceptable("text/html, " + ", ".join(f.media_type for f in TWIN_FORMATS))
        target = "/page/" + path if choice == HTML else data_href(path, rdf_format(choice))
        headers = {"Location": target, "Vary": "Accept", "Link": link_header(alternates(path)),
                   "Access-Control-Allow-Origin": "*"}
        return Response(status_code=303, headers=headers)

    async def data(request: Request) -> Response:
        """``/data/PATH.EXT``: the resource's description in one format (``/data/PATH``: by Accept)."""
        raw = local_path(request, "/data/", state)
        stem, dot, ext = raw.rpartition(".")
        if dot and ext in TWIN_EXTENSIONS:
            path, key = stem, rdf_format(ext).key
        else:
            negotiated = negotiate_rdf(request.headers.get("accept"), html=False)
            if negotiated is None:
                raise not_acceptable(", ".join(f.media_type for f in TWIN_FORMATS))
            path, key = raw, negotiated
        iri = resource_iri(state, path)
        fmt = rdf_format(key)

        async def produce() -> CachedResponse:
            triples = await describe(state, iri)
            if not triples:
                raise not_found(iri)
            return rdf_entry(state, triples, fmt, alternates(path))

        return await respond(request, state, cache_key(request, key), produce)

    async def ontology_twin(request: Request) -> Response:
        """``/ontology.EXT``: the ontology in one format."""
        ext = request.path_params["ext"]
        if ext not in TWIN_EXTENSIONS:
            raise HttpProblem(404, f"no ontology format .{ext} (available: {', '.join(TWIN_EXTENSIONS)})")
        return await ontology_response(request, state, rdf_format(ext).key)

    return [
        Route("/id/{path:path}", dereference, methods=["GET", "HEAD"]),
        Route("/data/{path:path}", data, methods=["GET", "HEAD"]),
        Route("/ontology.{ext}", ontology_twin, methods=["GET", "HEAD"]),
    ]


ONTOLOGY_QUERY = "CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"


async def ontology_triples(state: ServerState) -> list[pyoxigraph.Triple]:
    """The ontology graph's triples, from the backend."""
    # The graph IRI comes from the configuration, never from a request.
    payload = await state.backend.construct(ONTOLOGY_QUERY.format(graph=state.ontology_graph))
    return parse_ntriples(payload)


def ontology_links() -> list[tuple[str, str]]:
    return [("/ontology", HTML)] + [(f"/ontology.{fmt.extension}", fmt.media_type) for fmt in TWIN_FORMATS]


async def ontology_response(request: Request, state: ServerState, key: str) -> Response:
    """The ontology as RDF in the format ``key`` (cached, conditional)."""
    fmt = rdf_format(key)

    async def produce() -> CachedResponse:
        triples = await ontology_triples(state)
        if not triples:
            raise HttpProblem(404, "the served dataset has no ontology graph")
        return rdf_entry(state, triples, fmt, ontology_links())

    return await respond(request, state, cache_key(request, "ontology", key), produce)
