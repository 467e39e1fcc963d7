"""The lookup lane: ``GET /sparql?query=…`` lookups of the fast-path class answered without routing.

An ad-hoc lookup (``SELECT ?p ?o WHERE { <…> ?p ?o }``) costs the fast path tens of microseconds; routing it
through Starlette (request objects, parameter dictionaries, the endpoint's checks, the exception layers) cost
several times that. This raw ASGI layer, in front of every other, answers in place of the endpoint exactly
the requests the endpoint would answer from the fast path or its cache: a GET or HEAD on the endpoint's path
whose only parameter is one ``query``, with an acceptable result type, whose query the fast path answers within
its budget. It answers with the endpoint's own cache entry (:func:`sparql.lookup_entry`, cached as the
endpoint caches it); the messages are those Starlette's ``Response`` and the app's CORS layer would send
(:func:`lookup_messages` builds them directly for a request with no ``Origin`` and no ``If-None-Match``;
otherwise :func:`cache.to_response` and a ``CORSMiddleware`` with the app's options). Everything else — other
parameters, dataset parameters, POST, a query outside the class or over the budget, no acceptable type — goes
on to the application unchanged (marked so the endpoint does not try the fast path a second time).
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Mapping
from functools import partial
from typing import Any
from urllib.parse import unquote

from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request

from . import fast_path
from .cache import CachedResponse, digest, to_response
from .errors import HttpProblem
from .sparql import FAST_PATH_TRIED, cache_key, fast_path_answerer, lookup_entry, ranked_accept
from .state import ServerState

LANE_DECLINED = "citygraph.lane_declined"  # scope mark: this request is not the lane's (it was tried)
_NOT_AN_ESCAPE = re.compile(rb"%(?![0-9A-Fa-f]{2})|[^\x00-\x7f]|[\r\n]")


def url_value(raw: bytes) -> str:
    """A URL parameter's value as Starlette reads it (``parse_qsl``: ``+`` is a space, ``%XX`` escapes are
    UTF-8, malformed UTF-8 replaced), decoded in C: ``binascii.a2b_qp`` reads ``=XX`` escapes, so ``=`` is
    escaped and ``%`` becomes ``=``. Text it would read otherwise (a ``%`` that starts no escape, raw
    non-ASCII bytes, line breaks) goes to ``urllib.parse.unquote`` itself."""
    if _NOT_AN_ESCAPE.search(raw):
        return unquote(raw.decode("latin-1").replace("+", " "), errors="replace")
    data = raw.replace(b"+", b" ").replace(b"=", b"=3D").replace(b"%", b"=")
    return binascii.a2b_qp(data).decode("utf-8", "replace")


def lookup_messages(entry: CachedResponse) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two ASGI messages the endpoint sends for ``entry`` (200) to a request with no ``Origin`` and no
    ``If-None-Match``: Starlette's ``Response`` headers (the entry's, then length and type, ``charset`` added
    to ``text/`` types) with the CORS layer's ``Vary: Origin``, built without either object."""
    layout = (entry.media_type, tuple(entry.headers.items()))
    parts = _HEADER_PARTS.get(layout)
    if parts is None:
        parts = _header_parts(entry.media_type, entry.headers)
        if len(_HEADER_PARTS) < _HEADER_PARTS_MAX:
            _HEADER_PARTS[layout] = parts
    middle, content_type, tail = parts
    headers = [
        (b"etag", entry.etag.encode("latin-1")),
        *middle,
        (b"content-length", str(len(entry.body)).encode()),
        content_type,
        *tail,
    ]
    return (
        {"type": "http.response.start", "status": entry.status, "headers": headers},
        {"type": "http.response.body", "body": entry.body},
    )


Header = tuple[bytes, bytes]
_HEADER_PARTS: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[list[Header], Header, list[Header]]] = {}
_HEADER_PARTS_MAX = 256  # header layouts (media type and the entry's own headers): a handful in practice


