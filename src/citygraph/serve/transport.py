"""uvicorn's HTTP protocol, faster for lookups: one ``write()`` per response, and lookups answered before any task.

uvicorn's httptools protocol writes a response's head as soon as the application starts it and its body when
the application sends it: two system calls, two TCP segments, for a lookup whose whole answer is a few hundred
bytes — on this machine the two writes took a third of the HTTP process's time. :class:`GatheringTransport`
keeps what is written during one turn of the event loop and writes it at the end of that turn in one call; it
writes at once when closed, and drops nothing. :class:`HttpProtocol` (uvicorn's ``http`` class) also lets the
lookup lane answer a lookup as soon as its headers are read, skipping the task and the application's layers.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol, RequestResponseCycle


class GatheringTransport:
    """A transport whose writes during one loop turn leave together, at the end of that turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, lines: Any) -> None:
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        """Write what was gathered (nothing if the connection is closing: the peer is gone)."""
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return sum(len(part) for part in self._pending) + self._transport.get_write_buffer_size()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else is the real transport's
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`GatheringTransport`, asking the lookup lane first.

    Before it starts the application's task for a request, it asks the app's lookup lane
    (:meth:`lookups.LookupLane.messages_now`) for the answer; when the lane has it, the answer is sent at once,
    without a task or the application's layers: written here as uvicorn's response cycle would write it (same
    bytes on the wire), or through that cycle's ``send`` when the access log is on. Anything else — the lane
    declines, writing is paused, a pipelined request started from the end of the previous response, another
    app — starts the application as uvicorn does.
    """

    _answering = False  # a lane answer is being sent (a pipelined request started from it goes the usual way)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        gathering = GatheringTransport(transport, asyncio.get_running_loop())
        super().connection_made(gathering)  # type: ignore[arg-type]
        state = getattr(getattr(self.app, "state", None), "citygraph", None)
        self._lane = getattr(state, "lookup_lane", None)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        lane = self._lane
        if lane is None or app is not self.app or self._answering or self.flow.write_paused:
            super()._start_asgi_task(cycle, app)
            return
        self._answering = True
        try:
            if not self._answer_now(lane, cycle):
                super()._start_asgi_task(cycle, app)  # the application answers (or reports the error)
        finally:
            self._answering = False

    def _answer_now(self, lane: Any, cycle: RequestResponseCycle) -> bool:
        """Send the lane's answer through ``cycle``; False when there is none and nothing was sent."""
        try:
            messages = lane.messages_now(cycle.scope)
            if messages is None:
                return False
            if cycle.access_log or any(name in _FRAMING for name, _ in messages[0]["headers"]):
                for message in messages:
                    _run_now(cycle.send(message))  # uvicorn's own sending, which logs the request
            else:
                self._write_answer(cycle, *messages)
        except Exception:
            if not cycle.response_started:
                return False
            self.logger.error("Exception sending a lookup answer", exc_info=True)
            self.transport.close()
        cycle.on_response = lambda: None  # as uvicorn's task does when the application returns
        return True

    def _write_answer(self, cycle: RequestResponseCycle, start: Any, body: Any) -> None:
        """Write what uvicorn's ``cycle.send`` writes for these two messages — a response with a
        Content-Length and no Connection header, with the access log off — in one go, and finish the cycle."""
        content = [STATUS_LINE[start["status"]]]
        for name, value in (*self.server_state.default_headers, *start["headers"]):
            content += (name, b": ", value, b"\r\n")
        if not cycle.keep_alive:
            content.append(b"connection: close\r\n")
        content.append(b"\r\n")
        if cycle.scope["method"] != "HEAD":
            content.append(body["body"])
        cycle.response_started = cycle.response_complete = True
        cycle.waiting_for_100_continue = False
        self.transport.write(b"".join(content))
        cycle.message_event.set()
        if not cycle.keep_alive:
            self.transport.close()
        cycle.on_response()


_FRAMING = (b"connection", b"transfer-encoding")  # headers that change how uvicorn frames a response


def _run_now(coroutine: Any) -> None:
    """Run a coroutine that never waits (uvicorn's ``send`` while writing is not paused) to its end."""
    try:
        coroutine.send(None)
    except StopIteration:
        return
    coroutine.close()
    raise RuntimeError("the response cycle waited while sending a lookup answer")
