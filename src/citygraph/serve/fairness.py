"""Fair sharing of the query workers between clients, as public endpoints do (Wikidata's query service).

Each client (its address: the socket peer, or ``X-Forwarded-For`` from a trusted proxy, see ``app.py``) runs
one worker-bound query at a time (a second one waits for the first, up to ``MAX_WAITING`` of them and the time
limit) and spends at most ``budget`` worker seconds in any 60 s; past either it gets 429 with ``Retry-After``.
Fast-path lookups, cached answers and the site's own queries (pages, named queries, dereferences) never pass
through here. The ledger is a fixed table (:class:`SpendingTable`) that every HTTP worker process of one server
maps from the same file (``--workers`` > 1): a client's turn and budget hold whichever process its connections
reach. Each client's spending is kept in ``BUCKETS`` buckets of a twelfth of the window; client addresses are
hashed with a key of the server's (nobody can aim at another client's slot), and the table is bounded: a
client idle for a whole window frees its slot, and at most ``slots`` clients are told apart (past that, clients
whose slots are all taken share the last one probed: they share a budget, nobody is refused for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import fcntl
import hashlib
import math
import mmap
import os
import secrets
import struct
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from .errors import HttpProblem

if TYPE_CHECKING:
    from .state import ServeConfig

WINDOW_S = 60.0
MAX_WAITING = 4  # a client's queries waiting behind its running one; more answer 429
BUCKETS = 12  # the window in twelfths: a query's seconds count in the bucket where it ended
PROBES = 8  # slots tried for a client (open addressing) before it shares one
RETRY_S = 0.05  # how often a query waiting for the client's query in another process looks again
# One slot: client hash (0: free), pid and start of its running query, then BUCKETS × (bucket number, seconds).
_SLOT = struct.Struct("<QId" + "qd" * BUCKETS)
# The client of the request being answered (set by the ASGI layer); None for the server's own work.
current_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("citygraph_client", default=None)


def too_many(detail: str, retry_after: float) -> HttpProblem:
    return HttpProblem(429, detail, title="Too Many Requests",
                       headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


class SpendingTable:
    """Per client: the query it runs now (pid, start) and its worker seconds per bucket of the window, in a
    table of fixed size, in an anonymous mapping (one process) or a file mapped by every process of a server."""

    def __init__(self, window: float, *, path: str | None = None, slots: int = 4096, key: bytes = b"") -> None:
        self.window = window
        self.bucket = window / BUCKETS
        self.slots = slots
        self.key = key or secrets.token_bytes(16)
        size = slots * _SLOT.size
        self._fd: int | None = None
        if path is None:
            self._map = mmap.mmap(-1, size)
        else:
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
            if os.fstat(self._fd).st_size < size:
                os.ftruncate(self._fd, size)
            self._map = mmap.mmap(self._fd, size)

    def close(self) -> None:
        self._map.close()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._fd is None:
            yield
            return
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(self._fd, fcntl.LOCK_UN)

    def _hash(self, client: str) -> int:
        value = int.from_bytes(hashlib.blake2b(client.encode(), digest_size=8, key=self.key).digest(), "little")
        return value or 1

    def _read(self, index: int) -> list[float]:
        return list(_SLOT.unpack_from(self._map, index * _SLOT.size))

    def _write(self, index: int, slot: list[float]) -> None:
        _SLOT.pack_into(self._map, index * _SLOT.size, *slot)

    def _idle(self, slot: list[float], now: float) -> bool:
        oldest = int(now // self.bucket) - BUCKETS
        return not slot[1] and all(slot[3 + 2 * i] <= oldest or not slot[4 + 2 * i] for i in range(BUCKETS))

    def _find(self, client: str, now: float) -> tuple[int, list[float]]:
        """The client's slot (index, values): its own, else a free or idle one (taken now), else the last."""
        wanted = self._hash(client)
        first = wanted % self.slots
        spare: int | None = None
        index = first
        for probe in range(PROBES):
            index = (first + probe) % self.slots
            slot = self._read(index)
            if slot[0] == wanted:
                return index, slot
            if spare is None and (not slot[0] or self._idle(slot, now)):
                spare = index
        if spare is None:
            return index, self._read(index)
        slot = [wanted, 0, 0.0] + [0, 0.0] * BUCKETS
        self._write(spare, slot)
        return spare, slot

    def _spent(self, slot: list[float], now: float) -> float:
        oldest = int(now // self.bucket) - BUCKETS
        return sum(slot[4 + 2 * i] for i in range(BUCKETS) if slot[3 + 2 * i] > oldest)

    def used(self, client: str, now: float) -> float:
        with self._locked():
            _, slot = self._find(client, now)
        running = now - slot[2] if slot[1] else 0.0
        return self._spent(slot, now) + running

    def retry_after(self, client: str, budget: float, now: float) -> float:
        """Seconds until enough of the client's spending leaves the window to bring it under ``budget``."""
        with self._locked():
            _, slot = self._find(client, now)
        excess = self._spent(slot, now) - budget
        current = int(now // self.bucket)
        for number in range(current - BUCKETS + 1, current + 1):
            excess -= sum(slot[4 + 2 * i] for i in range(BUCKETS) if slot[3 + 2 * i] == number)
            if excess < 0:
                return (number + 1) * self.bucket + self.window - now
        return self.window

    def start(self, client: str, budget: float, now: float) -> str | None:
        """Mark the client's query running; or why not: "running" (it runs one, in some process), "budget"."""
        with self._locked():
            index, slot = self._find(client, now)
            if slot[1] and not _alive(int(slot[1])):
                slot[1], slot[2] = 0, 0.0  # its process died mid-query: the turn is free
            if slot[1]:
                return "running"
            if self._spent(slot, now) >= budget:
                return "budget"
            slot[1], slot[2] = os.getpid(), now
            self._write(index, slot)
            return None

    def finish(self, client: str, now: float) -> None:
        with self._locked():
            index, slot = self._find(client, now)
            seconds = max(0.0, now - slot[2]) if slot[1] else 0.0
            slot[1], slot[2] = 0, 0.0
            number = int(now // self.bucket)
            i = number % BUCKETS
            if slot[3 + 2 * i] != number:
                slot[3 + 2 * i], slot[4 + 2 * i] = number, 0.0
            slot[4 + 2 * i] += seconds
            self._write(index, slot)


class _RunningElsewhere(Exception):
    """The client's query runs in another HTTP worker process (admit() with time left to wait)."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class ClientLedger:
    """Who runs a worker query now, and the worker seconds each client spent in the last window.

    ``path``: the file every HTTP worker process of the server maps (None: this process only); ``key``: the
    server's key for hashing client addresses (random when not given).
    """

    def __init__(self, budget: float, *, window: float = WINDOW_S, path: str | None = None, key: bytes = b"",
                 slots: int = 4096) -> None:
        self.budget = budget
        self.window = window
        self.table = SpendingTable(window, path=path, slots=slots, key=key)
        self.running: dict[str, float] = {}  # this process's running queries: client -> monotonic start
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # client -> (its turn, [waiting])

    @classmethod
    def for_config(cls, config: ServeConfig) -> ClientLedger:
        """The ledger of a server: its budget, and the table its HTTP worker processes share (if any)."""
        return cls(config.client_budget, path=config.ledger_path, key=bytes.fromhex(config.ledger_key))

    def used(self, client: str, now: float | None = None) -> float:
        """Worker seconds the client spent in the window, its running query included."""
        return self.table.used(client, time.monotonic() if now is None else now)

    def admit(self, client: str, *, wait_until: float | None = None) -> None:
        """Raise 429 if the client already runs a query or spent its budget; else mark it running."""
        now = time.monotonic()
        refused = self.table.start(client, self.budget, now)
        if refused == "running" and wait_until is not None and now + RETRY_S <= wait_until:
            raise _RunningElsewhere
        if refused == "running":
            raise too_many("one query at a time per client: wait for your running query to finish", 1)
        if refused == "budget":
            raise too_many(
                f"this client used its {self.budget:g} s of query time for the last {self.window:g} s; "
                "lookups, pages and cached answers still answer",
                self.table.retry_after(client, self.budget, now),
            )
        self.running[client] = now

    def finish(self, client: str) -> None:
        self.running.pop(client, None)
        self.table.finish(client, time.monotonic())

    async def _admit_when_free(self, client: str, deadline: float) -> None:
        """admit(), waiting while the client's query runs in another HTTP worker process (up to ``deadline``)."""
        while True:
            try:
                self.admit(client, wait_until=deadline)
                return
            except _RunningElsewhere:
                await asyncio.sleep(RETRY_S)

    @asynccontextmanager
    async def turn(self, client: str | None, wait: float = 10.0) -> AsyncIterator[None]:
        """Run one worker-bound query for ``client`` once its previous one is done (at most ``wait`` s)."""
        if client is None:  # the server's own query
            yield
            return
        deadline = time.monotonic() + wait
        lock, waiting = self._turns.setdefault(client, (asyncio.Lock(), [0]))
        if lock.locked() and waiting[0] >= MAX_WAITING:
            raise too_many(f"one query at a time per client, and {MAX_WAITING} already wait behind yours", 1)
        waiting[0] += 1
        try:
            await asyncio.wait_for(lock.acquire(), wait)
        except TimeoutError:
            raise too_many("one query at a time per client: your earlier queries kept the turn", 1) from None
        finally:
            waiting[0] -= 1
        try:
            await self._admit_when_free(client, deadline)
            try:
                yield
            finally:
                self.finish(client)
        finally:
            lock.release()
            if not waiting[0] and not lock.locked():
                self._turns.pop(client, None)
