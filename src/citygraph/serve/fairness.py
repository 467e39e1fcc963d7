"""Fair sharing of the query workers between clients, as public endpoints do (Wikidata's query service).

Each client (its address: the socket peer, or ``X-Forwarded-For`` from a trusted proxy, see ``app.py``) runs
one worker-bound query at a time (a second one waits for the first, up to ``MAX_WAITING`` of them and the time
limit) and spends at most ``budget`` worker seconds in any 60 s; past either it gets 429 with ``Retry-After``.
Fast-path lookups, cached answers and the site's own queries (pages, named queries, dereferences) never pass
through here. The ledger lives in one HTTP worker process and is bounded:
clients idle for a whole window are forgotten, and at most ``max_clients`` are tracked.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections import OrderedDict, deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from .errors import HttpProblem

WINDOW_S = 60.0
MAX_WAITING = 4  # a client's queries waiting behind its running one; more answer 429
# The client of the request being answered (set by the ASGI layer); None for the server's own work.
current_client: contextvars.ContextVar[str | None] = contextvars.ContextVar("citygraph_client", default=None)


def too_many(detail: str, retry_after: float) -> HttpProblem:
    return HttpProblem(429, detail, title="Too Many Requests",
                       headers={"Retry-After": str(max(1, math.ceil(retry_after)))})


class ClientLedger:
    """Who runs a worker query now, and the worker seconds each client spent in the last window."""

    def __init__(self, budget: float, *, window: float = WINDOW_S, max_clients: int = 65_536) -> None:
        self.budget = budget
        self.window = window
        self.max_clients = max_clients
        self.running: dict[str, float] = {}  # client -> monotonic start of its running query
        self._turns: dict[str, tuple[asyncio.Lock, list[int]]] = {}  # client -> (its turn, [waiting])
        self._spent: OrderedDict[str, deque[tuple[float, float]]] = OrderedDict()  # (end, seconds)

    def used(self, client: str, now: float | None = None) -> float:
        """Worker seconds the client spent in the window, its running query included."""
        now = time.monotonic() if now is None else now
        spent = self._spent.get(client)
        total = 0.0
        if spent is not None:
            while spent and spent[0][0] <= now - self.window:
                spent.popleft()
            total = sum(seconds for _, seconds in spent)
        start = self.running.get(client)
        if start is not None:
            total += now - start
        return total

    def _retry_after(self, client: str, now: float) -> float:
        """Seconds until enough of the client's spending leaves the window to bring it under budget."""
        spent = self._spent.get(client) or deque()
        excess = self.used(client, now) - self.budget
        for end, seconds in spent:
            excess -= seconds
            if excess < 0:
                return end + self.window - now
        return self.window

    def admit(self, client: str) -> None:
        """Raise 429 if the client already runs a query or spent its budget; else mark it running."""
        now = time.monotonic()
        if client in self.running:
            raise too_many("one query at a time per client: wait for your running query to finish", 1)
        if self.used(client, now) >= self.budget:
            raise too_many(
                f"this client used its {self.budget:g} s of query time for the last {self.window:g} s; "
                "lookups, pages and cached answers still answer",
                self._retry_after(client, now),
            )
        self.running[client] = now

    def finish(self, client: str) -> None:
        now = time.monotonic()
        start = self.running.pop(client, now)
        spent = self._spent.pop(client, None) or deque()
        spent.append((now, now - start))
        self._spent[client] = spent  # most recently active last
        while len(self._spent) > self.max_clients:
            self._spent.popitem(last=False)
        self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        while self._spent:
            client, spent = next(iter(self._spent.items()))
            if spent and spent[-1][0] > now - self.window:
                return
            del self._spent[client]

    @asynccontextmanager
    async def turn(self, client: str | None, wait: float = 10.0) -> AsyncIterator[None]:
        """Run one worker-bound query for ``client`` once its previous one is done (at most ``wait`` s)."""
        if client is None:  # the server's own query
            yield
            return
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
            self.admit(client)
            try:
                yield
            finally:
                self.finish(client)
        finally:
            lock.release()
            if not waiting[0] and not lock.locked():
                self._turns.pop(client, None)
