"""Response cache for an immutable graph: an LRU of bodies keyed by the normalized request, with ETags.

The served data never changes while the server runs, so the answer to the same normalized request (path,
parameters, negotiated media type) is always the same: cache it, give it a strong ETag, answer 304 to
``If-None-Match``. Each HTTP worker process holds its own cache, bounded in bytes.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response


@dataclass(frozen=True)
class CachedResponse:
    body: bytes
    media_type: str
    etag: str  # quoted, e.g. "\"3f2a…\""
    headers: Mapping[str, str] = field(default_factory=dict)
    status: int = 200


class ResponseCache:
    """A byte-bounded LRU of responses; entries larger than a tenth of the budget are not kept."""

    def __init__(self, max_bytes: int, version: str = "0") -> None:
        self.max_bytes = max_bytes
        self.version = version
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()
        self._size = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedResponse | None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries.move_to_end(key)
        return entry

    def make(
        self, body: bytes, media_type: str, headers: Mapping[str, str] | None = None, status: int = 200
    ) -> CachedResponse:
        """A cache entry for a body (the ETag hashes the data version, media type and body)."""
        digest = hashlib.blake2b(body, digest_size=12, key=(self.version + media_type).encode()[:64])
        return CachedResponse(body, media_type, f'"{digest.hexdigest()}"', dict(headers or {}), status)

    def put(self, key: str, entry: CachedResponse) -> None:
        cost = len(entry.body) + len(key) + 200
        if cost > self.max_bytes // 10:
            return
        old = self._entries.pop(key, None)
        if old is not None:
            self._size -= len(old.body) + len(key) + 200
        self._entries[key] = entry
        self._size += cost
        while self._size > self.max_bytes and self._entries:
            old_key, old_entry = self._entries.popitem(last=False)
            self._size -= len(old_entry.body) + len(old_key) + 200

    async def respond(
        self, request: Request, key: str, produce: Callable[[], Awaitable[CachedResponse]]
    ) -> Response:
        """The cached answer for ``key`` (304 if the client has it), producing and caching it on a miss."""
        entry = self.get(key)
        if entry is None:
            entry = await produce()
            if entry.status == 200:
                self.put(key, entry)
        return to_response(request, entry)


def to_response(request: Request, entry: CachedResponse) -> Response:
    """A Starlette response for an entry, or 304 Not Modified when ``If-None-Match`` names its ETag."""
    headers = {"ETag": entry.etag, **entry.headers}
    inm = request.headers.get("if-none-match")
    if inm and (inm.strip() == "*" or entry.etag in [t.strip().removeprefix("W/") for t in inm.split(",")]):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, status_code=entry.status, media_type=entry.media_type, headers=headers)
