"""The lookup lane: ``GET /sparql?query=…`` lookups of the fast-path class answered without routing.

An ad-hoc lookup (``SELECT ?p ?o WHERE { <…> ?p ?o }``) costs the fast path tens of microseconds; routing it
through Starlette (request objects, parameter dictionaries, the endpoint's checks, the exception layers) cost
several times that. This raw ASGI layer, in front of every other, answers in place of the endpoint exactly
the requests the endpoint would answer from the fast path or its cache: a GET or HEAD on the endpoint's path
whose only parameter is one ``query``, with an acceptable result type, whose query the fast path answers within
its budget. It builds the response with the endpoint's own functions (:func:`sparql.lookup_entry`,
:func:`cache.to_response`) and sends it through the app's own CORS rules (a ``CORSMiddleware`` with the same
options), so both give the same bytes and headers. Everything else — other parameters, dataset parameters, POST,
a query outside the class or over the budget, no acceptable type — goes on to the application unchanged (marked
so the endpoint does not try the fast path a second time).
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
from starlette.responses import Response

from . import fast_path
from .cache import digest, to_response
from .errors import HttpProblem
from .sparql import FAST_PATH_TRIED, cache_key, fast_path_answerer, lookup_entry, ranked_accept
from .state import ServerState

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


class LookupLane:
    """Raw ASGI middleware: answers fast-path lookups sent as ``GET /sparql?query=…`` (see the module)."""

    def __init__(self, app: Any, state: ServerState, cors: Mapping[str, Any]) -> None:
        self.app = app
        self.state = state
        self.path = state.sparql_path
        self.answer = fast_path_answerer(state)
        self.cors = CORSMiddleware(app, **cors)  # the app's CORS rules, for the headers of what this layer sends

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if (
            self.answer is None
            or scope["type"] != "http"
            or scope["path"] != self.path
            or scope["method"] not in ("GET", "HEAD")
        ):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        response = self._respond(request)
        if response is None:
            await self.app(scope, receive, send)
            return
        await response(scope, receive, partial(self.cors.send, send=send, request_headers=request.headers))

    def _respond(self, request: Request) -> Response | None:
        """The endpoint's response to this request when it is a fast-path lookup, else None."""
        scope = request.scope
        raw = scope["query_string"]
        if not raw.startswith(b"query=") or b"&" in raw:
            return None  # other parameters (format=, default-graph-uri=…): the endpoint decides
        query = url_value(raw[6:])
        if not query or len(query) > fast_path.MAX_QUERY_CHARS:
            return None
        accept = list(ranked_accept(request.headers.get("accept")))
        if not accept:
            return None  # 406: the endpoint says which types it offers
        key = digest(cache_key(query, (), (), accept))
        cache = self.state.cache
        cached = cache.get(key)
        if cached is not None:
            return to_response(request, cached)
        scope[FAST_PATH_TRIED] = True
        assert self.answer is not None
        try:
            found = self.answer(query, accept)
        except HttpProblem:
            return None  # no accepted type fits this form: the endpoint answers 406
        if found is None:
            return None  # outside the class, or over the budget: a worker runs it
        return cache.respond_lookup(request, key, lookup_entry(self.state, found))
