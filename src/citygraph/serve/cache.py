"""Response caches for an immutable graph: an LRU of bodies keyed by the normalized request, with ETags, and
a raw ASGI layer in front of the application that replays whole immutable responses.

The served data never changes while the server runs, so the answer to the same normalized request (path,
parameters, negotiated media type) is always the same: cache it, give it a strong ETag, answer 304 to
``If-None-Match``. Each HTTP worker process holds its own caches, bounded in bytes: an entry costs its body,
its headers and its key, and keys are SHA-256 digests (a 256 KB query text costs 32 bytes of key).

:class:`FrontCache` sits before routing and middleware: a response built from a cache entry (see
:func:`to_response`) is marked immutable in the request's scope; the front layer then keeps the exact
messages sent, keyed by method, path, query string and every request header that may change an answer
(all but a short list of transport headers), and answers the next identical request from a dict.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from starlette.requests import Request
from starlette.responses import Response

# Set in the ASGI scope by to_response(): this request's answer depends only on the request itself.
IMMUTABLE_MARK = "citygraph.immutable"
# Request headers that never change an answer of this server (left out of the front cache's key).
TRANSPORT_HEADERS = frozenset(
    {
        b"user-agent",
        b"connection",
        b"keep-alive",
        b"te",
        b"accept-encoding",
        b"cache-control",
        b"pragma",
        b"referer",
        b"dnt",
        b"upgrade-insecure-requests",
        b"priority",
    }
)


SEEN_ENTRIES = 16_384  # digests of lookups asked once, remembered by ResponseCache.admit()
ENTRY_OVERHEAD = 256  # bytes counted for an entry's bookkeeping (dict slot, objects), beside body and headers
V = TypeVar("V")


def digest(key: str | bytes) -> bytes:
    """The cache key for a request's normalized text: its SHA-256 (never the text itself). A ``bytes`` key is
    such a digest already (``request_digest``, or ``digest`` called once by a caller that looks up twice)."""
    return key if isinstance(key, bytes) else hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class DigestLru(Generic[V]):
    """An LRU bounded in bytes: keys are SHA-256 digests, each value costs what the caller says (plus
    :data:`ENTRY_OVERHEAD`); values costing more than a tenth of the budget are not kept."""

    def __init__(self, max_bytes: int, max_entries: int = 1 << 20) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.size = 0
        self._entries: OrderedDict[bytes, tuple[V, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: str | bytes) -> bool:
        return digest(key) in self._entries

    def get(self, key: str | bytes) -> V | None:
        hashed = digest(key)
        found = self._entries.get(hashed)
        if found is None:
            return None
        self._entries.move_to_end(hashed)
        return found[0]

    def put(self, key: str | bytes, value: V, cost: int) -> None:
        cost += ENTRY_OVERHEAD + 32
        if cost > self.max_bytes // 10:
            return
        hashed = digest(key)
        old = self._entries.pop(hashed, None)
        if old is not None:
            self.size -= old[1]
        self._entries[hashed] = (value, cost)
        self.size += cost
        while self._entries and (self.size > self.max_bytes or len(self._entries) > self.max_entries):
            _, (_, old_cost) = self._entries.popitem(last=False)
            self.size -= old_cost


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    media_type: str
    etag: str  # quoted, e.g. "\"3f2a…\""
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200


class ResponseCache:
    """A byte-bounded LRU of responses (body, headers and key counted; digest keys)."""

    def __init__(self, max_bytes: int, version: str = "0") -> None:
        self.max_bytes = max_bytes
        self.version = version
        self._lru: DigestLru[CachedResponse] = DigestLru(max_bytes)
        # Digests of the cheap answers asked once lately: asked again, they are kept (see admit()).
        self._seen: DigestLru[None] = DigestLru(1 << 30, SEEN_ENTRIES)  # bounded by its count (~5 MB)

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def size(self) -> int:
        return self._lru.size

    def get(self, key: str | bytes) -> CachedResponse | None:
        return self._lru.get(key)

    def make(
        self, body: bytes, media_type: str, headers: Mapping[str, str] | None = None, status: int = 200
    ) -> CachedResponse:
        """A cache entry for a body (the ETag hashes the data version, media type and body)."""
        digest = hashlib.blake2b(body, digest_size=12, key=(self.version + media_type).encode()[:64])
        return CachedResponse(body, media_type, f'"{digest.hexdigest()}"', dict(headers or {}), status)

    def admit(self, key: str | bytes) -> bool:
        """Whether to keep a cheap answer (one the fast path computes in microseconds): only when the same
        request came lately (a doorkeeper: a flood of one-off lookups cannot flush the cached answers)."""
        if key in self._seen:
            return True
        self._seen.put(key, None, 0)
        return False

    def keep_lookup(self, key: str | bytes, entry: CachedResponse) -> bool:
        """Keep a cheap answer computed now if it is admitted (asked lately); whether it was."""
        key = digest(key)
        admitted = self.admit(key)
        if admitted:
            self.put(key, entry)
        return admitted

    def respond_lookup(self, request: Request, key: str | bytes, entry: CachedResponse) -> Response:
        """The response for a cheap answer computed now; kept (here and by the front cache) if admitted."""
        admitted = self.keep_lookup(key, entry)
        response = to_response(request, entry)
        if not admitted:
            request.scope.pop(IMMUTABLE_MARK, None)
        return response

    def put(self, key: str | bytes, entry: CachedResponse) -> None:
        cost = len(entry.body) + len(entry.media_type) + len(entry.etag)
        cost += sum(len(k) + len(v) for k, v in entry.headers.items())
        self._lru.put(key, entry, cost)

    async def respond(self, request: Request, key: str, produce: Callable[[], Awaitable[CachedResponse]]) -> Response:
        """The cached answer for ``key`` (304 if the client has it), producing and caching it on a miss."""
        entry = self.get(key)
        if entry is None:
            entry = await produce()
            if entry.status == 200:
                self.put(key, entry)
        return to_response(request, entry)


def to_response(request: Request, entry: CachedResponse) -> Response:
    """A Starlette response for an entry, or 304 Not Modified when ``If-None-Match`` names its ETag."""
    if entry.status == 200:
        request.scope[IMMUTABLE_MARK] = True
    headers = {"ETag": entry.etag, **entry.headers}
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or entry.etag in [t.strip().removeprefix("W/") for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, status_code=entry.status, media_type=entry.media_type, headers=headers)


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class FrontCache:
    """Raw ASGI middleware: replays immutable GET/HEAD responses without routing them again.

    Only answers marked with :data:`IMMUTABLE_MARK` (built from a cache entry) with status 200 or 304 are
    kept; errors, redirects and anything else always go through the application.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = 64 * 1024 * 1024, max_entries: int = 50_000) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._lru: DigestLru[tuple[Message, Message]] = DigestLru(max_bytes, max_entries)

    def __len__(self) -> int:
        return len(self._lru)

    @property
    def size(self) -> int:
        return self._lru.size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        key = request_digest(scope)
        hit = self._lru.get(key)
        if hit is not None:
            await send(hit[0])
            await send(hit[1])
            return
        start: Message | None = None
        chunks: list[bytes] = []
        complete = False

        async def capture(message: Message) -> None:
            nonlocal start, complete
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                complete = not message.get("more_body", False)
            await send(message)

        await self.app(scope, receive, capture)
        if complete and start is not None and scope.get(IMMUTABLE_MARK) and start["status"] in (200, 304):
            body = b"".join(chunks)
            self._store(key, start, {"type": "http.response.body", "body": body, "more_body": False})

    def _store(self, key: bytes, start: Message, body: Message) -> None:
        headers = [(bytes(k), bytes(v)) for k, v in start["headers"]]
        cost = len(body["body"]) + sum(len(k) + len(v) + 16 for k, v in headers)
        start = {"type": "http.response.start", "status": start["status"], "headers": headers}
        self._lru.put(key, (start, body), cost)


def request_digest(scope: Scope) -> bytes:
    """SHA-256 of what may change an answer: method, path, query string, and every non-transport header
    (each part length-prefixed, so no two requests share the hashed text)."""
    parts = [scope["method"].encode(), scope["path"].encode("utf-8", "surrogateescape"), scope["query_string"]]
    for name, value in scope["headers"]:
        if name not in TRANSPORT_HEADERS and not name.startswith(b"sec-"):
            parts += (name, value)
    return hashlib.sha256(b"".join([len(part).to_bytes(4, "big") + part for part in parts])).digest()
