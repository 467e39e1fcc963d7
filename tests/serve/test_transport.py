"""The gathering transport (``serve/transport.py``): a response's head and body leave in one write, nothing is
held past a turn of the event loop, reordered or lost; and the server speaks HTTP/1.1 through it (pipelining)."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

from citygraph.serve.transport import GatheringTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


def test_writes_of_one_turn_leave_in_one_write_in_order() -> None:
    async def scenario() -> tuple[RecordingTransport, list[list[bytes]]]:
        real = RecordingTransport()
        gathering = GatheringTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        seen = []
        gathering.write(b"HTTP/1.1 200 OK\r\n\r\n")
        gathering.write(b"")  # nothing to write: no empty write either
        gathering.write(bytearray(b"body"))
        seen.append(list(real.writes))  # nothing yet: the turn is not over
        await asyncio.sleep(0)
        seen.append(list(real.writes))
        gathering.writelines([b"a", b"b"])
        await asyncio.sleep(0)
        gathering.write(b"c")
        await asyncio.sleep(0)
        seen.append(list(real.writes))
        return real, seen

    real, seen = asyncio.run(scenario())
    assert seen[0] == []
    assert seen[1] == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
    assert seen[2] == [b"HTTP/1.1 200 OK\r\n\r\nbody", b"ab", b"c"]  # each turn's own write, in order
    assert real.writes == seen[2]


def test_close_writes_first_abort_drops_and_a_closed_peer_gets_nothing() -> None:
    async def scenario() -> tuple[RecordingTransport, RecordingTransport, RecordingTransport]:
        loop = asyncio.get_running_loop()
        closed, aborted, gone = RecordingTransport(), RecordingTransport(), RecordingTransport()
        first = GatheringTransport(closed, loop)  # type: ignore[arg-type]
        first.write(b"last words")
        first.close()
        second = GatheringTransport(aborted, loop)  # type: ignore[arg-type]
        second.write(b"dropped")
        assert second.get_write_buffer_size() == len(b"dropped")
        second.abort()
        third = GatheringTransport(gone, loop)  # type: ignore[arg-type]
        third.write(b"to nobody")
        gone.closed = True  # the peer went away before the turn ended
        assert third.get_extra_info("peername") == ("127.0.0.1", 1)  # the rest is the real transport's
        await asyncio.sleep(0)
        return closed, aborted, gone

    closed, aborted, gone = asyncio.run(scenario())
    assert closed.writes == [b"last words"] and closed.closed
    assert aborted.writes == [] and aborted.aborted
    assert gone.writes == []


def test_pipelined_requests_get_their_answers_in_order(live_server) -> None:  # type: ignore[no-untyped-def]
    """Two requests in one packet on one connection (HTTP/1.1 pipelining): two whole answers, in order."""
    host, port = live_server.url.removeprefix("http://").split(":")
    requests = b"".join(
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: application/sparql-results+json\r\n\r\n".encode()
        for path in ("/sparql?query=ASK%7B%7D", "/sparql?query=ASK%7BFILTER(false)%7D")
    )
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(requests)
        received = b""
        while received.count(b'"boolean"') < 2:
            chunk = connection.recv(65536)
            assert chunk, received
            received += chunk
    first, second = received.index(b'"boolean":true'), received.index(b'"boolean":false')
    assert received.count(b"HTTP/1.1 200 OK") == 2 and first < second
