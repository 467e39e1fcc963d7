"""``/sparql``: the SPARQL 1.1 Protocol, read-only.

GET ``?query=``, POST ``application/x-www-form-urlencoded`` and POST ``application/sparql-query`` (UTF-8
only); ``default-graph-uri`` / ``named-graph-uri`` set the dataset. SELECT/ASK: SPARQL JSON, XML, CSV, TSV;
CONSTRUCT/DESCRIBE: Turtle, N-Triples, RDF/XML or JSON-LD, by ``Accept`` (q-values honoured) or a ``format=``
parameter (SPARQLWrapper sends one). With no Accept: SPARQL JSON results, Turtle graphs. GET with no query
answers the Service Description. Updates get 403. Untrusted queries pass the screen (size, SERVICE, patterns)
before a worker runs them; answers are cached by normalized request (the data never change while serving).
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from functools import lru_cache
from urllib.parse import parse_qsl

from starlette.datastructures import MultiDict
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..formats import RDF_ALIASES, RESULT_ALIASES, RESULT_MEDIA_TYPES, rdf_format
from . import fast_path
from .cache import CachedResponse
from .conneg import CACHED_ACCEPT_CHARS, ranked
from .errors import HttpProblem, QueryRefused
from .screen import screen
from .state import Answer, ServerState

# Every media type the endpoint can answer, in the server's order of preference (ties in Accept go first).
_PRIMARY = (*RESULT_MEDIA_TYPES.values(), *(rdf_format(key).media_type for key in ("ttl", "nt", "rdf", "jsonld")))
OFFERED: tuple[str, ...] = tuple(dict.fromkeys((*_PRIMARY, *RESULT_ALIASES, *RDF_ALIASES)))

# format= / output= values (SPARQLWrapper's and common endpoints') → media types to try first.
FORMAT_PARAM: dict[str, tuple[str, ...]] = {
    "json": ("application/sparql-results+json", "application/ld+json"),
    "xml": ("application/sparql-results+xml", "application/rdf+xml"),
    "csv": ("text/csv",),
    "tsv": ("text/tab-separated-values",),
    "turtle": ("text/turtle",),
    "ttl": ("text/turtle",),
    "n3": ("text/turtle",),
    "nt": ("application/n-triples",),
    "ntriples": ("application/n-triples",),
    "n-triples": ("application/n-triples",),
    "rdf": ("application/rdf+xml",),
    "rdfxml": ("application/rdf+xml",),
    "rdf+xml": ("application/rdf+xml",),
    "json-ld": ("application/ld+json",),
    "jsonld": ("application/ld+json",),
}

# Sent when the row (or triple) cap cut a result; its value names the cap ("max-rows=10000").
TRUNCATED_HEADER = "Citygraph-Truncated"
FORM = "application/x-www-form-urlencoded"
DIRECT = "application/sparql-query"
UPDATE = "application/sparql-update"


def refuse_update() -> HttpProblem:
    return HttpProblem(
        403, "this endpoint is read-only: SPARQL Update is not accepted", title="Forbidden: updates refused"
    )


def accept_list(request: Request, params: MultiDict) -> list[str]:
    """Media types to answer in, best first: a format= parameter, then the Accept header's ranking."""
    preferred: list[str] = []
    for name in ("format", "output"):
        for value in params.getlist(name):
            value = value.strip().lower()
            preferred += FORMAT_PARAM.get(value, (value,) if "/" in value else ())
    ranking = ranked_accept(request.headers.get("accept"))
    if not preferred:
        return list(ranking)
    return list(dict.fromkeys(preferred + list(ranking)))


@lru_cache(maxsize=256)
def _ranked(accept: str | None) -> tuple[str, ...]:
    return tuple(ranked(accept, OFFERED))


def ranked_accept(accept: str | None) -> tuple[str, ...]:
    """The offered media types an Accept header takes, best first (headers over 1 KB are not memoized)."""
    if accept is not None and len(accept) > CACHED_ACCEPT_CHARS:
        return tuple(ranked(accept, OFFERED))
    return _ranked(accept)


