"""The "store" server mode: `citygraph serve --store URL` over a real Oxigraph server loaded by publish."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from support import stop_process

QUERY_TIMEOUT_S = 10  # the store's own time limit (oxigraph serve --timeout-s)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _oxigraph() -> str:
    found = shutil.which("oxigraph") or str(Path(sys.executable).parent / "oxigraph")
    if not Path(found).exists():
        raise RuntimeError("the `oxigraph` server is not installed: pip install '.[test]' installs it")
    return found


def start_store_mode(
    tmp_dir: Path, graphs: list[tuple[str, Path]], bundled: bool
) -> tuple[list[str], Callable[[], None]]:
    """Start Oxigraph, publish the bundled graph (and PUT each extra graph), point the server at it."""
    from citygraph.load import load_graph
    from citygraph.publish import StoreEndpoints, publish

    port = _free_port()
    process = subprocess.Popen(
        [
            _oxigraph(),
            "serve",
            "--location",
            str(tmp_dir / "oxigraph"),
            "--bind",
            f"127.0.0.1:{port}",
            "--timeout-s",
            str(QUERY_TIMEOUT_S),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    def stop() -> None:
        stop_process(process)

    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url + "/query", params={"query": "ASK {}"}, timeout=1.0)
            break
        except httpx.TransportError:
            if time.monotonic() > deadline or process.poll() is not None:
                stop()
                raise RuntimeError("the Oxigraph server did not start") from None
            time.sleep(0.05)
    endpoints = StoreEndpoints.derive(url)
    if bundled:
        publish(load_graph(), endpoints, progress=False)
    for iri, path in graphs:
        media = "application/n-triples" if str(path).endswith(".nt") else "text/turtle"
        httpx.put(
            endpoints.store,
            params={"graph": iri},
            content=Path(path).read_bytes(),
            headers={"Content-Type": media},
            timeout=30,
        ).raise_for_status()
    args = ["--store", url] + [arg for iri, path in graphs for arg in ("--graph", f"{iri}={path}")]
    if not bundled:
        args.append("--no-bundled")
    return args, stop


def start_virtuoso_mode(
    tmp_dir: Path, graphs: list[tuple[str, Path]], bundled: bool
) -> tuple[list[str], Callable[[], None]]:
    """`serve --store` over the session's Virtuoso: publish the bundled graph there (Digest, Virtuoso's
    endpoints), PUT each extra graph, point the server at its /sparql endpoint. The store outlives the server."""
    from support import shared_virtuoso

    from citygraph.load import load_graph
    from citygraph.publish import Credentials, StoreEndpoints, publish

    virtuoso = shared_virtuoso()
    endpoints = StoreEndpoints.derive(virtuoso.url, store=virtuoso.store_endpoint, query=virtuoso.query_endpoint,
                                      update=virtuoso.update_endpoint)
    if bundled:
        result = publish(load_graph(), endpoints, progress=False,
                         credentials=Credentials(virtuoso.user, virtuoso.password, digest=True))
        assert not result.differences
    for iri, path in graphs:
        media = "application/n-triples" if str(path).endswith(".nt") else "text/turtle"
        virtuoso.put(iri, Path(path).read_bytes(), media)
    # --timeout 30: Virtuoso 7.2 takes 2-5 s to plan and run smallest-authorities on a loaded 2-core machine, and
    # passed the default 10 s during a full test run; the tests check answers, not timings.
    args = ["--store", virtuoso.query_endpoint, "--timeout", "30"] + [
        arg for iri, path in graphs for arg in ("--graph", f"{iri}={path}")
    ]
    if not bundled:
        args.append("--no-bundled")
    return args, lambda: None
