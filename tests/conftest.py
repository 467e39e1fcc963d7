"""Fixtures shared by every test module: paths, the CLI as a user runs it, a real Oxigraph server."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from support import (
    WIKIDATA_ITEMS,
    OxigraphServer,
    VirtuosoServer,
    shared_virtuoso,
    start_oxigraph,
    stop_shared_virtuoso,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared/ beside the checkout: conformance material and reference facts, read at test time."""
    if not SHARED_DIR.is_dir():
        pytest.fail(f"{SHARED_DIR} is missing: the tests read conformance material from ../shared/")
    return SHARED_DIR


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``citygraph ARGS…`` in a subprocess, from a directory outside the checkout, as a user would."""

    def run(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "citygraph", *args],
            cwd=cwd or tmp_path,
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    return run


@pytest.fixture
def oxigraph_server(tmp_path: Path) -> Iterator[OxigraphServer]:
    """A fresh, empty, read-write Oxigraph server for one test."""
    server = start_oxigraph(tmp_path / "oxigraph-store")
    yield server
    server.stop()


@pytest.fixture
def wikidata(oxigraph_server: OxigraphServer) -> OxigraphServer:
    """A fresh Oxigraph server holding tests/fixtures/wikidata/items.ttl: a stand-in Wikidata endpoint."""
    response = httpx.post(oxigraph_server.store_endpoint + "?default", content=WIKIDATA_ITEMS.read_bytes(),
                          headers={"Content-Type": "text/turtle"})
    assert response.status_code in (200, 201, 204), response.text
    return oxigraph_server


@pytest.fixture(scope="session")
def virtuoso() -> VirtuosoServer:
    """The session's Virtuoso (Debian's virtuoso-opensource, own virtuoso.ini, loopback), started on first use."""
    return shared_virtuoso()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_shared_virtuoso()
