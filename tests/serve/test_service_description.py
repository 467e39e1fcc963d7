"""The SPARQL 1.1 Service Description, checked by hand after the three tests of
../shared/conformance/sparql11-service-description/manifest.ttl (it names them; it has no checks)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import rdflib
from rdflib import RDF, Namespace, URIRef

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
MF = Namespace("http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#")
MANIFEST = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "conformance"
    / "sparql11-service-description"
    / "manifest.ttl"
)

# The SD vocabulary (https://www.w3.org/TR/sparql11-service-description/#vocab): properties and their ranges.
SD_PROPERTIES: dict[str, str | None] = {
    "endpoint": "iri",
    "feature": "Feature",
    "defaultEntailmentRegime": "iri",
    "entailmentRegime": "iri",
    "defaultSupportedEntailmentProfile": "iri",
    "supportedEntailmentProfile": "iri",
    "extensionFunction": "Function",
    "extensionAggregate": "Aggregate",
    "languageExtension": "iri",
    "supportedLanguage": "Language",
    "propertyFeature": "iri",
    "defaultDataset": "Dataset",
    "availableGraphs": "GraphCollection",
    "resultFormat": "iri",
    "inputFormat": "iri",
    "defaultGraph": "Graph",
    "namedGraph": "NamedGraph",
    "name": "iri",
    "graph": "Graph",
}
SD_CLASSES = {
    "Service",
    "Feature",
    "Language",
    "Function",
    "Aggregate",
    "EntailmentRegime",
    "EntailmentProfile",
    "GraphCollection",
    "Dataset",
    "Graph",
    "NamedGraph",
}
SD_INSTANCES = {
    "SPARQL10Query",
    "SPARQL11Query",
    "SPARQL11Update",
    "DereferencesURIs",
    "UnionDefaultGraph",
    "RequiresDataset",
    "EmptyGraphs",
    "BasicFederatedQuery",
}
FORMATS = {
    "text/turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/n-triples": "nt",
    "application/ld+json": "json-ld",
}


def test_manifest_names_three_tests() -> None:
    graph = rdflib.Graph().parse(MANIFEST, format="turtle")
    names = {str(t).rsplit("#", 1)[1] for t in graph.subjects(RDF.type, MF.ServiceDescriptionTest)}
    assert names == {"has-endpoint-triple", "returns-rdf", "conforms-to-schema"}


def description(server, accept: str | None = None) -> tuple[httpx.Response, rdflib.Graph]:  # type: ignore[no-untyped-def]
    response = httpx.get(server.sparql, headers={"accept": accept} if accept else {})
    media = response.headers["content-type"].split(";")[0]
    return response, rdflib.Graph().parse(data=response.content, format=FORMATS[media])


@pytest.mark.parametrize("accept", [None, *FORMATS])
def test_returns_rdf(live_server, accept: str | None) -> None:  # type: ignore[no-untyped-def]
    response, graph = description(live_server, accept)
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == (accept or "text/turtle")
    assert len(graph) > 10


def test_has_endpoint_triple(live_server) -> None:  # type: ignore[no-untyped-def]
    _, graph = description(live_server)
    services = list(graph.subjects(RDF.type, SD.Service))
    assert len(services) == 1
    assert graph.value(services[0], SD.endpoint) == URIRef(live_server.sparql)


def test_conforms_to_schema(live_server) -> None:  # type: ignore[no-untyped-def]
    _, graph = description(live_server)
    for _, p, o in graph:
        if str(p).startswith(str(SD)):
            name = str(p)[len(str(SD)) :]
            assert name in SD_PROPERTIES, f"sd:{name} is not in the SD vocabulary"
            expected = SD_PROPERTIES[name]
            if expected == "iri":
                assert isinstance(o, URIRef), (p, o)
            elif expected in ("Feature", "Language"):
                assert str(o).startswith(str(SD)) and str(o)[len(str(SD)) :] in SD_INSTANCES, (p, o)
            elif expected:
                assert (o, RDF.type, SD[expected]) in graph, f"sd:{name} object {o} must be a sd:{expected}"
        if p == RDF.type and str(o).startswith(str(SD)):
            assert str(o)[len(str(SD)) :] in SD_CLASSES
    service = next(graph.subjects(RDF.type, SD.Service))
    assert (service, SD.supportedLanguage, SD.SPARQL11Query) in graph
    assert (service, SD.supportedLanguage, SD.SPARQL11Update) not in graph  # read-only


def test_lists_the_served_graphs(live_server) -> None:  # type: ignore[no-untyped-def]
    _, graph = description(live_server)
    names = {str(o) for o in graph.objects(None, SD.name)}
    assert names == {"https://w3id.org/citygraph/graph/data", "https://w3id.org/citygraph/graph/ontology"}
