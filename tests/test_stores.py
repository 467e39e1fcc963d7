"""citygraph.stores: the query rewrite for Virtuoso's out-of-dataset GRAPH blocks, checked against pyoxigraph.

``confine_graphs`` edits query text without a parser, so it gets a differential property test: on generated
queries mixing GRAPH blocks, strings and comments that spell GRAPH <…>, and IRIs holding '#', the rewritten query
(with the empty graph added to the named graphs) must give pyoxigraph the same answer as the original.
"""

from __future__ import annotations

import pyoxigraph
from hypothesis import given, settings
from hypothesis import strategies as st

from citygraph.stores import ABSENT_GRAPH, confine_graphs

SERVED, UNSERVED, MISSING = "http://s/1", "http://u/1", "http://n/1"
A, P, B = "<http://a>", "<http://p#x>", "<http://b>"


def _store() -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    for graph in (SERVED, UNSERVED):
        name = pyoxigraph.NamedNode(graph)
        store.add(pyoxigraph.Quad(pyoxigraph.NamedNode("http://a"), pyoxigraph.NamedNode("http://p#x"),
                                  pyoxigraph.NamedNode("http://b"), name))
        store.add(pyoxigraph.Quad(pyoxigraph.NamedNode("http://a"), pyoxigraph.NamedNode("http://p#x"),
                                  pyoxigraph.Literal(f"GRAPH <{UNSERVED}> {{ }}"), name))
    return store


STORE = _store()
graphs = st.sampled_from([SERVED, UNSERVED, MISSING])
blocks = st.one_of(
    graphs.map(lambda g: f"GRAPH <{g}> {{ {A} {P} {B} }}"),
    graphs.map(lambda g: f"graph<{g}>{{ ?s ?p ?o }}"),
    graphs.map(lambda g: f"OPTIONAL {{ GRAPH <{g}> {{ ?x {P} ?y }} }}"),
    graphs.map(lambda g: f'?s {P} "GRAPH <{g}> {{ }}"'),
    graphs.map(lambda g: f"?s {P} '''GRAPH <{g}> {{ }}'''"),
    graphs.map(lambda g: f"# GRAPH <{g}> {{ {A} {P} {B} }}\n"),
    graphs.map(lambda g: f"FILTER NOT EXISTS {{ GRAPH <{g}> {{ {A} ?q {B} }} }}"),
)


def _answer(query: str, named: list[str]) -> object:
    result = STORE.query(query, default_graph=[pyoxigraph.NamedNode(SERVED)],
                         named_graphs=[pyoxigraph.NamedNode(g) for g in named])
    if isinstance(result, pyoxigraph.QueryBoolean):
        return bool(result)
    return sorted(repr(sorted((str(v), str(s[v])) for v in result.variables if s[v] is not None)) for s in result)


@settings(max_examples=300, deadline=None)
@given(st.lists(blocks, min_size=1, max_size=5), st.sampled_from(["ASK", "SELECT *"]))
def test_confined_query_answers_as_the_original_on_the_sent_dataset(parts, form):
    query = f"{form} WHERE {{ {' . '.join(parts)} }}".replace("\n .", "\n")
    confined, changed = confine_graphs(query, [SERVED])
    assert _answer(confined, [SERVED, ABSENT_GRAPH]) == _answer(query, [SERVED])
    assert changed == (confined != query)
    assert f"<{SERVED}>" in confined or f"<{SERVED}>" not in query


def test_only_graph_blocks_outside_the_dataset_are_pointed_at_the_empty_graph():
    query = f'ASK {{ GRAPH <{UNSERVED}> {{ ?s ?p "GRAPH <{UNSERVED}>" }} GRAPH <{SERVED}> {{ ?s ?p ?o }} }}'
    confined, changed = confine_graphs(query, [SERVED])
    assert changed
    assert confined == (f'ASK {{ GRAPH <{ABSENT_GRAPH}> {{ ?s ?p "GRAPH <{UNSERVED}>" }} '
                        f"GRAPH <{SERVED}> {{ ?s ?p ?o }} }}")


@settings(max_examples=200, deadline=None)
@given(st.lists(blocks, min_size=1, max_size=5), st.sampled_from(["ASK", "SELECT *"]))
def test_renamed_query_reads_the_version_as_the_original_read_the_graph(parts, form):
    """A served graph moved to a version name: the renamed query on the version answers as the original did."""
    from citygraph.stores import rename_graphs

    query = f"{form} WHERE {{ {' . '.join(parts)} }}".replace("\n .", "\n")
    moved = STORE_MOVED.query
    renamed, _ = rename_graphs(query, {SERVED: SERVED + "/version/1"})
    expected = _answer(query, [SERVED])
    result = moved(renamed, default_graph=[pyoxigraph.NamedNode(SERVED + "/version/1")],
                   named_graphs=[pyoxigraph.NamedNode(SERVED + "/version/1")])
    got = bool(result) if isinstance(result, pyoxigraph.QueryBoolean) else sorted(
        repr(sorted((str(v), str(s[v])) for v in result.variables if s[v] is not None)) for s in result)
    assert got == expected


def _moved_store() -> pyoxigraph.Store:
    store = pyoxigraph.Store()
    for quad in STORE:
        graph = quad.graph_name.value if isinstance(quad.graph_name, pyoxigraph.NamedNode) else ""
        name = pyoxigraph.NamedNode(SERVED + "/version/1" if graph == SERVED else graph)
        store.add(pyoxigraph.Quad(quad.subject, quad.predicate, quad.object, name))
    return store


STORE_MOVED = _moved_store()
