"""Namespace IRIs and prefixes, declared once for the whole package."""

from __future__ import annotations

DEFAULT_BASE = "https://w3id.org/citygraph/"

CGO = DEFAULT_BASE + "ontology#"
ORG = "http://www.w3.org/ns/org#"
FOAF = "http://xmlns.com/foaf/0.1/"
SCHEMA = "https://schema.org/"
SKOS = "http://www.w3.org/2004/02/skos/core#"
DCT = "http://purl.org/dc/terms/"
DCAT = "http://www.w3.org/ns/dcat#"
PROV = "http://www.w3.org/ns/prov#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
RDFS = "http://www.w3.org/2000/01/rdf-schema#"
OWL = "http://www.w3.org/2002/07/owl#"
XSD = "http://www.w3.org/2001/XMLSchema#"
SH = "http://www.w3.org/ns/shacl#"
WGS84 = "http://www.w3.org/2003/01/geo/wgs84_pos#"
VOID = "http://rdfs.org/ns/void#"
SPDX = "http://spdx.org/rdf/terms#"
VCARD = "http://www.w3.org/2006/vcard/ns#"
WD = "http://www.wikidata.org/entity/"

JDN_SURVEY = "http://www.journaldunet.com/economie/services/1176221-smart-city-france/"
ETALAB_2_0 = "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"

# Prefixes used when writing Turtle and in SPARQL headers; the data prefix follows the base.
PREFIXES: dict[str, str] = {
    "cgo": CGO,
    "org": ORG,
    "foaf": FOAF,
    "schema": SCHEMA,
    "skos": SKOS,
    "dct": DCT,
    "dcat": DCAT,
    "prov": PROV,
    "rdf": RDF,
    "rdfs": RDFS,
    "owl": OWL,
    "xsd": XSD,
    "sh": SH,
    "geo": WGS84,
    "void": VOID,
    "spdx": SPDX,
    "wd": WD,
}


# The vocabulary keeps its IRIs whatever the base: only the resources, graphs and documents move.
FIXED_UNDER_BASE = (DEFAULT_BASE + "ontology",)


def rebase_iri(iri: str, base: str, *, from_base: str = DEFAULT_BASE) -> str:
    """``iri`` moved from ``from_base`` to ``base``; the ontology's own IRIs (``cgo:``) never move."""
    if base == from_base or not iri.startswith(from_base):
        return iri
    if iri.startswith(FIXED_UNDER_BASE):
        return iri
    return base + iri[len(from_base) :]


def data_graph_iri(base: str = DEFAULT_BASE) -> str:
    """Named graph holding the data."""
    return base + "graph/data"


def ontology_graph_iri(base: str = DEFAULT_BASE) -> str:
    """Named graph holding the ontology (and the SKOS schemes' terms)."""
    return base + "graph/ontology"
