"""The sparql engine gives the same SHACL results as pyshacl: bundled graph, failing fixtures, 100k sample."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
from support import fixture_data_files

from citygraph import settings, shacl_sparql
from citygraph.load import load_graph
from citygraph.shacl_pyshacl import run_pyshacl
from citygraph.shacl_shapes import ShapesGraph
from citygraph.shacl_sparql import run_sparql
from citygraph.validate import Violation, validate_graph

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
    reference, fast = both([*fixture_data_files(), fixture], top_level)
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


# ---------------------------------------------------------------- the screen (one query per top-level shape)

SCREEN_SHAPES = """\
@prefix sh: <http://www.w3.org/ns/shacl#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.org/> .

ex:ThingShape a sh:NodeShape ;
    sh:targetClass ex:Thing ;
    sh:property [ sh:path ex:a ; sh:minCount 2 ] ,
        [ sh:path ex:b ; sh:maxCount 2 ] ,
        [ sh:path ex:c ; sh:hasValue ex:v ] ,
        [ sh:path ex:d ; sh:uniqueLang true ] ,
        [ sh:path ex:e ; sh:qualifiedValueShape [ sh:datatype xsd:integer ] ;
          sh:qualifiedMinCount 2 ; sh:qualifiedMaxCount 3 ] ,
        [ sh:path ex:f ; sh:minCount 1 ; sh:maxCount 1 ; sh:datatype xsd:integer ; sh:minInclusive 0 ] ,
        [ sh:path ex:g ; sh:in ( "x" "y" ) ] ,
        [ sh:path ex:h ; sh:class ex:Other ] ,
        [ sh:path ex:i ; sh:maxCount 1 ; sh:pattern "^[0-9]+$" ] .
"""

# ex:ok breaks nothing; every other thing breaks exactly one constraint. ex:a 1 of ex:dup is in both graphs
# (see SCREEN_ONTOLOGY_EXTRA): the union has it twice, but it is one value, below sh:minCount 2.
SCREEN_DATA = """\
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix ex: <http://example.org/> .

ex:o a ex:Other .
ex:ok a ex:Thing ; ex:a 1, 2 ; ex:b 1, 2 ; ex:c ex:v ; ex:d "a"@fr, "b"@en ; ex:e 1, 2 ; ex:f 5 ; ex:g "x" ;
    ex:h ex:o ; ex:i "12" .
