"""The sparql engine gives the same SHACL results as pyshacl: bundled graph, failing fixtures, 100k sample."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from citygraph import settings
from citygraph.load import load_graph
from citygraph.shacl_sparql import ShapesGraph, run_sparql
from citygraph.validate import Violation, run_pyshacl, validate_graph

REPO = Path(__file__).resolve().parents[1]
FIXTURES = sorted((REPO / "tests" / "shapes").glob("*.ttl"))
Key = tuple[str, str | None, str, str, str | None]


def _blank(text: str | None) -> str | None:
    # Blank-node labels differ between engines (rdflib vs pyoxigraph): compare them as "some blank node".
    return None if text is None else re.sub(r"_:[A-Za-z0-9]+", "_:b", text)


def _top_level_shapes() -> set[str]:
    """Shapes whose results are top-level results: targeted shapes and their property shapes."""
    shapes = ShapesGraph.from_file(settings.shapes_file())
    found: set[str] = set()
    for top in shapes.top_level():
        found.add(str(top.node).strip("<>"))
        found.update(str(p.node).strip("<>") for p in top.properties)
    return found


def keys(violations: list[Violation], top_level: set[str]) -> set[Key]:
    """(focus, path, component, source shape, value) of each top-level result.

    pyshacl also lists the nested results it attaches with sh:detail (e.g. under sh:node) as ValidationResult
    nodes; they are not results of the report (SHACL §3.6.2.3), so only top-level shapes' results count.
    """
    return {
        (_blank(v.focus) or "", v.path, v.constraint, _blank(v.source_shape) or "", _blank(v.value))
        for v in violations
        if v.source_shape in top_level
    }


@pytest.fixture(scope="module")
def top_level() -> set[str]:
    return _top_level_shapes()


def both(files: list[Path] | None, top_level: set[str]) -> tuple[set[Key], set[Key]]:
    graph = load_graph(files)
    shapes = settings.shapes_file()
    return keys(run_pyshacl(graph, shapes), top_level), keys(run_sparql(graph, shapes), top_level)


def test_bundled_graph_same_results(top_level):
    reference, fast = both(None, top_level)
    assert fast == reference


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_failing_fixture_same_results(fixture, top_level):
    reference, fast = both([*settings.data_files(), fixture], top_level)
    assert reference, f"{fixture.name} should fail under pyshacl"
    assert fast == reference
    # The shape the fixture says it breaks is among the results.
    broken = re.search(r"^# breaks: cgsh:(\S+)", fixture.read_text(encoding="utf-8"), re.M)
    if broken:
        assert any(k[3].endswith("#" + broken.group(1)) for k in fast)


def test_fixtures_exist():
    assert len(FIXTURES) >= 10, "tests/shapes/ holds the failing fixtures, one per rule"


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("bench_generate", REPO / "bench" / "scale" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_100k_sample_with_planted_violations(generator, tmp_path, top_level):
    out = tmp_path / "sample.nt"
    summary = generator.generate(100_000, out, violations=40, seed=7)
    assert summary["triples"] >= 95_000
    reference, fast = both([out], top_level)
    assert fast == reference
    # Every planted violation is found on its focus node.
    foci = {k[0] for k in fast}
    for kind, focus in summary["planted"]:
        assert focus in foci, (kind, focus)


def test_generated_graph_conforms(generator, tmp_path):
    out = tmp_path / "clean.nt"
    generator.generate(10_000, out, violations=0)
    report = validate_graph(load_graph([out]), engine="sparql")
    assert report.conforms, report.to_text()


def test_report_through_validate_command(run_cli):
    result = run_cli("validate", "--engine", "sparql")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sparql" in result.stdout


def test_forked_processes_give_the_same_results(generator, tmp_path):
    from citygraph.shacl_sparql import validate_store

    out = tmp_path / "sample.nt"
    generator.generate(10_000, out, violations=20, seed=3)
    graph = load_graph([out])
    shapes = ShapesGraph.from_file(settings.shapes_file())
    graphs = [graph.data_graph, graph.ontology_graph]

    def key(v: Violation) -> str:
        return repr((v.focus, v.path, v.value, v.constraint, v.source_shape))

    alone = sorted(map(key, validate_store(graph.store, graphs, shapes, processes=1)))
    forked = sorted(map(key, validate_store(graph.store, graphs, shapes, processes=2)))
    assert len(alone) >= 20
    assert forked == alone