def _content_type(request: Request) -> tuple[str, str | None]:
    raw = request.headers.get("content-type")
    if raw is None:
        return "", None
    parts = [p.strip() for p in raw.split(";")]
    charset = None
    for param in parts[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            charset = value.strip().strip('"').lower()
    return parts[0].lower(), charset


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, or 413 as soon as it exceeds ``limit`` bytes."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise QueryRefused(
            413,
            f"the request body is {int(length):,} bytes; the limit is {limit:,} bytes",
            title="Request too large",
            headers={"Connection": "close"},
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise QueryRefused(
                413,
                f"the request body exceeds the limit of {limit:,} bytes",
                title="Request too large",
                headers={"Connection": "close"},
            )
        chunks.append(chunk)
    return b"".join(chunks)


def decode_utf8(body: bytes, charset: str | None) -> str:
    if charset not in (None, "utf-8", "utf8", "us-ascii", "ascii"):
        raise HttpProblem(400, f"the body must be UTF-8; got charset={charset}", title="Bad Request: not UTF-8")
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HttpProblem(
            400, f"the body is not valid UTF-8 (byte {exc.start})", title="Bad Request: not UTF-8"
        ) from None


async def read_operation(request: Request, state: ServerState) -> tuple[list[str], MultiDict]:
    """The query strings sent and every protocol parameter (URL and form merged); refuses updates."""
    params = MultiDict(request.query_params.multi_items())
    if "update" in params:
        raise refuse_update()
    queries = params.getlist("query")
    if request.method == "POST":
        media, charset = _content_type(request)
        body = await read_body(request, state.config.max_query_bytes * 3 + 4096)
        if media == FORM:
            try:
                text = decode_utf8(body, charset)
                pairs = parse_qsl(
                    text, keep_blank_values=True, strict_parsing=bool(text), encoding="utf-8", errors="strict"
                )
            except (ValueError, UnicodeDecodeError) as exc:
                raise HttpProblem(400, f"malformed form body: {exc}") from None
            form = MultiDict(pairs)
            if "update" in form:
                raise refuse_update()
            queries += form.getlist("query")
            params = MultiDict(list(params.multi_items()) + [(k, v) for k, v in pairs if k != "query"])
        elif media == DIRECT:
            queries.append(decode_utf8(body, charset))
        elif media == UPDATE:
            raise refuse_update()
        elif not media:
            raise HttpProblem(415, f"a POST needs Content-Type {FORM} or {DIRECT}", title="Unsupported Media Type")
        else:
            raise HttpProblem(
                415,
                f"Content-Type {media} is not accepted; use {FORM} or {DIRECT}",
                title="Unsupported Media Type",
            )
    return queries, params


def cache_key(query: str, default_graphs: Sequence[str], named_graphs: Sequence[str], accept: Sequence[str]) -> str:
    """The normalized request in one string: query, dataset and acceptable types, each part length-prefixed
    (no two requests share a key; the ``sparql`` prefix keeps it apart from the other routes' keys)."""
    parts = [query, str(len(default_graphs)), *default_graphs, str(len(named_graphs)), *named_graphs, *accept]
    return "sparql" + "".join([f"|{len(part)}:{part}" for part in parts])


# Set in the ASGI scope by the lookup lane (lookups.py) when the fast path already declined this request.
FAST_PATH_TRIED = "citygraph.fast_path_tried"
ANSWER_HEADERS = {"Vary": "Accept", "Cache-Control": "public, max-age=300"}


def fast_path_answerer(state: ServerState) -> Callable[[str, Sequence[str]], Answer | None] | None:
    """The backend's in-process answerer, or None when there is none or the server's limits are tighter than
    the fast path's own (then every query goes through the screen)."""
    config = state.config
    in_process: Callable[[str, Sequence[str]], Answer | None] | None = getattr(state.backend, "answer_in_process", None)
    if (
        config.max_query_bytes < 4 * fast_path.MAX_QUERY_CHARS
        or config.max_triple_patterns < 2 * fast_path.MAX_PATTERNS + 2
    ):
        return None
    return in_process


def lookup_entry(state: ServerState, found: Answer) -> CachedResponse:
    """The cache entry (body, type, ETag, headers) for an answer of the protocol endpoint."""
    headers = dict(ANSWER_HEADERS)
    if found.truncated:  # the row cap cut the result: say so (and how many rows it kept)
        headers[TRUNCATED_HEADER] = f"max-rows={state.config.max_rows}"
    return state.cache.make(found.body, found.media_type, headers)


def routes(state: ServerState) -> list[BaseRoute]:
    from .service_description import service_description_response, wants_editor

    config = state.config
    in_process = fast_path_answerer(state)
    has_query_page = importlib.util.find_spec("citygraph.serve.pages") is not None

    async def endpoint(request: Request) -> Response:
        queries, params = await read_operation(request, state)
        if not queries:
            if request.method == "POST":
                raise HttpProblem(400, "no query given: send query= or a application/sparql-query body")
            if has_query_page and wants_editor(request):  # a browser: the query editor page
                return RedirectResponse("/query", status_code=303)
            return await service_description_response(request, state)
        if len(queries) > 1:
            raise HttpProblem(400, f"exactly one query per request; got {len(queries)}")
        query = queries[0]
        default_graphs = params.getlist("default-graph-uri")
        named_graphs = params.getlist("named-graph-uri")
        accept = accept_list(request, params)
        if not accept:
            raise HttpProblem(
                406,
                "none of the accepted media types can be produced; offered: " + ", ".join(OFFERED),
                title="Not Acceptable",
            )
        key = cache_key(query, default_graphs, named_graphs, accept)
        # A lookup of the fast-path class is parsed completely into a basic graph pattern (no SERVICE, at
        # most 16 patterns, 4 KB) and answered within a work budget: the screen has nothing to refuse in it.
        answer = None
        if (
            in_process is not None
            and not default_graphs
            and not named_graphs
            and not request.scope.get(FAST_PATH_TRIED)
            and state.cache.get(key) is None
        ):
            answer = in_process(query, accept)
        if answer is None:
            screen(
                query,
                max_bytes=config.max_query_bytes,
                max_patterns=config.max_triple_patterns,
                max_nesting=config.max_nesting,
            )

        if answer is not None:  # a lookup: kept only once asked twice (one-off lookups would flush the cache)
            return state.cache.respond_lookup(request, key, lookup_entry(state, answer))

        async def produce() -> CachedResponse:
            found = await state.backend.execute(
                query, accept=accept, default_graphs=default_graphs, named_graphs=named_graphs
            )
            return lookup_entry(state, found)

        return await state.cache.respond(request, key, produce)

    return [
        Route(state.sparql_path, endpoint, methods=["GET", "POST"], name="sparql"),
        Route(state.sparql_path + "/", endpoint, methods=["GET", "POST"], name="sparql-slash"),
    ]
