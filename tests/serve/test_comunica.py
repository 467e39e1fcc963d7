"""Comunica (a real SPARQL client, run with node, loopback only) querying the bare endpoint URL.

Comunica detects a source's type from what the URL answers; it sends ``Accept`` with RDF types above
``text/html;q=0.2``. Before issue 9 the endpoint redirected that to the HTML editor, and Comunica silently
returned no rows for the bare endpoint. ``.ci/run`` installs Comunica in ``tests/serve/comunica/``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

COMUNICA = Path(__file__).resolve().parent / "comunica" / "node_modules" / ".bin" / "comunica-sparql"
CGO = "https://w3id.org/citygraph/ontology#"


def comunica(*args: str) -> list[dict[str, str]]:
    node = shutil.which("node")
    if node is None or not COMUNICA.exists():
        pytest.fail("Comunica is not installed: `npm install` in tests/serve/comunica/ (.ci/run does it)")
    done = subprocess.run([node, str(COMUNICA), *args], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    rows: list[dict[str, str]] = json.loads(done.stdout)
    return rows


def test_comunica_reads_the_bare_endpoint(live_server) -> None:  # type: ignore[no-untyped-def]
    rows = comunica(live_server.sparql, f"SELECT ?p WHERE {{ ?p a <{CGO}SmartCityProgramme> }}")
    assert len(rows) == 24
    assert all(row["p"].startswith("https://w3id.org/citygraph/id/programme/") for row in rows)


def test_comunica_combines_the_endpoint_with_another_source(live_server) -> None:  # type: ignore[no-untyped-def]
    """The endpoint beside a document of the same site: Comunica must recognise the endpoint as one."""
    rows = comunica(live_server.sparql, live_server.url + "/data/authority/paris.ttl",
                    f"SELECT DISTINCT ?p WHERE {{ ?p a <{CGO}SmartCityProgramme> }}")
    assert len(rows) == 24
