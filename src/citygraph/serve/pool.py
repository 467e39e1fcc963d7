"""Pools of killable query worker processes (``workers.py``), with their caps and fair dispatch.

A query goes to an idle worker; if it runs past the time limit the worker is killed (SIGKILL: the only way to
stop pyoxigraph) and a fresh one is started in the background, while the other workers keep answering. A worker
that dies (memory cap, CPU cap, stack overflow) costs one query a 503 naming the cause, never the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Mapping
from pathlib import Path
from typing import Any

from .errors import BackendFailure, HttpProblem, QueryTimeout
from .fairness import ClientLedger
from .workers import MEMORY_TITLE, REPLY_HEADER, REQUEST_HEADER

log = logging.getLogger("citygraph.serve")

WORKER_START_TIMEOUT = 600.0  # a worker copying a large graph into memory takes its time


def cpu_cap(timeout: float) -> int:
    """CPU seconds a worker may spend on one query: the time limit and a margin (the kernel's backstop)."""
    return int(timeout * 1.5) + 2


# A client query that has run this long may be stopped when another client (with less worker time spent in
# the window) or the site itself needs a worker and none is idle.
PREEMPT_AFTER_S = 1.0
STDERR_TAIL = 4096


class Worker:
    """One query process, its pipes, and what it runs now (for fair sharing)."""

    def __init__(self, process: asyncio.subprocess.Process, isolated: bool) -> None:
        self.process = process
        self.isolated = isolated
        self.owner: str | None = None  # the client whose query runs now (None: idle, or the site's own)
        self.started = 0.0  # loop time the running query started
        self.busy = False
        self.preempted = False
        self.stderr_tail = b""
        self._stderr_task: asyncio.Task[None] | None = None

    @classmethod
    async def spawn(cls, store: Path, memory: int = 0, cpu: int = 0, in_memory: bool = True) -> Worker:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "citygraph.serve.workers",
            "--store",
            str(store),
            "--memory",
            str(memory),
            "--cpu",
            str(cpu),
            *(["--in-memory"] if in_memory else []),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=2**26,
            env={**os.environ, "RUST_BACKTRACE": "0"},  # the cause on one line, not a backtrace
        )
        worker = cls(process, False)
        worker._stderr_task = asyncio.get_running_loop().create_task(worker._drain_stderr())
        try:
            header, _ = await asyncio.wait_for(worker.read_reply(), WORKER_START_TIMEOUT)
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError) as exc:
            worker.kill()
            raise BackendFailure(f"a query worker failed to start ({exc!r})", 503) from None
        worker.isolated = bool(header.get("isolated"))
        loaded = int(header.get("loaded") or 0)
        if memory and loaded > memory // 2:
            log.warning("the graph takes %d MiB of a query worker's %d MiB memory cap; raise --worker-memory",
                        loaded >> 20, memory >> 20)
        return worker

    async def _drain_stderr(self) -> None:
        """Keep the end of what the worker writes on stderr (why it died), and log it."""
        assert self.process.stderr is not None
        while True:
            line = await self.process.stderr.readline()
            if not line:
                return
            self.stderr_tail = (self.stderr_tail + line)[-STDERR_TAIL:]
            log.warning("query worker %d: %s", self.process.pid, line.decode("utf-8", "replace").rstrip()[:500])

    async def death_cause(self) -> str:
        """Why the process ended, in words: the memory cap, the CPU cap, the engine's stack, or a signal."""
        with contextlib.suppress(TimeoutError, ProcessLookupError):
            await asyncio.wait_for(self.process.wait(), 2.0)
        if self._stderr_task is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._stderr_task), 1.0)
        tail = self.stderr_tail.decode("utf-8", "replace")
        code = self.process.returncode
        if "memory allocation of" in tail or "MemoryError" in tail or "capacity overflow" in tail:
            return "memory"
        if code == -signal.SIGXCPU:
            return "cpu"
        if "overflowed its stack" in tail or code == -signal.SIGSEGV:
            return "stack"
        return f"exit status {code}"

    async def read_reply(self) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdout is not None
        head_len, body_len = REPLY_HEADER.unpack(await self.process.stdout.readexactly(REPLY_HEADER.size))
        data = await self.process.stdout.readexactly(head_len + body_len)
        header: dict[str, Any] = json.loads(data[:head_len])
        return header, data[head_len:]

    async def call(self, payload: bytes) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdin is not None
        self.process.stdin.write(REQUEST_HEADER.pack(len(payload)) + payload)
        await self.process.stdin.drain()
        return await self.read_reply()

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()


def limit_problem(cause: str, memory: int, cpu: int) -> HttpProblem:
    """The 503 for a query that ended its worker: which limit it hit, in words."""
    if cause == "memory":
        return HttpProblem(503, f"the query needed more than the {memory >> 20} MiB a query worker may use and "
                           "was stopped; the server is unharmed", title=MEMORY_TITLE)
    if cause == "cpu":
        return HttpProblem(503, f"the query used more than {cpu} s of CPU time and was stopped",
                           title="Query CPU limit exceeded")
    if cause == "stack":
        return HttpProblem(503, "the query nests too deeply for the engine and was stopped; the server is "
                           "unharmed", title="Query stack limit exceeded")
    return HttpProblem(503, f"the query stopped the engine ({cause}); the server is unharmed, but this query "
                       "cannot be answered", title="Query engine failure")


