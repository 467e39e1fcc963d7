"""The DCAT-AP 3.0.1 catalogue and the VoID description written by `citygraph export --format all`."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pyshacl
import pytest
import rdflib
from rdflib import RDF, RDFS, XSD, Literal, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, SH, VOID

from citygraph import catalog
from citygraph import export as export_module
from citygraph.load import load_graph
from citygraph.namespaces import DEFAULT_BASE, ETALAB_2_0

SPDX = rdflib.Namespace("http://spdx.org/rdf/terms#")
IANA = "https://www.iana.org/assignments/media-types/"
BASE = DEFAULT_BASE
DATASET = URIRef(BASE + "catalog#dataset")


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    export_module.export(load_graph(), out, "all")
    return out


@pytest.fixture(scope="module")
def catalog_graph(dist: Path) -> rdflib.Graph:
    graph = rdflib.Graph()
    graph.parse(dist / "catalog.ttl", format="turtle")
    return graph


@pytest.fixture(scope="module")
def dcat_ap_shapes(shared_dir: Path) -> rdflib.Graph:
    """DCAT-AP 3.0.1 shapes and range shapes, read from ../shared/ (owl:imports not followed).

    The released files reference five property shapes (by IRI, from ``sh:property``) that neither file
    defines; pyshacl refuses such dangling references, so they are dropped here. Every defined shape is kept.
    """
    folder = shared_dir / "conformance" / "dcat-ap-3.0.1"
    shapes = rdflib.Graph()
    shapes.parse(folder / "dcat-ap-SHACL.ttl", format="turtle")
    shapes.parse(folder / "ranges.ttl", format="turtle")
    dangling = [(s, o) for s, o in shapes.subject_objects(SH.property) if (o, None, None) not in shapes]
    assert len(dangling) <= 5, "the shapes changed: re-check the dangling references"
    for s, o in dangling:
        shapes.remove((s, SH.property, o))
    return shapes


def violations(data: rdflib.Graph, shapes: rdflib.Graph) -> list[str]:
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes, inference="none", do_owl_imports=False,
                                    allow_warnings=True)
    found = []
    for result in report.subjects(RDF.type, SH.ValidationResult):
        if report.value(result, SH.resultSeverity) == SH.Violation:
            found.append(f"{report.value(result, SH.focusNode)} {report.value(result, SH.resultPath)}: "
                         f"{report.value(result, SH.resultMessage)}")
    return found


def test_catalogue_conforms_to_dcat_ap_3_0_1(
    catalog_graph: rdflib.Graph, dcat_ap_shapes: rdflib.Graph
) -> None:
    assert violations(catalog_graph, dcat_ap_shapes) == []


def test_the_shapes_do_catch_a_broken_catalogue(
    catalog_graph: rdflib.Graph, dcat_ap_shapes: rdflib.Graph
) -> None:
    broken = rdflib.Graph()
    for triple in catalog_graph:
        broken.add(triple)
    broken.remove((DATASET, DCTERMS.title, None))  # mandatory
    first = next(broken.subjects(RDF.type, DCAT.Distribution))
    broken.remove((first, DCAT.accessURL, None))  # mandatory
    found = violations(broken, dcat_ap_shapes)
    assert any(str(DCTERMS.title) in v for v in found)
    assert any(str(DCAT.accessURL) in v for v in found)


def test_catalogue_jsonld_is_the_same_graph_as_turtle(dist: Path, catalog_graph: rdflib.Graph) -> None:
    from_jsonld = rdflib.Graph()
    from_jsonld.parse(dist / "catalog.jsonld", format="json-ld")
    assert isomorphic(from_jsonld, catalog_graph)


def test_each_distribution_matches_its_file(dist: Path, catalog_graph: rdflib.Graph) -> None:
    distributions = set(catalog_graph.objects(DATASET, DCAT.distribution))
    described = {}
    for distribution in distributions:
        url = str(catalog_graph.value(distribution, DCAT.downloadURL))
        assert url.startswith(BASE + "dumps/")
        assert catalog_graph.value(distribution, DCAT.accessURL) == URIRef(url)
        described[url.rsplit("/", 1)[1]] = distribution
    dumps = {p.name for p in dist.iterdir()
             if p.name.startswith(("citygraph-data.", "authorities.", "leads.", "initiatives."))}
    assert set(described) == dumps
    for name, distribution in described.items():
        payload = (dist / name).read_bytes()
        size = catalog_graph.value(distribution, DCAT.byteSize)
        assert size == Literal(str(len(payload)), datatype=XSD.nonNegativeInteger)
        checksum = catalog_graph.value(distribution, SPDX.checksum)
        assert catalog_graph.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert str(catalog_graph.value(checksum, SPDX.checksumValue)) == hashlib.sha256(payload).hexdigest()
        media_type = str(catalog_graph.value(distribution, DCAT.mediaType))
        assert media_type.startswith(IANA)
        if name.endswith(".gz"):
            assert catalog_graph.value(distribution, DCAT.compressFormat) == URIRef(IANA + "application/gzip")
        assert catalog_graph.value(distribution, DCTERMS.license) == URIRef(ETALAB_2_0)
    assert str(catalog_graph.value(described["citygraph-data.ttl"], DCAT.mediaType)) == IANA + "text/turtle"
    assert str(catalog_graph.value(described["authorities.csv"], DCAT.mediaType)) == IANA + "text/csv"


def test_dataset_metadata(catalog_graph: rdflib.Graph, repo_root: Path) -> None:
    g = catalog_graph
    assert (DATASET, RDF.type, DCAT.Dataset) in g
    assert g.value(DATASET, DCTERMS.identifier) is not None
    assert {w.language for w in g.objects(DATASET, DCAT.keyword)} == {"fr", "en"}
    assert {t.language for t in g.objects(DATASET, DCTERMS.title)} == {"fr", "en"}
    assert (URIRef(ETALAB_2_0), RDF.type, DCTERMS.LicenseDocument) in g
    publisher = g.value(DATASET, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in g and g.value(publisher, FOAF.name) is not None
    period = g.value(DATASET, DCTERMS.temporal)
    assert g.value(period, DCAT.startDate).toPython() == dt.date(2017, 2, 1)
    assert g.value(period, DCAT.endDate).toPython() == dt.date(2017, 2, 28)
    assert g.value(DATASET, DCTERMS.spatial) == URIRef("http://publications.europa.eu/resource/authority/country/FRA")
    service = next(g.subjects(RDF.type, DCAT.DataService))
    assert g.value(service, DCAT.endpointURL) == URIRef(BASE + "sparql")
    assert (service, DCAT.servesDataset, DATASET) in g
    ontology = rdflib.Graph()
    ontology.parse(repo_root / "ontology" / "citygraph.ttl", format="turtle")
    onto = next(ontology.subjects(RDF.type, OWL.Ontology))
    assert g.value(DATASET, DCTERMS.issued) == ontology.value(onto, DCTERMS.created)
    assert g.value(DATASET, DCTERMS.modified) == ontology.value(onto, DCTERMS.modified)


def test_source_date_epoch_sets_modified(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(int(dt.datetime(2030, 5, 17, 12, tzinfo=dt.UTC).timestamp())))
    assert catalog.catalog_dates(load_graph()).modified == dt.date(2030, 5, 17)


def test_void_figures_and_wikidata_linkset(dist: Path, repo_root: Path) -> None:
    void = rdflib.Graph()
    void.parse(dist / "void.ttl", format="turtle")
    data = rdflib.Graph()
    data.parse(dist / "citygraph-data.nt", format="nt")

    def figure(subject: URIRef, predicate: URIRef) -> int:
        return int(void.value(subject, predicate))

    assert figure(DATASET, VOID.triples) == len(data)
    assert figure(DATASET, VOID.properties) == len(set(data.predicates()))
    assert figure(DATASET, VOID.classes) == len(set(data.objects(None, RDF.type)))
    assert figure(DATASET, VOID.entities) == len({s for s in data.subjects() if isinstance(s, URIRef)})
    assert void.value(DATASET, VOID.sparqlEndpoint) == URIRef(BASE + "sparql")
    dumps = {str(o) for o in void.objects(DATASET, VOID.dataDump)}
    assert BASE + "dumps/citygraph-data.ttl" in dumps and BASE + "dumps/citygraph-data.nt.gz" in dumps
    links = rdflib.Graph()
    links.parse(repo_root / "data" / "wikidata-links.ttl", format="turtle")
    linkset = next(void.subjects(RDF.type, VOID.Linkset))
    assert void.value(linkset, VOID.linkPredicate) == OWL.sameAs
    assert figure(linkset, VOID.triples) == len(list(links.subject_objects(OWL.sameAs))) > 0


def test_udata_profile_differs_only_in_the_checksum_datatype(dist: Path, catalog_graph: rdflib.Graph) -> None:
    """``catalog-udata.ttl`` is the catalogue with each checksum value as a plain string (udata 17.18 stores the
    ``xsd:hexBinary`` literal as bytes and refuses the dataset); nothing else differs."""
    udata = rdflib.Graph()
    udata.parse(dist / "catalog-udata.ttl", format="turtle")
    values = list(udata.objects(None, SPDX.checksumValue))
    assert len(values) == 14 and all(v.datatype in (None, XSD.string) and isinstance(v.toPython(), str)
                                     for v in values)
    retyped = rdflib.Graph()
    for s, p, o in udata:
        retyped.add((s, p, Literal(str(o), datatype=XSD.hexBinary) if p == SPDX.checksumValue else o))
    assert isomorphic(retyped, catalog_graph)


def test_udata_profile_breaks_dcat_ap_only_on_checksum_datatypes(dist: Path, dcat_ap_shapes: rdflib.Graph) -> None:
    udata = rdflib.Graph()
    udata.parse(dist / "catalog-udata.ttl", format="turtle")
    found = violations(udata, dcat_ap_shapes)
    assert len(found) == 14 and all(str(SPDX.checksumValue) in v for v in found)


def test_what_harvesters_read_inline(catalog_graph: rdflib.Graph, shared_dir: Path) -> None:
    """What udata and CKAN need from the catalogue itself (they harvest it; see tests/serve/test_harvesters.py)."""
    g = catalog_graph
    period = g.value(DATASET, DCTERMS.temporal)
    assert isinstance(period, rdflib.BNode), "a named period is dereferenced by udata, not read here"
    assert (period, RDF.type, DCTERMS.PeriodOfTime) in g
    frequency = g.value(DATASET, DCTERMS.accrualPeriodicity)
    assert str(frequency).startswith("http://publications.europa.eu/resource/authority/frequency/")
    spatial = set(g.objects(DATASET, DCTERMS.spatial))
    assert URIRef("http://publications.europa.eu/resource/authority/country/FRA") in spatial
    [box] = [s for s in spatial if isinstance(s, rdflib.BNode)]
    bbox = g.value(box, DCAT.bbox)
    assert bbox.datatype == URIRef("http://www.opengis.net/ont/geosparql#wktLiteral")
    assert str(bbox).startswith("POLYGON((")
    assert {label.language for label in g.objects(box, rdflib.SKOS.prefLabel)} == {"fr", "en"}
    vcard = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
    contact = g.value(DATASET, DCAT.contactPoint)
    assert g.value(contact, vcard.hasURL) == URIRef(BASE) and g.value(contact, vcard.hasEmail) is None
    licences = json.loads((shared_dir / "reference" / "datagouv-licenses.json").read_text(encoding="utf-8"))
    lov2 = next(entry for entry in licences if entry["id"] == "lov2")
    known = {lov2["title"], *lov2["alternate_titles"]}
    assert {str(label) for label in g.objects(URIRef(ETALAB_2_0), RDFS.label)} <= known
    assert str(g.value(URIRef(ETALAB_2_0), DCTERMS.title)) == lov2["title"]
    for distribution in g.objects(DATASET, DCAT.distribution):
        assert {d.language for d in g.objects(distribution, DCTERMS.description)} == {"fr", "en"}
    service = next(g.subjects(RDF.type, DCAT.DataService))
    assert g.value(service, DCTERMS.identifier) is not None
    assert g.value(service, DCAT.endpointDescription) == URIRef(BASE + "sparql")
    assert g.value(service, DCAT.landingPage) == URIRef(BASE + "query")
