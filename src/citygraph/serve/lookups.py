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
        # one parameter: its value read as Starlette's parse_qsl reads it ('+' is a space, then %XX as UTF-8)
        query = unquote(raw[6:].decode("latin-1").replace("+", " "), errors="replace")
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
