"""Fair sharing between clients, with real server processes on loopback.

Clients are told apart by their socket address: each test client connects from its own 127.0.0.x address.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from conftest import client_from

from citygraph.serve.fairness import ClientLedger

CGO = "https://w3id.org/citygraph/ontology#"
# A worker-bound query (COUNT: not a fast-path lookup); a nonce in a comment keeps every request uncached.
CHEAP = f"SELECT (COUNT(?a) AS ?n) WHERE {{ ?a a <{CGO}SmartCityProgramme> }}"
# A heavy 2 KB query: a three-way cross product of the graph, padded with a comment.
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } #"


def heavy() -> str:
    text = HEAVY + secrets.token_hex(8)
    return text + "x" * (2048 - len(text))


def cheap() -> str:
    return f"{CHEAP} # {secrets.token_hex(8)}"


@contextmanager
def hostile_clients(url: str, sources: list[str]) -> Iterator[list[int]]:
    """Each source sends heavy queries back to back until the block ends; yields the statuses seen."""
    statuses: list[int] = []
    stop = threading.Event()

    def loop(source: str) -> None:
        with client_from(source, timeout=60) as client:
            while not stop.is_set():
                try:
                    statuses.append(client.post(url, data={"query": heavy()}).status_code)
                except httpx.TransportError:
                    statuses.append(0)
                if statuses[-1] == 429:
                    time.sleep(0.2)

    threads = [threading.Thread(target=loop, args=(source,), daemon=True) for source in sources]
    for thread in threads:
        thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)


def test_two_hostile_clients_do_not_make_a_third_wait(start_server) -> None:  # type: ignore[no-untyped-def]
    """Issue 9's reproducer: two clients hold both workers with heavy queries; a third client's worker query
    still answers quickly (it waited 9.6 s before: until a heavy query hit the time limit)."""
    server = start_server("--timeout", "10", "--query-workers", "2")
    with hostile_clients(server.sparql, ["127.0.0.2", "127.0.0.3"]) as statuses:
        time.sleep(2.5)  # both workers are busy with heavy queries by now
        waits = []
        with client_from("127.0.0.4", timeout=60) as victim:
            for _ in range(3):
                started = time.monotonic()
                response = victim.get(server.sparql, params={"query": cheap()})
                waits.append(time.monotonic() - started)
                assert response.status_code == 200, response.text
                assert response.json()["results"]["bindings"][0]["n"]["value"] == "24"
                time.sleep(1.5)
            # pages, lookups and cached answers are never queued behind worker queries
            for path in ("/", "/page/authority/paris", "/id/authority/paris"):
                started = time.monotonic()
                page = victim.get(server.url + path)
                assert page.status_code in (200, 303), (path, page.text[:500])
                waits.append(time.monotonic() - started)
    assert max(waits) < 4.0, waits
    assert all(status in (200, 429, 503) for status in statuses), statuses
    assert "Traceback" not in server.log()


def test_budget_per_client_answers_429_with_retry_after(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--timeout", "1.5", "--client-budget", "2", "--query-workers", "2")
    with client_from("127.0.0.5", timeout=30) as greedy:
        first = greedy.post(server.sparql, data={"query": heavy()})
        assert first.status_code == 503  # the time limit: 1.5 s of the 2 s budget spent
        second = greedy.post(server.sparql, data={"query": heavy()})
        assert second.status_code == 503  # admitted (1.5 < 2), runs to the limit: 3 s spent
        refused = greedy.post(server.sparql, data={"query": cheap()})
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["title"] == "Too Many Requests"
        # over budget, the client still gets lookups, pages and cached answers
        lookup = f"SELECT ?o WHERE {{ <https://w3id.org/citygraph/id/authority/paris> <{CGO}inseeCode> ?o }}"
        assert greedy.get(server.sparql, params={"query": lookup}).status_code == 200
        assert greedy.get(server.url + "/page/authority/paris").status_code == 200
    with client_from("127.0.0.6", timeout=30) as other:  # another client is not affected
        assert other.get(server.sparql, params={"query": cheap()}).status_code == 200


def test_forwarded_for_counts_only_from_a_trusted_proxy(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--timeout", "1.5", "--client-budget", "1", "--forwarded-allow-ips", "127.0.0.7")
    with client_from("127.0.0.7", timeout=30) as proxy:
        assert proxy.post(server.sparql, data={"query": heavy()},
                          headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 503
        assert proxy.get(server.sparql, params={"query": cheap()},
                         headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 429
        # another client behind the same proxy has its own budget
        assert proxy.get(server.sparql, params={"query": cheap()},
                         headers={"X-Forwarded-For": "203.0.113.10"}).status_code == 200
    with client_from("127.0.0.8", timeout=30) as untrusted:  # not a trusted proxy: its header is ignored
        assert untrusted.post(server.sparql, data={"query": heavy()},
                              headers={"X-Forwarded-For": "203.0.113.11"}).status_code == 503
        assert untrusted.get(server.sparql, params={"query": cheap()},
                             headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429


def test_ledger_budget_window_and_turns() -> None:
    async def scenario() -> None:
        ledger = ClientLedger(budget=0.3, window=1.0)
        async with ledger.turn("a"):
            await asyncio.sleep(0.35)
        with pytest.raises(Exception) as refused:
            async with ledger.turn("a"):
                pass
        assert getattr(refused.value, "status", None) == 429
        async with ledger.turn("b"):  # others are unaffected
            pass
        await asyncio.sleep(1.05)  # the spending leaves the window
        async with ledger.turn("a"):
            pass
        # one at a time: a second query of the same client waits for the first
        order: list[str] = []

        async def query(name: str, seconds: float) -> None:
            async with ledger.turn("c", wait=5):
                order.append(name + "-start")
                await asyncio.sleep(seconds)
                order.append(name + "-end")

        await asyncio.gather(query("first", 0.05), query("second", 0.01))
        assert order == ["first-start", "first-end", "second-start", "second-end"]
        assert not ledger.running

    asyncio.run(scenario())


def test_budget_holds_in_store_mode_too(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--timeout", "1.5", "--client-budget", "2", mode="store")
    with client_from("127.0.0.9", timeout=30) as greedy:
        assert greedy.post(server.sparql, data={"query": heavy()}).status_code == 503
        assert greedy.post(server.sparql, data={"query": heavy()}).status_code == 503
        refused = greedy.post(server.sparql, data={"query": cheap()})
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    with client_from("127.0.0.10", timeout=30) as other:
        answer = other.get(server.sparql, params={"query": cheap()})
        assert answer.status_code == 200, answer.text


def _in_another_process(code: str) -> None:
    """Run ``code`` (with ``table`` a SpendingTable on the shared file) in a fresh Python process."""
    import subprocess
    import sys

    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_the_table_is_shared_by_the_http_worker_processes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """What one HTTP worker process records (a running query, seconds spent), the others see: one turn and
    one budget per client, whichever process its connection reaches; a process that died mid-query frees the
    client's turn."""
    from citygraph.serve.fairness import SpendingTable

    path, key = str(tmp_path / "clients.ledger"), b"k" * 16
    here = SpendingTable(60.0, path=path, key=key)
    opening = f"from citygraph.serve.fairness import SpendingTable; import time; " \
              f"table = SpendingTable(60.0, path={path!r}, key={key!r}); now = time.monotonic(); "
    # another process spends 25 s of client a's budget, and dies while running a query of client b
    _in_another_process(opening + "assert table.start('a', 30.0, now - 25) is None; table.finish('a', now); "
                        "assert table.start('b', 30.0, now) is None")
    now = time.monotonic()
    assert 24.9 < here.used("a", now) < 25.1
    assert here.start("a", 20.0, now) == "budget"  # 25 s spent there: over a budget of 20 here
    assert here.start("b", 30.0, now) is None  # b's query died with its process: b may run again
    assert here.start("b", 30.0, now) == "running"  # …one at a time
    # a running query here is seen there
    _in_another_process(opening + "assert table.start('b', 30.0, now) == 'running'; "
                        "assert table.start('c', 30.0, now) is None; table.finish('c', now)")
    here.finish("b", time.monotonic())
    assert here.start("b", 30.0, time.monotonic()) is None
    here.close()


def test_table_is_bounded_and_forgets_idle_clients() -> None:
    from citygraph.serve.fairness import _SLOT, SpendingTable

    SLOT_SIZE = _SLOT.size
    table = SpendingTable(1.2, slots=16)
    now = time.monotonic()
    for number in range(200):  # more clients than slots: nobody is refused for it
        client = f"203.0.113.{number}"
        assert table.start(client, 5.0, now) in (None, "running")
        table.finish(client, now + 0.01)
    assert len(table._map) == 16 * SLOT_SIZE  # the mapping never grows
    later = now + 2.5  # a whole window later every client is idle: slots are reused, spending forgotten
    assert table.used("203.0.113.7", later) == 0.0
    assert table.start("198.51.100.1", 5.0, later) is None
