"""`smallest-authorities` ranks exactly past its cut: checked against ranks computed in Python on a generated
graph of a few hundred authorities, ties included."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from citygraph.errors import InputError
from citygraph.load import LoadedGraph, load_graph
from citygraph.query import run_named_query

REPO = Path(__file__).resolve().parents[1]
CGO = "https://w3id.org/citygraph/ontology#"
FIGURES = f"""
PREFIX cgo: <{CGO}>
SELECT DISTINCT ?authority ?own ?seat ?ownFigure WHERE {{
  ?programme cgo:runBy ?authority .
  ?authority cgo:population ?ownFigure ; cgo:seat/cgo:population ?seatFigure .
  ?ownFigure cgo:inForceOn "2017-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ; cgo:inhabitants ?own .
  ?seatFigure cgo:inForceOn "2017-01-01"^^<http://www.w3.org/2001/XMLSchema#date> ; cgo:inhabitants ?seat .
}}
"""


def _figures(graph: LoadedGraph) -> list[tuple[str, int, int, str]]:
    import pyoxigraph

    rows = graph.store.query(FIGURES, default_graph=[pyoxigraph.NamedNode(graph.data_graph)])
    return [(r["authority"].value, int(r["own"].value), int(r["seat"].value), str(r["ownFigure"]))  # type: ignore[index,union-attr]
            for r in rows]


def _expected(figures: list[tuple[str, int, int, str]], limit: int, basis: str) -> list[tuple[str, int]]:
    """(authority, rank) of every authority ranked ``limit`` or better: 1 + the number of smaller ones."""
    value = {a: (own if basis == "authority" else seat) for a, own, seat, _ in figures}
    ranked = [(a, 1 + sum(1 for v in value.values() if v < value[a])) for a in value]
    return sorted(((a, r) for a, r in ranked if r <= limit), key=lambda item: (item[1], item[0]))


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> LoadedGraph:
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "scale" / "generate.py")
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    out = tmp_path_factory.mktemp("ranks") / "graph.nt"
    generator.generate(100_000, out, seed=11)
    loaded = load_graph([out])
    figures = sorted(_figures(loaded), key=lambda f: f[1])
    assert len(figures) > 250, "the test needs more authorities than the query's cut of 100"
    # The 105 smallest get populations 10, 11, … but the 95th to the 97th share one: ranks 95 (three times),
    # then 98, 99, 100 — so a cut one place short would lose the 100th.
    for index, (_, _, _, figure) in enumerate(figures[:105]):
        value = 10 + min(index, 94) if 94 <= index <= 96 else 10 + index
        loaded.store.update(
            f"DELETE {{ GRAPH <{loaded.data_graph}> {{ {figure} <{CGO}inhabitants> ?v }} }} "
            f"INSERT {{ GRAPH <{loaded.data_graph}> {{ {figure} <{CGO}inhabitants> {value} }} }} "
            f"WHERE {{ GRAPH <{loaded.data_graph}> {{ {figure} <{CGO}inhabitants> ?v }} }}"
        )
    return loaded


@pytest.mark.parametrize("basis", ["authority", "seat"])
@pytest.mark.parametrize("limit", [1, 7, 98, 100])
def test_ranks_equal_a_full_count(graph: LoadedGraph, limit: int, basis: str) -> None:
    result = run_named_query(graph, "smallest-authorities", {"limit": limit, "basis": basis})
    got = sorted(zip(result.values("authority"), map(int, result.values("rank")), strict=True),
                 key=lambda item: (item[1], item[0]))
    assert got == _expected(_figures(graph), limit, basis)


def test_ties_at_the_cut_are_all_returned(graph: LoadedGraph) -> None:
    figures = sorted(_figures(graph), key=lambda f: f[1])
    tied = {a for a, own, _, _ in figures if own == 10 + 94}
    assert len(tied) == 3
    result = run_named_query(graph, "smallest-authorities", {"limit": 100})
    rank = dict(zip(result.values("authority"), result.values("rank"), strict=True))
    assert tied <= set(rank), "every tied authority is ranked"
    assert len({rank[a] for a in tied}) == 1, "tied authorities share one rank"
    assert rank[next(iter(tied))] == "95"
    assert sorted(map(int, rank.values()))[-3:] == [98, 99, 100]


@pytest.mark.parametrize("limit", ["0", "101", "-3"])
def test_limit_out_of_range_is_refused(graph: LoadedGraph, limit: str) -> None:
    with pytest.raises(InputError, match="expected an integer from 1 to 100"):
        run_named_query(graph, "smallest-authorities", {"limit": limit})
