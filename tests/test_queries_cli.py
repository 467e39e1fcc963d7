"""`citygraph queries`, `query` (local, and --endpoint on a real Oxigraph server) and `claims`."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pyoxigraph
import pytest
from support import cli_error

from citygraph.errors import RemoteError
from citygraph.load import load_graph
from citygraph.query import list_queries, run_named_query, run_remote_query

RunCli = Callable[..., subprocess.CompletedProcess[str]]
INJECTION = 'x" } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o '
REMOTE_CASES = [
    ("authorities-by-kind", {}),
    ("lead-share", {}),
    ("authorities-without-lead", {}),
    ("authorities-under-population", {"max": "250000", "basis": "seat"}),
    ("smallest-authorities", {"limit": "3"}),
    ("leads-and-posts", {}),
    ("authorities-by-theme", {"theme": "smart-grid"}),
    ("authority-by-insee", {"code": "06088"}),
    ("authority-by-insee", {"code": INJECTION}),
]


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def test_queries_lists_every_named_query(run_cli: RunCli) -> None:
    text = ok(run_cli("queries"))
    listing = json.loads(ok(run_cli("queries", "--format", "json")))
    for query in list_queries():
        assert f"{query.name}  —  {query.title}" in text
    by_name = {q["name"]: q for q in listing}
    assert set(by_name) == {q.name for q in list_queries()}
    params = {p["name"]: p for p in by_name["authorities-under-population"]["parameters"]}
    assert params["max"] == {
        "name": "max",
        "datatype": "integer",
        "default": "250000",
        "description": "Population threshold (strictly fewer than)",
    }
    assert "--param max=<integer>  (default 250000)" in text


def test_query_formats(run_cli: RunCli) -> None:
    table = run_cli("query", "authorities-by-kind")
    assert ok(table).splitlines()[0].split()[:3] == ["authority", "label", "label_en"]
    assert "(24 rows)" in table.stderr
    rows = list(csv.DictReader(io.StringIO(ok(run_cli("query", "authorities-by-kind", "--format", "csv")))))
    assert len(rows) == 24
    assert sum(1 for r in rows if r["kind"].endswith("/kind/metropole")) == 10
    payload = json.loads(ok(run_cli("query", "authorities-by-kind", "-f", "json")))
    assert len(payload["results"]["bindings"]) == 24
    tsv = ok(run_cli("query", "authorities-by-kind", "-f", "tsv")).splitlines()
    assert tsv[0].startswith("?authority\t?label") and len(tsv) == 25


def test_query_parameters_on_the_command_line(run_cli: RunCli) -> None:
    seat = json.loads(
        ok(
            run_cli(
                "query",
                "authorities-under-population",
                "--param",
                "max=250000",
                "--param",
                "basis=seat",
                "-f",
                "json",
            )
        )
    )
    assert len(seat["results"]["bindings"]) == 16
    injected = run_cli("query", "authority-by-insee", "--param", f"code={INJECTION}", "-f", "json")
    assert json.loads(ok(injected))["results"]["bindings"] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("query", "authorities-under-population", "--param", "max=abc"),
            "parameter max='abc': not an integer",
        ),
        (("query", "authorities-under-population", "--param", "max"), "expected NAME=VALUE"),
        (("query", "authorities-under-population", "--param", "nope=1"), "has no parameter 'nope'"),
        (("query", "no-such-query"), "unknown query 'no-such-query'"),
        (("query", "missing.rq"), "missing.rq: no such file"),
        (("query", "lead-share", "--graph", "http://example.org/g"), "--graph only applies with --endpoint"),
    ],
)
def test_query_input_errors_exit_2(run_cli: RunCli, args: tuple[str, ...], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert cli_error(result.stderr) and "Traceback" not in result.stderr


def test_query_a_file(run_cli: RunCli, tmp_path: Path) -> None:
    (tmp_path / "mine.rq").write_text(
        "# title: Seats\n# param: code string 75056 INSEE code\n"
        "PREFIX cgo: <https://w3id.org/citygraph/ontology#>\n"
        "SELECT ?seat ?code WHERE { ?seat cgo:inseeCode ?code }\n",
        encoding="utf-8",
    )
    rows = list(csv.DictReader(io.StringIO(ok(run_cli("query", "mine.rq", "-f", "csv", cwd=tmp_path)))))
    assert rows == [{"seat": "https://w3id.org/citygraph/id/authority/paris", "code": "75056"}]


def test_claims_command(run_cli: RunCli) -> None:
    table = ok(run_cli("claims"))
    for outcome in ("agrees", "differs", "cannot be derived"):
        assert outcome in table
    assert "under-250000-inhabitants" in table and "9/24 | 16/24" in table
    english = ok(run_cli("claims", "--lang", "en", "--format", "json"))
    checks = {c["key"]: c for c in json.loads(english)}
    chartres = checks["chartres-smallest"]
    assert chartres["outcome"] == "agrees"  # of the survey's first version; not of the updated one
    assert [(r["params"]["edition"], r["agrees"]) for r in chartres["derived"]["readings"]] == [
        ("original", True), ("updated", False)]
    assert "Béthune (25,413 inhabitants)" in chartres["why"]
    assert [r["count"] for r in checks["under-250000-inhabitants"]["derived"]["readings"]] == [9, 16]
    assert checks["smart-grids"]["derived"]["known"][0]["label"] == "Chartres"
    strict = run_cli("claims", "--strict")
    assert strict.returncode == 1 and "differs" in strict.stdout


# ---------------------------------------------------------------- remote endpoint


@pytest.fixture
def loaded_server(oxigraph_server):  # type: ignore[no-untyped-def]
    """The Oxigraph fixture holding the bundled data in the data named graph (as `citygraph publish` does)."""
    graph = load_graph()
    payload = graph.store.dump(
        format=pyoxigraph.RdfFormat.N_TRIPLES, from_graph=pyoxigraph.NamedNode(graph.data_graph)
    )
    response = httpx.put(
        oxigraph_server.store_endpoint,
        params={"graph": graph.data_graph},
        content=payload,
        headers={"Content-Type": "application/n-triples"},
        timeout=30,
    )
    assert response.status_code in (201, 204), response.text
    return oxigraph_server


def test_remote_rows_equal_local_rows(loaded_server) -> None:  # type: ignore[no-untyped-def]
    graph = load_graph()
    for name, params in REMOTE_CASES:
        local = run_named_query(graph, name, params)
        remote = run_remote_query(loaded_server.query_endpoint, name, params, timeout=30)
        assert remote.variables == local.variables, name
        assert sorted(map(str, remote.rows)) == sorted(map(str, local.rows)), name
    assert len(run_remote_query(loaded_server.query_endpoint, "authorities-by-kind")) == 24


def test_remote_query_cli(run_cli: RunCli, loaded_server) -> None:  # type: ignore[no-untyped-def]
    endpoint = loaded_server.query_endpoint
    local = json.loads(ok(run_cli("query", "authorities-under-population", "-p", "basis=seat", "-f", "json")))
    remote = json.loads(
        ok(
            run_cli(
                "query",
                "authorities-under-population",
                "-p",
                "basis=seat",
                "-f",
                "json",
                "--endpoint",
                endpoint,
            )
        )
    )
    assert remote == local
    # The data is in a named graph: without default-graph-uri the endpoint's default graph is empty.
    empty = json.loads(
        ok(run_cli("query", "authorities-by-kind", "-f", "json", "--endpoint", endpoint, "--graph", ""))
    )
    assert empty["results"]["bindings"] == []
    injected = json.loads(
        ok(
            run_cli(
                "query", "authority-by-insee", "-p", f"code={INJECTION}", "-f", "json", "--endpoint", endpoint
            )
        )
    )
    assert injected["results"]["bindings"] == []
    still_there = httpx.get(
        loaded_server.query_endpoint,
        params={"query": "ASK { GRAPH ?g { ?s ?p ?o } }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert still_there.json()["boolean"] is True


def test_remote_errors_exit_3(run_cli: RunCli, loaded_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.rq").write_text("SELECT * WHERE { ?s ?p }\n", encoding="utf-8")
    refused = run_cli("query", "bad.rq", "--endpoint", loaded_server.query_endpoint, cwd=tmp_path)
    assert refused.returncode == 3
    assert "the endpoint refused query 'bad'" in refused.stderr and "Traceback" not in refused.stderr
    loaded_server.stop()
    down = run_cli("query", "lead-share", "--endpoint", loaded_server.query_endpoint)
    assert down.returncode == 3
    assert "cannot reach the endpoint" in down.stderr and "Traceback" not in down.stderr
    with pytest.raises(RemoteError):
        run_remote_query(loaded_server.query_endpoint, "lead-share", timeout=5)