def _header_parts(media: str, entry_headers: Mapping[str, str]) -> tuple[list[Header], Header, list[Header]]:
    """What a response's headers are made of, beside its ETag and length: (the entry's headers, the Vary the
    CORS layer rewrites in place among them), the Content-Type, and what comes last (a Vary added at the end)."""
    middle: list[Header] = []
    vary: list[bytes] = []
    for name, value in entry_headers.items():
        lower = name.lower().encode("latin-1")
        if lower == b"vary":
            if not vary:
                middle.append((b"vary", b""))  # its place: the CORS layer rewrites the first in place
            vary.append(value.encode("latin-1"))
        else:
            middle.append((lower, value.encode("latin-1")))
    if media.startswith("text/") and "charset=" not in media.lower():
        media += "; charset=utf-8"
    vary.append(b"Origin")
    tail: list[Header] = []
    if len(vary) == 1:
        tail.append((b"vary", b"Origin"))
    else:
        middle[middle.index((b"vary", b""))] = (b"vary", b", ".join(vary))
    return middle, (b"content-type", media.encode("latin-1")), tail


def _read_headers(scope: Any) -> tuple[str | None, bool]:
    """(the first Accept header, whether the request has neither ``Origin`` nor ``If-None-Match``)."""
    accept: str | None = None
    plain = True
    for name, value in scope["headers"]:
        if name == b"accept":
            if accept is None:
                accept = value.decode("latin-1")
        elif name == b"origin" or name == b"if-none-match":
            plain = False
    return accept, plain


class LookupLane:
    """Raw ASGI middleware: answers fast-path lookups sent as ``GET /sparql?query=…`` (see the module)."""

    def __init__(self, app: Any, state: ServerState, cors: Mapping[str, Any]) -> None:
        self.app = app
        self.state = state
        self.path = state.sparql_path
        self.answer = fast_path_answerer(state)
        self.cors = CORSMiddleware(app, **cors)  # the app's CORS rules, for the headers of what this layer sends
        state.lookup_lane = self

    def _is_candidate(self, scope: Any) -> bool:
        return (
            self.answer is not None
            and scope["type"] == "http"
            and scope["path"] == self.path
            and (scope["method"] == "GET" or scope["method"] == "HEAD")
            and LANE_DECLINED not in scope
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self._is_candidate(scope):
            await self.app(scope, receive, send)
            return
        accept, plain = _read_headers(scope)
        entry = self._respond(scope, accept)
        if entry is None:
            await self.app(scope, receive, send)
        elif plain:
            start, body = lookup_messages(entry)
            await send(start)
            await send(body)
        else:
            request = Request(scope)
            response = to_response(request, entry)
            await response(scope, receive, partial(self.cors.send, send=send, request_headers=request.headers))

    def messages_now(self, scope: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """For the HTTP protocol, before it starts the application: the two messages answering this request
        when it is a lookup with no ``Origin`` and no ``If-None-Match``, else None (the application then
        runs as usual; a request this lane declined is marked so that it is not tried twice)."""
        if not self._is_candidate(scope):
            return None
        accept, plain = _read_headers(scope)
        if not plain:
            return None  # the lane answers it inside the application, with the CORS layer
        entry = self._respond(scope, accept)
        if entry is None:
            scope[LANE_DECLINED] = True
            return None
        return lookup_messages(entry)

    def _respond(self, scope: Any, accept_header: str | None) -> CachedResponse | None:
        """The endpoint's answer (cache entry) to this request when it is a fast-path lookup, else None."""
        raw = scope["query_string"]
        if not raw.startswith(b"query=") or b"&" in raw:
            return None  # other parameters (format=, default-graph-uri=…): the endpoint decides
        query = url_value(raw[6:])
        if not query or len(query) > fast_path.MAX_QUERY_CHARS:
            return None
        accept = list(ranked_accept(accept_header))
        if not accept:
            return None  # 406: the endpoint says which types it offers
        key = digest(cache_key(query, (), (), accept))
        cache = self.state.cache
        cached = cache.get(key)
        if cached is not None:
            return cached
        scope[FAST_PATH_TRIED] = True
        assert self.answer is not None
        try:
            found = self.answer(query, accept)
        except HttpProblem:
            return None  # no accepted type fits this form: the endpoint answers 406
        if found is None:
            return None  # outside the class, or over the budget: a worker runs it
        entry = lookup_entry(self.state, found)
        cache.keep_lookup(key, entry)
        return entry