ex:dup a ex:Thing ; ex:a 1 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 5 .
ex:few a ex:Thing ; ex:a 1 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 5 .
ex:many a ex:Thing ; ex:a 1, 2 ; ex:b 1, 2, 3 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 5 .
ex:novalue a ex:Thing ; ex:a 1, 2 ; ex:c ex:w ; ex:e 1, 2 ; ex:f 5 .
ex:lang a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:d "a"@fr, "b"@FR ; ex:e 1, 2 ; ex:f 5 .
ex:qmin a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, "x" ; ex:f 5 .
ex:qmax a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2, 3, 4 ; ex:f 5 .
ex:neg a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 ; ex:f -1 .
ex:twof a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 1, 2 .
ex:nof a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 .
ex:notin a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 5 ; ex:g "z" .
ex:class a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 5 ; ex:h ex:nothing .
ex:pattern a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 ; ex:f 5 ; ex:i "12", "x1" .
"""
# A suspect blank node cannot be named in a VALUES block: its shape is then checked on every focus node.
SCREEN_BLANK = """\
@prefix ex: <http://example.org/> .
[] a ex:Thing ; ex:a 1, 2 ; ex:c ex:v ; ex:e 1, 2 .
"""

SCREEN_ONTOLOGY_EXTRA = """\
@prefix ex: <http://example.org/> .
ex:dup ex:a 1 .
ex:ok ex:a 1 ; ex:f 5 .
"""


def _screen_graph(tmp_path: Path, *, blank: bool = False):
    (tmp_path / "shapes.ttl").write_text(SCREEN_SHAPES, encoding="utf-8")
    (tmp_path / "data.ttl").write_text(SCREEN_DATA + (SCREEN_BLANK if blank else ""), encoding="utf-8")
    (tmp_path / "extra.ttl").write_text(SCREEN_ONTOLOGY_EXTRA, encoding="utf-8")
    graph = load_graph([tmp_path / "data.ttl"], ontology=[*settings.ontology_files(), tmp_path / "extra.ttl"])
    return graph, tmp_path / "shapes.ttl"


def _store_results(graph, shapes_path: Path, **options) -> set[Key]:
    from citygraph.shacl_sparql import validate_store

    shapes = ShapesGraph.from_file(shapes_path)
    found = validate_store(graph.store, [graph.data_graph, graph.ontology_graph], shapes, **options)
    return {(_blank(v.focus) or "", v.path, v.constraint, _blank(v.source_shape) or "", _blank(v.value))
            for v in found}


def test_screen_misses_no_violation_of_counts_languages_and_values(tmp_path):
    graph, shapes_path = _screen_graph(tmp_path)
    screened = _store_results(graph, shapes_path)
    unscreened = _store_results(graph, shapes_path, screen=False)
    reference = {(_blank(v.focus) or "", v.path, v.constraint, _blank(v.source_shape) or "", _blank(v.value))
                 for v in run_pyshacl(graph, shapes_path)}
    assert screened == unscreened == reference
    broken = {focus.rsplit("/", 1)[-1] for focus, *_ in screened}
    assert broken == {"dup", "few", "many", "novalue", "lang", "qmin", "qmax", "neg", "twof", "nof", "notin",
                      "class", "pattern"}
    components = {k[2] for k in screened}
    assert {"MinCountConstraintComponent", "MaxCountConstraintComponent", "HasValueConstraintComponent",
            "UniqueLangConstraintComponent", "QualifiedMinCountConstraintComponent",
            "QualifiedMaxCountConstraintComponent", "MinInclusiveConstraintComponent", "InConstraintComponent",
            "ClassConstraintComponent", "PatternConstraintComponent"} <= components


def test_screen_with_more_suspects_than_the_limit(tmp_path, monkeypatch):
    from citygraph import shacl_sparql

    graph, shapes_path = _screen_graph(tmp_path)
    expected = _store_results(graph, shapes_path, screen=False)
    monkeypatch.setattr(shacl_sparql, "SUSPECTS_LIMIT", 2)  # every focus node checked, as without a screen
    assert _store_results(graph, shapes_path) == expected


def test_screen_with_a_blank_node_suspect(tmp_path):
    graph, shapes_path = _screen_graph(tmp_path, blank=True)
    screened = _store_results(graph, shapes_path)
    assert ("_:b", "http://example.org/f", "MinCountConstraintComponent", "_:b", None) in screened
    assert screened == _store_results(graph, shapes_path, screen=False)


@pytest.mark.parametrize("fixture", FIXTURES, ids=[f.stem for f in FIXTURES])
def test_screen_same_results_as_checking_every_focus_node(fixture):
    graph = load_graph([*fixture_data_files(), fixture])
    shapes = settings.shapes_file()
    screened = _store_results(graph, shapes)
    assert screened, f"{fixture.name} should fail"
    assert screened == _store_results(graph, shapes, screen=False)


# ---------------------------------------------------------------- the auto engine (the CLI's default)


def test_auto_runs_sparql_on_the_bundled_graph(run_cli):
    """With its ~600 member communes (14k triples) the bundled graph is above the threshold: pyshacl would take
    ~6 s, past `citygraph validate`'s 3 s target (bench/cli_speed.py)."""
    graph = load_graph()
    assert graph.triple_count() > shacl_sparql.AUTO_THRESHOLD
    assert validate_graph(graph, engine="auto").engine == "sparql"
    result = run_cli("validate", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert '"engine": "sparql"' in result.stdout


def test_auto_runs_pyshacl_on_a_small_graph():
    graph = load_graph(fixture_data_files())
    assert graph.triple_count() <= shacl_sparql.AUTO_THRESHOLD
    report = validate_graph(graph, engine="auto")
    assert report.engine == "pyshacl" and report.conforms


def test_auto_runs_sparql_above_the_threshold(monkeypatch):
    from citygraph import shacl_sparql

    monkeypatch.setattr(shacl_sparql, "AUTO_THRESHOLD", 100)
    report = validate_graph(load_graph(), engine="auto")
    assert report.engine == "sparql" and report.conforms


def test_auto_falls_back_to_pyshacl_on_shapes_it_cannot_compile(monkeypatch, tmp_path):
    from citygraph import shacl_sparql

    monkeypatch.setattr(shacl_sparql, "AUTO_THRESHOLD", 100)
    shapes = tmp_path / "closed.ttl"
    shapes.write_text(
        "@prefix sh: <http://www.w3.org/ns/shacl#> .\n@prefix ex: <http://example.org/> .\n"
        "ex:S a sh:NodeShape ; sh:targetClass ex:Thing ; sh:closed true .\n",
        encoding="utf-8",
    )
    assert validate_graph(load_graph(), engine="auto", shapes=shapes).engine == "pyshacl"
