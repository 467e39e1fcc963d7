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
