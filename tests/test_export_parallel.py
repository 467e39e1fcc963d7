"""`citygraph export` in child processes (the path large graphs take) gives the same bytes as in one process;
the dumps do not depend on the store's order; the line-based JSON-LD writer keeps every literal exactly."""

from __future__ import annotations

import io
import json
import os
import signal
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest

from citygraph import export as export_module
from citygraph import jsonld
from citygraph.errors import CitygraphError
from citygraph.load import load_graph
from citygraph.settings import data_files

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="child processes need os.fork")


def contents(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_child_processes_write_the_same_bytes_as_one_process(tmp_path: Path) -> None:
    graph = load_graph()
    one, two = tmp_path / "one", tmp_path / "two"
    export_module.export(graph, one, "all", processes=1)
    report = export_module.export(graph, two, "all", processes=2)
    assert contents(one) == contents(two)
    assert {f.name for f in report.files} == set(contents(two))


def test_dumps_do_not_depend_on_the_order_the_store_was_loaded_in(tmp_path: Path) -> None:
    files = data_files()
    assert len(files) > 1
    forward, backward = tmp_path / "forward", tmp_path / "backward"
    first, second = load_graph(files), load_graph(list(reversed(files)))
    name = pyoxigraph.NamedNode(first.data_graph)
    dumps = [g.store.dump(format=pyoxigraph.RdfFormat.N_TRIPLES, from_graph=name) for g in (first, second)]
    assert dumps[0] != dumps[1], "the store lists quads in load order: the export must not rely on it"
    export_module.export(first, forward, "all", processes=1)
    export_module.export(second, backward, "all", processes=2)
    assert contents(forward) == contents(backward)


def test_an_error_in_a_child_is_raised_and_leaves_the_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = load_graph()
    export_module.export(graph, tmp_path, "all", processes=1)
    before = contents(tmp_path)

    def broken_turtle(out: Any, triples: Any, base: str) -> None:
        out.write(b"@prefix half: <http://example.org/> .\n")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_write_turtle", broken_turtle)
    with pytest.raises(OSError, match="No space left"):
        export_module.export(graph, tmp_path, "all", processes=2)
    assert contents(tmp_path) == before  # same names (no temporary file left), same bytes


def test_a_child_that_dies_is_reported_and_leaves_the_previous_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    graph = load_graph()
    export_module.export(graph, tmp_path, "all", processes=1)
    before = contents(tmp_path)

    def killed(*args: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    monkeypatch.setattr(export_module, "_turtle_part", killed)
    with pytest.raises(CitygraphError, match=r"citygraph-data\.ttl.*signal 9"):
        export_module.export(graph, tmp_path, "all", processes=2)
    assert contents(tmp_path) == before


LITERALS = [
    "plain", "", "tab\t quote\" backslash\\ newline\n return\r", "backspace\b formfeed\f",
    "control \x01 \x1f delete \x7f", "accents éà ß 中文", "astral \U0001f600", "a backslash then u: \\u0041",
    "line separator \u2028",
]


@pytest.mark.parametrize("language", [None, "fr"])
def test_json_ld_writer_keeps_every_literal_exactly(language: str | None, repo_root: Path) -> None:
    """The writer copies N-Triples escapes into JSON: json.loads must give back each literal's value."""
    context = jsonld.Context(json.loads((repo_root / "ontology" / "context.jsonld").read_text(encoding="utf-8")))
    subject = pyoxigraph.NamedNode("https://w3id.org/citygraph/id/authority/x")
    predicate = pyoxigraph.NamedNode(
        "http://www.w3.org/2000/01/rdf-schema#label" if language else "http://xmlns.com/foaf/0.1/name")
    triples = [pyoxigraph.Triple(subject, predicate, pyoxigraph.Literal(text, language=language))
               for text in LITERALS]
    payload = pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES)
    assert payload is not None
    out = io.BytesIO()
    jsonld.write_ntriples(out, context, sorted(payload.splitlines(keepends=True)))
    text = out.getvalue().decode("utf-8")
    (node,) = json.loads(text)["@graph"]
    values = node["label"]["fr"] if language else node["name"]
    assert sorted(values) == sorted(LITERALS)
    # byte for byte what json.dumps writes for the same node (the previous, object-based writer's output)
    assert json.dumps(node, ensure_ascii=False, separators=(",", ":")) in text


def test_void_figures_counted_while_writing_equal_sparql_counts(tmp_path: Path) -> None:
    """The JSON-LD writer's figures (and the Wikidata links found in the text) against SPARQL counts, on data
    with blank nodes, a literal rdf:type, and a literal holding the text of a Wikidata link."""
    from citygraph import catalog

    data = tmp_path / "tricky.ttl"
    data.write_text("""
@prefix cgo: <https://w3id.org/citygraph/ontology#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<https://w3id.org/citygraph/id/commune/a> a cgo:Commune ; owl:sameAs <http://www.wikidata.org/entity/Q1> ;
    rdfs:comment "x <http://www.w3.org/2002/07/owl#sameAs> <http://www.wikidata.org/entity/Q9> ." ;
    cgo:seat [ a cgo:Commune ; owl:sameAs <http://www.wikidata.org/entity/Q1> ] .
<https://w3id.org/citygraph/id/commune/b> a "not a class IRI" ; owl:sameAs <http://example.org/not-wikidata> ;
    cgo:seat <https://w3id.org/citygraph/id/commune/a> .
""", encoding="utf-8")
    graph = load_graph([data])
    out = tmp_path / "dist"
    export_module.export(graph, out, "all", processes=1)
    expected = catalog.statistics(graph)
    assert expected.wikidata_links == 2 and expected.classes == 2 and expected.entities == 2
    void = pyoxigraph.Store()
    void.load(path=str(out / "void.ttl"), format=pyoxigraph.RdfFormat.TURTLE)
    void_ns = "http://rdfs.org/ns/void#"
    dataset = pyoxigraph.NamedNode(graph.base + "catalog#dataset")
    linkset = pyoxigraph.NamedNode(graph.base + "catalog#wikidata-links")

    def figure(subject: Any, name: str) -> int:
        (quad,) = void.quads_for_pattern(subject, pyoxigraph.NamedNode(void_ns + name), None)
        return int(quad.object.value)

    assert figure(dataset, "triples") == expected.triples
    assert figure(dataset, "entities") == expected.entities
    assert figure(dataset, "classes") == expected.classes
    assert figure(dataset, "properties") == expected.properties
    assert figure(dataset, "distinctSubjects") == expected.distinct_subjects
    assert figure(dataset, "distinctObjects") == expected.distinct_objects
    assert figure(linkset, "triples") == expected.wikidata_links
