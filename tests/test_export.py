"""`citygraph export`: every dump, gzip twins, checksums, determinism, atomicity and round trips."""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from pathlib import Path
from typing import Any

import pyoxigraph
import pytest
import rdflib
from pyld import jsonld as pyld_jsonld
from rdflib.compare import isomorphic
from support import cli_error

from citygraph import export as export_module
from citygraph import jsonld
from citygraph.load import load_graph
from citygraph.namespaces import DEFAULT_BASE
from citygraph.query import run_named_query

OWL_SAME_AS = rdflib.OWL.sameAs
RDF_DUMPS = ("citygraph-data.jsonld", "citygraph-data.ttl", "citygraph-data.nt", "citygraph-data.nq")
CSV_FILES = ("authorities.csv", "leads.csv", "initiatives.csv")


def expected_files() -> set[str]:
    dumps = {*RDF_DUMPS, *CSV_FILES}
    return dumps | {name + ".gz" for name in dumps} | {
        "context.jsonld", "catalog.ttl", "catalog.jsonld", "catalog-udata.ttl", "void.ttl", "SHA256SUMS"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One full export of the bundled graph (in process), shared by the read-only tests of this module."""
    out = tmp_path_factory.mktemp("dist")
    export_module.export(load_graph(), out, "all")
    return out


def offline_loader(shipped: dict[str, Path]) -> Any:
    """A pyld document loader that serves shipped files by IRI and refuses the network."""

    def load(url: str, options: Any = None) -> dict[str, Any]:
        if url in shipped:
            return {"contextUrl": None, "documentUrl": url,
                    "document": json.loads(shipped[url].read_text(encoding="utf-8"))}
        raise AssertionError(f"pyld tried to fetch {url}: the dump must read offline")

    return load


def pyld_graph(document: Any, loader: Any) -> rdflib.Graph:
    nquads = pyld_jsonld.to_rdf(document, {"format": "application/n-quads", "documentLoader": loader})
    graph = rdflib.Graph()
    graph.parse(data=nquads, format="nt")
    return graph


def parse(path: Path, fmt: str) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(path, format=fmt)
    return graph


# ---------------------------------------------------------------- files, checksums, determinism


def test_cli_export_all_writes_every_file_twice_identically(run_cli: Any, tmp_path: Path) -> None:
    first, second = tmp_path / "one", tmp_path / "two"
    for out in (first, second):
        done = run_cli("export", "--format", "all", "--out", str(out))
        assert done.returncode == 0, done.stderr
    names = {p.name for p in first.iterdir()}
    assert names == expected_files()
    assert {p.name for p in second.iterdir()} == names
    for name in sorted(names):
        assert (first / name).read_bytes() == (second / name).read_bytes(), f"{name} differs between runs"


def test_checksums_file_lists_every_file_with_its_sha256(dist: Path) -> None:
    lines = (dist / "SHA256SUMS").read_text(encoding="ascii").splitlines()
    listed = {}
    for line in lines:
        digest, name = line.split("  ", 1)
        listed[name] = digest
    assert set(listed) == expected_files() - {"SHA256SUMS"}
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name


@pytest.mark.parametrize("name", [*RDF_DUMPS, *CSV_FILES])
def test_gzip_twin_is_deterministic_and_holds_the_same_bytes(dist: Path, name: str) -> None:
    packed = (dist / (name + ".gz")).read_bytes()
    assert gzip.decompress(packed) == (dist / name).read_bytes()
    flags, mtime = packed[3], int.from_bytes(packed[4:8], "little")
    assert mtime == 0
    assert not flags & 0x08, "the gzip header must not carry a file name"


def test_no_temporary_files_left(dist: Path) -> None:
    assert not [p for p in dist.iterdir() if p.name.startswith(".") or p.suffix == ".tmp"]


# ---------------------------------------------------------------- round trips


def test_jsonld_expanded_offline_by_pyld_is_isomorphic_to_turtle(dist: Path) -> None:
    turtle = parse(dist / "citygraph-data.ttl", "turtle")
    document = json.loads((dist / "citygraph-data.jsonld").read_text(encoding="utf-8"))
    assert isinstance(document["@context"], dict), "the context must be embedded"
    loader = offline_loader({})
    assert isomorphic(pyld_graph(document, loader), turtle)
    assert len(turtle) == load_graph().triple_count()


def test_jsonld_with_the_published_context_iri_reads_with_the_shipped_file(dist: Path) -> None:
    """Referencing ``{base}context.jsonld`` instead of embedding gives the same graph, served from dist/."""
    document = json.loads((dist / "citygraph-data.jsonld").read_text(encoding="utf-8"))
    context_iri = DEFAULT_BASE + "context.jsonld"
    document["@context"] = context_iri
    loader = offline_loader({context_iri: dist / "context.jsonld"})
    assert isomorphic(pyld_graph(document, loader), parse(dist / "citygraph-data.ttl", "turtle"))


def test_jsonld_parsed_by_rdflib_is_isomorphic_to_turtle(dist: Path) -> None:
    from_jsonld = parse(dist / "citygraph-data.jsonld", "json-ld")
    assert isomorphic(from_jsonld, parse(dist / "citygraph-data.ttl", "turtle"))


def test_ntriples_is_isomorphic_to_turtle(dist: Path) -> None:
    assert isomorphic(parse(dist / "citygraph-data.nt", "nt"), parse(dist / "citygraph-data.ttl", "turtle"))


def test_nquads_holds_data_and_ontology_in_their_named_graphs(dist: Path, repo_root: Path) -> None:
    dataset = rdflib.Dataset()
    dataset.parse(dist / "citygraph-data.nq", format="nquads")
    names = {str(g.identifier) for g in dataset.graphs() if len(g)}
    assert names == {DEFAULT_BASE + "graph/data", DEFAULT_BASE + "graph/ontology"}
    data = dataset.graph(rdflib.URIRef(DEFAULT_BASE + "graph/data"))
    ontology = dataset.graph(rdflib.URIRef(DEFAULT_BASE + "graph/ontology"))
    assert isomorphic(data, parse(dist / "citygraph-data.ttl", "turtle"))
    assert isomorphic(ontology, parse(repo_root / "ontology" / "citygraph.ttl", "turtle"))


@pytest.mark.parametrize(("filename", "query"), [
    ("authorities.csv", "authorities-by-kind"),
    ("leads.csv", "leads-and-posts"),
    ("initiatives.csv", "initiatives-by-theme"),
])
def test_csv_rows_match_the_named_query(dist: Path, filename: str, query: str) -> None:
    with open(dist / filename, encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    result = run_named_query(load_graph(), query)
    assert rows[0] == result.variables
    expected = [[value or "" for value in values]
                for values in zip(*(result.values(v) for v in result.variables), strict=True)]
    assert rows[1:] == expected
    assert len(rows) > 1


def test_authorities_csv_has_the_24_authorities(dist: Path, shared_dir: Path) -> None:
    with open(shared_dir / "reference" / "authorities-2017.tsv", encoding="utf-8") as handle:
        sirens = {row["siren"] for row in csv.DictReader(handle, delimiter="\t")}
    with open(dist / "authorities.csv", encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(sirens) == 24
    assert {row["siren"] for row in table} == sirens


# ---------------------------------------------------------------- what the JSON-LD looks like


def test_jsonld_is_readable_with_language_maps_and_sameas(dist: Path, repo_root: Path) -> None:
    document = json.loads((dist / "citygraph-data.jsonld").read_text(encoding="utf-8"))
    nodes = {node["@id"]: node for node in document["@graph"]}
    links = parse(repo_root / "data" / "wikidata-links.ttl", "turtle")
    linked = {str(s): str(o) for s, o in links.subject_objects(OWL_SAME_AS)}
    assert linked, "the bundled graph has confirmed Wikidata links"
    for iri, item in linked.items():
        assert nodes[iri].get("sameAs") == item, iri
    without = [n for n in nodes.values() if "sameAs" in n and n["@id"] not in linked]
    assert without == []
    authorities = [n for n in nodes.values() if "LocalAuthority" in n.get("@type", [])]
    assert len(authorities) == 24
    for node in authorities:
        assert set(node["label"]) == {"fr", "en"}, node["@id"]
        assert node["kind"].startswith(DEFAULT_BASE + "id/kind/")
        assert len(node["siren"]) == 9
        assert node["seat"].startswith(DEFAULT_BASE + "id/")
    communes = [n for n in nodes.values() if "Commune" in n.get("@type", [])]
    assert all(len(n["inseeCode"]) == 5 for n in communes)
    # every seat commune that has a confirmed item carries it
    seats = {n["seat"] for n in authorities}
    assert {s for s in seats if s in linked} <= {n["@id"] for n in communes if "sameAs" in n}


def test_context_has_a_term_for_every_predicate_of_the_data(dist: Path) -> None:
    context = jsonld.Context(json.loads((dist / "context.jsonld").read_text(encoding="utf-8")))
    predicates = {str(p) for p in parse(dist / "citygraph-data.nt", "nt").predicates()}
    missing = sorted(p for p in predicates if p not in context.by_iri and p != str(rdflib.RDF.type))
    assert missing == []


def _roundtrip(context: jsonld.Context, ntriples: str) -> tuple[rdflib.Graph, rdflib.Graph]:
    lines = sorted(line for line in ntriples.strip().splitlines())
    triples = [q.triple for q in pyoxigraph.parse("\n".join(lines), format=pyoxigraph.RdfFormat.N_TRIPLES)]
    out = io.StringIO()
    jsonld.write(out, context, triples)
    expected = rdflib.Graph()  # the writer's input as pyoxigraph read it (language tags in lower case)
    expected.parse(data=pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES), format="nt")
    return pyld_graph(json.loads(out.getvalue()), offline_loader({})), expected


def test_writer_keeps_values_that_do_not_fit_their_term(repo_root: Path) -> None:
    context_file = repo_root / "ontology" / "context.jsonld"
    context = jsonld.Context(json.loads(context_file.read_text(encoding="utf-8")))
    xsd = "http://www.w3.org/2001/XMLSchema#"
    cgo = "https://w3id.org/citygraph/ontology#"
    s = "<https://w3id.org/citygraph/id/authority/x>"
    ntriples = "\n".join([
        f'{s} <http://www.w3.org/2000/01/rdf-schema#label> "no language" .',
        f'{s} <http://www.w3.org/2000/01/rdf-schema#label> "Ville"@fr .',
        f'{s} <http://www.w3.org/2000/01/rdf-schema#label> "Town"@en-GB .',
        f'{s} <{cgo}seat> "a literal where an IRI is expected" .',
        f'{s} <{cgo}seat> _:b1 .',
        f'_:b1 <{cgo}inseeCode> "2A004" .',
        f'{s} <{cgo}inhabitants> "007"^^<http://www.w3.org/2001/XMLSchema#integer> .',
        f'{s} <{cgo}inhabitants> "-12"^^<http://www.w3.org/2001/XMLSchema#integer> .',
        f'{s} <{cgo}isOfficialTotal> "1"^^<http://www.w3.org/2001/XMLSchema#boolean> .',
        f'{s} <{cgo}isOfficialTotal> "false"^^<http://www.w3.org/2001/XMLSchema#boolean> .',
        f'{s} <{cgo}claimedPercentage> "83.5"^^<http://www.w3.org/2001/XMLSchema#decimal> .',
        f'{s} <http://www.w3.org/2003/01/geo/wgs84_pos#lat> "47.5"^^<{xsd}double> .',
        f'{s} <http://example.org/unknown#p> <http://example.org/o> .',
        f'{s} <http://example.org/unknown#p> "tab\\t and \\"quotes\\"" .',
        f'{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://example.org/SomeClass> .',
        f'{s} <{cgo}asOf> "2017-02"^^<http://www.w3.org/2001/XMLSchema#gYearMonth> .',
    ]) + "\n"
    got, expected = _roundtrip(context, ntriples)
    assert isomorphic(got, expected)


def test_custom_base_moves_the_resources_keeps_the_vocabulary_and_readable_keys(tmp_path: Path) -> None:
    base = "http://example.org/cg/"
    export_module.export(load_graph(base=base), tmp_path, "jsonld")
    document = json.loads((tmp_path / "citygraph-data.jsonld").read_text(encoding="utf-8"))
    assert document["@context"]["cgo"] == "https://w3id.org/citygraph/ontology#"
    assert all(n["@id"].startswith(base) for n in document["@graph"] if n.get("@type") == "LocalAuthority")
    authorities = [n for n in document["@graph"] if n.get("@type") == "LocalAuthority"]
    assert authorities and all("siren" in n and "label" in n for n in authorities)
    expected = rdflib.Graph()
    graph = load_graph(base=base)
    payload = graph.store.dump(format=pyoxigraph.RdfFormat.N_TRIPLES,
                               from_graph=pyoxigraph.NamedNode(graph.data_graph))
    expected.parse(data=payload.decode(), format="nt")
    assert isomorphic(pyld_graph(document, offline_loader({})), expected)
    assert {p.name for p in tmp_path.iterdir()} == {"citygraph-data.jsonld", "citygraph-data.jsonld.gz",
                                                    "context.jsonld", "SHA256SUMS"}


# ---------------------------------------------------------------- atomicity and errors


def test_failure_midway_leaves_previous_files_untouched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export_module.export(load_graph(), tmp_path, "all")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken_turtle(out: Any, triples: Any, base: str) -> None:
        out.write(b"@prefix half: <http://example.org/> .\nhalf:written ")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export_module, "_write_turtle", broken_turtle)
    with pytest.raises(OSError, match="No space left"):
        export_module.export(load_graph(), tmp_path, "all")
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert after == before  # same names (no temporary file left), same bytes


def test_unwritable_output_is_a_clear_error(run_cli: Any, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("x")
    done = run_cli("export", "--format", "nt", "--out", str(blocker / "dist"))
    assert done.returncode == 2
    assert "not-a-directory" in cli_error(done.stderr)
    assert "Traceback" not in done.stderr


def test_single_format_export_writes_only_that_dump(run_cli: Any, tmp_path: Path) -> None:
    done = run_cli("export", "--format", "ttl", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    written = {p.name for p in tmp_path.iterdir()}
    assert written == {"citygraph-data.ttl", "citygraph-data.ttl.gz", "SHA256SUMS"}
