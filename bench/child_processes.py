"""The servers a benchmark starts: a free loopback port, waiting until one answers, stopping it for sure."""

from __future__ import annotations

import socket
import subprocess
import time


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_sparql(
    endpoint: str, process: subprocess.Popen[bytes], *, within: float, poll: float = 0.1, timeout: float = 5
) -> bool:
    """Ask ``endpoint`` ``ASK {}`` until it answers 200 (True), or ``process`` exits or ``within`` s pass (False)."""
    import httpx

    deadline = time.monotonic() + within
    while True:
        try:
            if httpx.get(endpoint, params={"query": "ASK {}"}, timeout=timeout).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            return False
        time.sleep(poll)


def stop(process: subprocess.Popen[bytes], *, grace: float = 20) -> None:
    """Terminate ``process``; kill it if it has not exited within ``grace`` seconds; reap it either way."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
