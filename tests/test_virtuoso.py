"""`citygraph publish` and `query --endpoint` against a real Virtuoso (Debian's virtuoso-opensource 7.2).

Virtuoso's write endpoints speak HTTP Digest, store nothing from a chunked body, and cut every answer at
``ResultSetMaxRows`` rows (10,000 here, as in Debian's virtuoso.ini). The `serve --store` tests over it are the
"virtuoso" mode of tests/serve/.
"""

from __future__ import annotations

import httpx
import pytest
from support import VirtuosoServer

BASE = "https://w3id.org/citygraph/"
DATA_GRAPH = BASE + "graph/data"


def count(virtuoso: VirtuosoServer, graph: str) -> int:
    query = f"SELECT (COUNT(*) AS ?n) {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"
    response = httpx.post(virtuoso.query_endpoint, data={"query": query},
                          headers={"Accept": "application/sparql-results+json"}, timeout=30)
    return int(response.json()["results"]["bindings"][0]["n"]["value"])


def current(virtuoso: VirtuosoServer, graph: str) -> str:
    from citygraph.stores import current_versions

    return current_versions(virtuoso.query_endpoint, BASE, [graph])[graph]


def test_publish_with_digest_then_query_endpoint_follows_the_switch(run_cli, virtuoso, repo_root):
    env = {"CITYGRAPH_VIRTUOSO_PW": virtuoso.password}
    result = run_cli("publish", *virtuoso.publish_args(), "--no-progress", env=env)
    assert result.returncode == 0, result.stderr
    assert "match" in result.stdout
    from citygraph.load import load_graph

    graph = load_graph()
    first = current(virtuoso, DATA_GRAPH)
    assert first.startswith(DATA_GRAPH + "/version/")
    assert count(virtuoso, first) == graph.triple_count(graph.data_graph)  # the whole graph, not an empty 201
    answer = run_cli("query", "authority-by-insee", "--param", "code=49007", "--endpoint", virtuoso.query_endpoint,
                     "--format", "csv")
    assert answer.returncode == 0, answer.stderr
    assert "Angers Loire Métropole" in answer.stdout

    subset = str(repo_root / "data" / "schemes.ttl")
    assert run_cli("publish", *virtuoso.publish_args(), subset, env=env).returncode == 0
    assert current(virtuoso, DATA_GRAPH) != first
    from citygraph.publish import Credentials, StoreClient, StoreEndpoints

    client = StoreClient(StoreEndpoints.derive(virtuoso.url, store=virtuoso.store_endpoint,
                                               query=virtuoso.query_endpoint, update=virtuoso.update_endpoint),
                         Credentials(virtuoso.user, virtuoso.password, digest=True))
    try:  # the switch recorded, by Virtuoso's clock, when the first version stopped being current
        ages = client.retired_ages(BASE, [first, current(virtuoso, DATA_GRAPH)])
    finally:
        client.close()
    assert list(ages) == [first] and 0 <= ages[first] < 60
    after = run_cli("query", "authority-by-insee", "--param", "code=49007", "--endpoint", virtuoso.query_endpoint,
                    "--format", "csv")
    assert after.returncode == 0 and "Angers" not in after.stdout
    assert run_cli("publish", *virtuoso.publish_args(), env=env).returncode == 0  # back to the whole graph
    assert count(virtuoso, first) == 0  # the version before the previous one is dropped


def test_wrong_password_and_basic_auth_are_refused_with_a_hint(run_cli, virtuoso):
    wrong = run_cli("publish", *virtuoso.publish_args(), env={"CITYGRAPH_VIRTUOSO_PW": "not-it"})
    assert wrong.returncode == 3 and "refused the credentials" in wrong.stderr
    assert "Nothing was replaced" in wrong.stderr and "Traceback" not in wrong.stderr
    args = virtuoso.publish_args()
    basic = args[: args.index("--auth")] + args[args.index("--auth") + 2 :]
    refused = run_cli("publish", *basic, env={"CITYGRAPH_VIRTUOSO_PW": virtuoso.password})
    assert refused.returncode == 3 and "--auth digest" in refused.stderr


def test_a_graph_above_the_row_cap_is_published_whole_and_never_copied_cut(virtuoso, tmp_path):
    """12,000 triples: publish counts them on the store; a copy through the query endpoint (dumps of serve --store)
    fails with the ini setting to raise instead of returning 10,000."""
    from citygraph.load import LoadedGraph
    from citygraph.publish import Credentials, StoreEndpoints, publish
    from citygraph.serve.errors import BackendFailure
    from citygraph.serve.remote_backend import _construct_graph

    base = "https://example.org/big/"
    lines = "".join(f"<{base}id/{i}> <{base}p> \"{i}\" .\n" for i in range(12_000)).encode()
    import pyoxigraph

    graph = LoadedGraph(pyoxigraph.Store(), base, [], [])
    graph.store.load(lines, format=pyoxigraph.RdfFormat.N_TRIPLES, to_graph=pyoxigraph.NamedNode(graph.data_graph))
    endpoints = StoreEndpoints.derive(virtuoso.url, store=virtuoso.store_endpoint, query=virtuoso.query_endpoint,
                                      update=virtuoso.update_endpoint)
    result = publish(graph, endpoints, progress=False,
                     credentials=Credentials(virtuoso.user, virtuoso.password, digest=True))
    data = next(g for g in result.graphs if g.label == "data")
    assert data.matches and data.remote_count == 12_000
    with pytest.raises(BackendFailure) as failure:
        list(_construct_graph(virtuoso.query_endpoint, data.version or "", 30.0))
    assert "of the 12000 triples" in failure.value.detail and "ResultSetMaxRows" in failure.value.detail