class WorkerPool:
    """A fixed number of query workers; a killed or dead one is replaced in the background.

    A freed worker goes to the waiting query of highest priority: the site's own queries first, then clients
    by the worker time they spent in the window (least first). When none is idle, a client query that has run
    at least ``PREEMPT_AFTER_S`` for a client that spent more than the waiting one (any client, when the site
    waits) is stopped (503, Retry-After): one heavy client cannot make everyone wait for its time limit.
    """

    def __init__(self, store: Path, size: int, *, memory: int = 0, cpu: int = 0,
                 ledger: ClientLedger | None = None, in_memory: bool = True) -> None:
        self.store = store
        self.in_memory = in_memory
        self.size = max(1, size)
        self.memory = memory
        self.cpu = cpu
        self.ledger = ledger
        self.idle: list[Worker] = []
        self.all: set[Worker] = set()
        self.isolated = False
        self._waiters: list[tuple[float, int, asyncio.Future[Worker]]] = []  # a heap: (priority, order, …)
        self._order = itertools.count()
        self._respawns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        for worker in workers:
            self.all.add(worker)
            self._release(worker)
        self.isolated = all(w.isolated for w in workers)
        if not self.isolated:
            log.warning(
                "query workers could not enter a private network namespace; "
                "SERVICE is still refused by the query screen"
            )

    def _spawn(self) -> Awaitable[Worker]:
        return Worker.spawn(self.store, self.memory, self.cpu, self.in_memory)

    async def close(self) -> None:
        for task in self._respawns:
            task.cancel()
        for worker in self.all:
            worker.kill()
        for worker in self.all:
            with contextlib.suppress(ProcessLookupError):
                await worker.process.wait()
        self.all.clear()

    def _release(self, worker: Worker) -> None:
        """Hand a free worker to the best waiting query, or park it."""
        worker.owner, worker.busy, worker.preempted = None, False, False
        while self._waiters:
            _, _, future = heapq.heappop(self._waiters)
            if not future.done():
                future.set_result(worker)
                return
        self.idle.append(worker)

    def _replace(self, worker: Worker) -> None:
        worker.kill()
        self.all.discard(worker)

        async def respawn() -> None:
            with contextlib.suppress(ProcessLookupError):
                await worker.process.wait()
            while True:
                try:
                    fresh = await self._spawn()
                except BackendFailure:
                    await asyncio.sleep(1.0)
                    continue
                self.all.add(fresh)
                self._release(fresh)
                return

        task = asyncio.get_running_loop().create_task(respawn())
        self._respawns.add(task)
        task.add_done_callback(self._respawns.discard)

    def _victim(self, owner: str | None, now: float) -> Worker | None:
        """The busy worker to stop for ``owner``: the heaviest client's long query, or None."""
        if self.ledger is None:
            return None
        mine = self.ledger.used(owner) if owner is not None else -1.0
        best: tuple[float, Worker] | None = None
        for worker in self.all:
            if (not worker.busy or worker.preempted or worker.owner is None or worker.owner == owner
                    or now - worker.started < PREEMPT_AFTER_S):
                continue
            theirs = self.ledger.used(worker.owner)
            if theirs > mine and (best is None or theirs > best[0]):
                best = (theirs, worker)
        return best[1] if best else None

    async def _acquire(self, owner: str | None, deadline: float) -> Worker:
        if self.idle:
            return self.idle.pop()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Worker] = loop.create_future()
        priority = -1.0 if owner is None or self.ledger is None else self.ledger.used(owner)
        heapq.heappush(self._waiters, (priority, next(self._order), future))
        got = False
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise HttpProblem(
                        503,
                        "every query worker stayed busy for the whole time limit; retry later",
                        title="Server busy",
                        headers={"Retry-After": "5"},
                    )
                victim = self._victim(owner, loop.time())
                if victim is not None:
                    victim.preempted = True
                    victim.kill()  # its caller answers 503; the replacement goes to the best waiter
                try:
                    worker = await asyncio.wait_for(asyncio.shield(future), min(remaining, 0.1))
                except TimeoutError:
                    continue
                got = True
                return worker
        finally:
            if not got:  # gave up (time limit, cancelled): a worker handed over meanwhile goes back
                if future.done() and not future.cancelled():
                    self._release(future.result())
                else:
                    future.cancel()

    async def run(self, request: Mapping[str, Any], timeout: float, owner: str | None = None
                  ) -> tuple[dict[str, Any], bytes]:
        """Send one request to an idle worker; the worker is killed if ``timeout`` passes first.

        ``owner`` is the client whose protocol query this is (None for the site's own queries).
        """
        payload = json.dumps(request).encode()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        worker = await self._acquire(owner, deadline)
        worker.owner, worker.started, worker.busy = owner, loop.time(), True
        try:
            header, body = await asyncio.wait_for(worker.call(payload), max(deadline - loop.time(), 0.001))
        except TimeoutError:
            self._replace(worker)
            raise QueryTimeout(timeout) from None
        except (asyncio.IncompleteReadError, ConnectionError):
            self._replace(worker)
            if worker.preempted:
                raise HttpProblem(
                    503, "the query was stopped to give other clients their share of the query workers; "
                    "retry later", title="Server busy", headers={"Retry-After": "2"}) from None
            raise limit_problem(await worker.death_cause(), self.memory, self.cpu) from None
        except BaseException:  # cancelled mid-query: the worker's state is unknown
            self._replace(worker)
            raise
        self._release(worker)
        return header, body
