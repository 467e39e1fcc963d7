"""The SHACL shapes: the bundled graph conforms, every shape speaks French and English, and every shape has a
failing example under tests/shapes/ that it catches — alone, with its own message."""

from __future__ import annotations

import re
from pathlib import Path

import pyoxigraph
import pytest
from support import fixture_data_files

from citygraph import settings
from citygraph.load import load_graph
from citygraph.namespaces import RDF, SH
from citygraph.validate import validate_graph

FIXTURES = Path(__file__).parent / "shapes"
CGSH = "https://w3id.org/citygraph/shapes#"
BREAKS = re.compile(r"^# breaks: cgsh:(\S+)$", re.MULTILINE)

# SHACL predicates that are not constraints of the shape that carries them.
NOT_CONSTRAINTS = {
    SH + name
    for name in (
        "targetClass",
        "targetNode",
        "targetSubjectsOf",
        "targetObjectsOf",
        "property",
        "message",
        "name",
        "description",
        "severity",
        "deactivated",
        "path",
        "order",
        "group",
    )
}


def _shapes() -> list[pyoxigraph.Triple]:
    return [
        q.triple
        for q in pyoxigraph.parse(path=str(settings.shapes_file()), format=pyoxigraph.RdfFormat.TURTLE)
    ]


def _messages(triples: list[pyoxigraph.Triple], shape: str) -> dict[str, str]:
    return {
        t.object.language or "": t.object.value
        for t in triples
        if t.subject == pyoxigraph.NamedNode(shape) and t.predicate.value == SH + "message"
    }


def _fixture_shape(path: Path) -> str:
    match = BREAKS.search(path.read_text(encoding="utf-8"))
    assert match, f"{path.name} has no '# breaks: cgsh:…' header"
    return CGSH + match.group(1)


FIXTURE_FILES = sorted(FIXTURES.glob("*.ttl"))


def test_bundled_graph_conforms() -> None:
    report = validate_graph(load_graph())
    assert report.violations == []
    assert report.conforms


def test_every_shape_has_one_french_and_one_english_message() -> None:
    triples = _shapes()
    shape_types = {SH + "NodeShape", SH + "PropertyShape"}
    shapes = {
        t.subject for t in triples if t.predicate.value == RDF + "type" and t.object.value in shape_types
    }
    shapes |= {t.object for t in triples if t.predicate.value == SH + "property"}
    named = {s for s in shapes if isinstance(s, pyoxigraph.NamedNode)}
    assert len(named) > 40
    for shape in sorted(named, key=str):
        languages = sorted(
            t.object.language or ""
            for t in triples
            if t.subject == shape and t.predicate.value == SH + "message"
        )
        assert languages == ["en", "fr"], f"{shape}: messages in {languages}"


def test_every_shape_has_a_failing_example() -> None:
    """Each targeted shape with a constraint of its own, and each property shape of one, has a fixture."""
    triples = _shapes()
    targeted = {t.subject for t in triples if t.predicate.value.startswith(SH + "target")}
    property_shapes = {
        t.object for t in triples if t.subject in targeted and t.predicate.value == SH + "property"
    }
    constrained = {
        t.subject
        for t in triples
        if t.subject in targeted
        and t.predicate.value.startswith(SH)
        and t.predicate.value not in NOT_CONSTRAINTS
    }
    expected = {s.value for s in property_shapes | constrained if isinstance(s, pyoxigraph.NamedNode)}
    covered = {_fixture_shape(path) for path in FIXTURE_FILES}
    assert expected - covered == set(), "shapes without a failing example under tests/shapes/"
    assert covered - expected == set(), "fixtures naming a shape that does not exist or is not used"


@pytest.mark.parametrize("fixture", FIXTURE_FILES, ids=[p.stem for p in FIXTURE_FILES])
def test_fixture_breaks_exactly_its_shape(fixture: Path) -> None:
    shape = _fixture_shape(fixture)
    expected_messages = _messages(_shapes(), shape)
    report = validate_graph(load_graph([*fixture_data_files(), fixture]))
    assert not report.conforms
    assert {v.source_shape for v in report.violations} == {shape}
    for violation in report.violations:
        assert violation.messages == expected_messages
        assert violation.severity == "Violation"
        if not violation.focus.startswith("_:"):
            assert violation.location is not None, violation


def test_fixture_alone_is_syntactically_valid_turtle() -> None:
    for fixture in FIXTURE_FILES:
        assert list(pyoxigraph.parse(path=str(fixture), format=pyoxigraph.RdfFormat.TURTLE)), fixture.name


def test_corsican_insee_codes_are_accepted(tmp_path: Path) -> None:
    """2A/2B codes are valid INSEE codes (the pattern is not just five digits)."""
    extra = tmp_path / "ajaccio.ttl"
    extra.write_text(
        """@base <https://w3id.org/citygraph/id/> .
@prefix cgo: <https://w3id.org/citygraph/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix prov: <http://www.w3.org/ns/prov#> .
@prefix geo: <http://www.w3.org/2003/01/geo/wgs84_pos#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
<commune/ajaccio> a cgo:Commune ;
    rdfs:label "Ajaccio"@fr ;
    cgo:inseeCode "2A004" ;
    geo:lat 41.9267 ; geo:long 8.7369 ;
    cgo:coordinatesSource "test" ;
    cgo:population <commune/angers/population/2014> ;
    owl:sameAs <http://www.wikidata.org/entity/Q40104> , <http://fr.dbpedia.org/resource/Ajaccio> ;
    prov:wasDerivedFrom <source/reference-authorities-2017> .
""",
        encoding="utf-8",
    )
    report = validate_graph(load_graph([*fixture_data_files(), extra]))
    assert report.conforms, report.to_text()
