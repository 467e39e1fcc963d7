"""Soak: normal clients on `citygraph serve` while a hostile client sends a heavy query every second.

``--connections`` normal clients (8) loop for ``--duration`` seconds (60) over a mix of fast-path lookups (an
ad-hoc SPARQL lookup that differs on every request), named queries (``/queries/authority-by-insee?code=…``
pages and their JSON), pages (home, authority pages) and IRI dereferences (``/id/…`` → 303, ``/data/….ttl``);
each normal client connects from its own loopback address (127.0.0.10+i). A hostile client (127.0.0.99) sends
a heavy 2 KB query (a three-way cross product, uncacheable) every second. Reported: requests and errors of the
normal clients, their p50/p99 latency overall and per 10 s window (stable p99: no window far above the rest),
what the hostile client got, and the peak resident memory of the server (all its processes) beside its caps.

Usage: python bench/soak.py [--duration 60] [--connections 8] [--query-workers 2] [--worker-memory 512M]
Loopback only; bounded in time (duration + start-up) and in requests (what the clients manage in that time).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import quote

import child_processes
import httpx

CGO = "https://w3id.org/citygraph/ontology#"
ID = "https://w3id.org/citygraph/id/"
LOOKUP = f'PREFIX cgo: <{CGO}> SELECT ?a ?p ?o WHERE {{ ?s cgo:inseeCode "%s" . ?a cgo:seat ?s ; ?p ?o }}'
HEAVY = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } #"


def tree_rss(pid: int) -> int:
    total, pending = 0, [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/status", encoding="ascii") as status:
                total += next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmRSS:"))
            pending += [int(c) for c in Path(f"/proc/{current}/task/{current}/children").read_text().split()]
        except (OSError, StopIteration):
            continue
    return total


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=60, follow_redirects=False)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--query-workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="512M")
    args = parser.parse_args()

    port = child_processes.free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="soak-", suffix=".log", delete=False)  # noqa: SIM115
    server = subprocess.Popen(
        [sys.executable, "-m", "citygraph", "serve", "--port", str(port), "--no-access-log",
         "--query-workers", str(args.query_workers), "--worker-memory", args.worker_memory],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        if not child_processes.wait_for_sparql(url + "/sparql", server, within=90, poll=0.2, timeout=2):
            raise SystemExit(f"the server did not start; see {log.name}")
        codes_query = f"SELECT ?code ?a WHERE {{ ?s <{CGO}inseeCode> ?code . ?a <{CGO}seat> ?s }}"
        rows = httpx.get(url + "/sparql", params={"query": codes_query}, timeout=30).json()["results"]["bindings"]
        codes = sorted({row["code"]["value"] for row in rows})
        paths = sorted({row["a"]["value"].removeprefix(ID) for row in rows})

        def pick(i: int) -> tuple[str, str, dict[str, str]]:
            kind = i % 6
            code, path = codes[i % len(codes)], paths[i % len(paths)]
            if kind == 0:  # a fast-path lookup, new on every request
                query = LOOKUP % code + f" # {secrets.token_hex(6)}"
                return "lookup", "/sparql?query=" + quote(query, safe=""), {"Accept": "application/sparql-results+json"}
            if kind == 1:
                return "named", f"/queries/authority-by-insee?code={code}", {"Accept": "text/html"}
            if kind == 2:
                return "named", f"/queries/authority-by-insee?code={code}", {"Accept": "application/json"}
            if kind == 3:
                return "page", ("/" if i % 12 == 3 else f"/page/{path}"), {"Accept": "text/html"}
            if kind == 4:
                return "deref", f"/id/{path}", {"Accept": "text/turtle"}
            return "deref", f"/data/{path}.ttl", {}

        latencies: list[tuple[float, float, str]] = []  # (start offset, seconds, kind)
        errors: Counter[str] = Counter()
        hostile: Counter[int] = Counter()
        stop = threading.Event()
        started = time.monotonic()
        peak = [tree_rss(server.pid)]

        def normal(n: int) -> None:
            with client_from(f"127.0.0.{10 + n}") as client:
                i = n
                while not stop.is_set():
                    kind, target, headers = pick(i)
                    i += args.connections
                    t0 = time.monotonic()
                    try:
                        status = client.get(url + target, headers=headers).status_code
                    except httpx.TransportError as exc:
                        errors[f"{kind}: {exc.__class__.__name__}"] += 1
                        continue
                    latencies.append((t0 - started, time.monotonic() - t0, kind))
                    if status >= 400:
                        errors[f"{kind}: HTTP {status}"] += 1

        def heavy_query() -> None:
            text = HEAVY + secrets.token_hex(8)
            with client_from("127.0.0.99") as client:
                try:
                    hostile[client.post(url + "/sparql", data={"query": text + "x" * (2048 - len(text))},
                                        timeout=30).status_code] += 1
                except httpx.TransportError:
                    hostile[0] += 1

        def attacker() -> None:  # one new heavy query every second, whether the last one answered or not
            sent: list[threading.Thread] = []
            while not stop.wait(1.0 if sent else 0.0):
                sent.append(threading.Thread(target=heavy_query))
                sent[-1].start()
            for thread in sent:
                thread.join()

        def sampler() -> None:
            while not stop.is_set():
                peak[0] = max(peak[0], tree_rss(server.pid))
                time.sleep(0.1)

        threads = [threading.Thread(target=normal, args=(n,)) for n in range(args.connections)]
        threads += [threading.Thread(target=attacker), threading.Thread(target=sampler)]
        for thread in threads:
            thread.start()
        time.sleep(args.duration)
        stop.set()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        ms = [s * 1000 for _, s, _ in latencies]
        print(f"soak: {args.duration} s, {args.connections} normal clients + 1 hostile (a heavy 2 KB query "
              f"every second); --query-workers {args.query_workers}, --worker-memory {args.worker_memory}; "
              f"bundled graph; {os.cpu_count()} CPUs")
        print(f"normal clients: {len(latencies):,} requests ({len(latencies) / elapsed:,.0f}/s), "
              f"{sum(errors.values())} errors, p50 {percentile(ms, 50):.1f} ms, p99 {percentile(ms, 99):.1f} ms")
        for kind in ("lookup", "named", "page", "deref"):
            part = [s * 1000 for _, s, k in latencies if k == kind]
            print(f"  {kind:7} {len(part):7,} requests  p50 {percentile(part, 50):7.1f} ms  "
                  f"p99 {percentile(part, 99):7.1f} ms")
        windows = []
        for w in range(0, args.duration, 10):
            part = [s * 1000 for t, s, _ in latencies if w <= t < w + 10]
            windows.append(percentile(part, 99))
            print(f"  window {w:3}-{w + 10:3} s: {len(part):6,} requests  p99 {windows[-1]:7.1f} ms")
        finite = [w for w in windows if w == w]
        if finite:
            print(f"p99 across windows: median {statistics.median(finite):.1f} ms, max {max(finite):.1f} ms")
        if errors:
            print("errors: " + ", ".join(f"{k} ×{v}" for k, v in errors.most_common()))
        print("hostile client: " + ", ".join(f"HTTP {k} ×{v}" for k, v in sorted(hostile.items())))
        print(f"peak server RSS (all processes): {peak[0] / 2**20:.0f} MiB "
              f"(caps: {args.query_workers} + 1 query workers × {args.worker_memory}, "
              f"plus the HTTP process)")
        return 0 if not errors else 1
    finally:
        child_processes.stop(server)
        log.close()
        os.unlink(log.name)


if __name__ == "__main__":
    sys.exit(main())
