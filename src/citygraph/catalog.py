"""The catalogue of the dumps: DCAT-AP 3.0.1 (``catalog.ttl``, ``catalog.jsonld``) and VoID (``void.ttl``).

Everything is derived from the graph and the files just written (sizes, SHA-256), and dated from the
ontology's ``dct:created``/``dct:modified`` (or ``SOURCE_DATE_EPOCH``), never from the clock: the same input
gives the same bytes. Resources of the catalogue are hash IRIs of ``{base}catalog``, but for the period and the
coverage box: blank nodes with fixed labels, so that a harvester reads them here instead of dereferencing an IRI
(udata does). ``catalog-udata.ttl`` is the same graph with checksum values as plain strings: udata 17.18 stores
the ``xsd:hexBinary`` literal DCAT-AP asks for as bytes and refuses the whole dataset (see README).
"""

from __future__ import annotations

import datetime as dt
import io
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .errors import InputError
from .formats import rdf_format
from .namespaces import (
    CGO,
    DCAT,
    DCT,
    ETALAB_2_0,
    FOAF,
    JDN_SURVEY,
    ORG,
    OWL,
    PROV,
    RDF,
    RDFS,
    SKOS,
    SPDX,
    VOID,
    WD,
    XSD,
)

if TYPE_CHECKING:
    import pyoxigraph

    from .jsonld import Figures
    from .load import LoadedGraph


class FileFacts(Protocol):
    """What the catalogue reads of a file the export wrote (an ``export.WrittenFile``)."""

    @property
    def size(self) -> int: ...

    @property
    def sha256(self) -> str: ...


CATALOG_TTL = "catalog.ttl"
CATALOG_JSONLD = "catalog.jsonld"
CATALOG_UDATA_TTL = "catalog-udata.ttl"
VOID_TTL = "void.ttl"

# udata and DCAT-AP's examples write IANA media types in the https namespace (udata keeps any other URI whole).
IANA_MEDIA_TYPES = "https://www.iana.org/assignments/media-types/"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
VCARD = "http://www.w3.org/2006/vcard/ns#"
GSP = "http://www.opengis.net/ont/geosparql#"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_COUNTRY_FRA = "http://publications.europa.eu/resource/authority/country/FRA"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
EU_DATA_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
SPARQL_PROTOCOL = "https://www.w3.org/TR/sparql11-protocol/"
WIKIDATA_SPARQL = "https://query.wikidata.org/sparql"
ADMS = "http://www.w3.org/ns/adms#"
ODRL = "http://www.w3.org/ns/odrl/2/"

# Distribution facts per file extension: (media type, EU file-type code, French and English title).
_DISTRIBUTIONS: dict[str, tuple[str, str, str, str]] = {
    "jsonld": (rdf_format("jsonld").media_type, "JSON_LD", "Graphe en JSON-LD 1.1 (compact)",
               "Graph as JSON-LD 1.1 (compacted)"),
    "ttl": (rdf_format("ttl").media_type, "RDF_TURTLE", "Graphe en Turtle", "Graph as Turtle"),
    "nt": (rdf_format("nt").media_type, "RDF_N_TRIPLES", "Graphe en N-Triples", "Graph as N-Triples"),
    "nq": (rdf_format("nq").media_type, "RDF_N_QUADS",
           "Données et ontologie en N-Quads (un graphe nommé chacune)",
           "Data and ontology as N-Quads (one named graph each)"),
    "csv": ("text/csv", "CSV", "Table", "Table"),
}
# What each kind of file holds (French, English).
_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "jsonld": ("Le graphe de données entier en JSON-LD 1.1 compacté ; le contexte est /context.jsonld.",
               "The whole data graph as compacted JSON-LD 1.1; the context is /context.jsonld."),
    "ttl": ("Le graphe de données entier en Turtle.", "The whole data graph as Turtle."),
    "nt": ("Le graphe de données entier en N-Triples, une ligne par triplet, triées.",
           "The whole data graph as N-Triples, one sorted line per triple."),
    "nq": ("Les données et l'ontologie en N-Quads, chacune dans son graphe nommé.",
           "The data and the ontology as N-Quads, each in its own named graph."),
}
_CSV_DESCRIPTIONS: dict[str, tuple[str, str]] = {
    "authorities": ("les collectivités par nature juridique", "the authorities by legal kind"),
    "leads": ("les responsables smart city et leurs postes", "the smart-city leads and their posts"),
    "initiatives": ("les initiatives par thème", "the initiatives by theme"),
}
# The licence as data.gouv.fr's licence list names it (title and an alternate title of its `lov2` entry):
# udata matches the label of the licence node against that list, CKAN a `dct:title` against its register.
ETALAB_2_0_TITLE_FR = "Licence Ouverte / Open Licence version 2.0"
ETALAB_2_0_TITLE_EN = "Open Licence version 2.0"
# The survey is a dated snapshot, never revised; the graph gets records added (corrections, confirmed links,
# later states beside the 2017 ones) when there is something to add, on no schedule.
ACCRUAL_PERIODICITY = EU_FREQUENCY + "IRREG"
_CSV_TITLES: dict[str, tuple[str, str]] = {
    "authorities": ("Collectivités", "Authorities"),
    "leads": ("Responsables smart city et postes", "Smart-city leads and posts"),
    "initiatives": ("Initiatives par thème", "Initiatives by theme"),
}

KEYWORDS: tuple[tuple[str, str], ...] = (
    ("ville intelligente", "fr"), ("smart city", "en"),
    ("collectivités territoriales", "fr"), ("local authorities", "en"),
    ("intercommunalité", "fr"), ("intercommunality", "en"),
    ("données liées", "fr"), ("linked data", "en"),
    ("France", "fr"), ("France", "en"),
)

CATALOG_CONTEXT: dict[str, Any] = {
    "@context": {
        "adms": ADMS, "dcat": DCAT, "dct": DCT, "foaf": FOAF, "owl": OWL, "rdfs": RDFS, "skos": SKOS,
        "spdx": SPDX, "void": VOID, "xsd": XSD, "vcard": VCARD, "gsp": GSP,
    }
}


@dataclass(frozen=True)
class CatalogDescription:
    """The serialized catalogue files."""

    catalog_turtle: bytes
    catalog_jsonld: bytes
    catalog_udata_turtle: bytes
    void_turtle: bytes


@dataclass(frozen=True)
class Dates:
    issued: dt.date
    modified: dt.date


class _Triples:
    """A small builder of pyoxigraph triples."""

    def __init__(self) -> None:
        import pyoxigraph

        self._ox = pyoxigraph
        self.triples: list[pyoxigraph.Triple] = []

    def iri(self, value: str) -> pyoxigraph.NamedNode:
        return self._ox.NamedNode(value)

    def blank(self, label: str) -> pyoxigraph.BlankNode:
        """A blank node with a fixed label (the same bytes on every run)."""
        return self._ox.BlankNode(label)

    def add(self, s: str | pyoxigraph.BlankNode, p: str,
            o: str | pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal) -> None:
        subject = self._ox.NamedNode(s) if isinstance(s, str) else s
        obj = self._ox.NamedNode(o) if isinstance(o, str) else o
        self.triples.append(self._ox.Triple(subject, self._ox.NamedNode(p), obj))

    def text(self, value: str, language: str | None = None) -> pyoxigraph.Literal:
        return self._ox.Literal(value, language=language) if language else self._ox.Literal(value)

    def typed(self, value: str, datatype: str) -> pyoxigraph.Literal:
        return self._ox.Literal(value, datatype=self._ox.NamedNode(datatype))

    def labels(self, s: str | pyoxigraph.BlankNode, p: str, fr: str, en: str) -> None:
        self.add(s, p, self.text(fr, "fr"))
        self.add(s, p, self.text(en, "en"))


def catalog_dates(graph: LoadedGraph) -> Dates:
    """``dct:issued`` = the ontology's ``dct:created``; ``dct:modified`` = its ``dct:modified``, or
    ``SOURCE_DATE_EPOCH`` when set (reproducible-builds convention). Never the clock."""
    import pyoxigraph

    found: dict[str, dt.date] = {}
    for name in ("created", "modified"):
        results = graph.store.query(
            f"SELECT (MAX(?d) AS ?date) WHERE {{ GRAPH ?g {{ ?o a <{OWL}Ontology> ; <{DCT}{name}> ?d }} }}"
        )
        assert isinstance(results, pyoxigraph.QuerySolutions)
        for row in results:
            term = row["date"]
            if term is not None:
                try:
                    found[name] = dt.date.fromisoformat(str(term.value)[:10])
                except ValueError:
                    raise InputError(f"ontology dct:{name} {term.value!r} is not a date") from None
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        try:
            found["modified"] = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC).date()
        except (ValueError, OverflowError):
            raise InputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds") from None
    if "created" not in found or "modified" not in found:
        raise InputError("the catalogue needs dates: give the ontology dct:created and dct:modified "
                         "(or set SOURCE_DATE_EPOCH)")
    return Dates(found["created"], max(found["modified"], found["created"]))


def _count(graph: LoadedGraph, projection: str, where: str) -> int:
    import pyoxigraph

    query = f"SELECT ({projection} AS ?n) WHERE {{ GRAPH <{graph.data_graph}> {{ {where} }} }}"
    results = graph.store.query(query)
    assert isinstance(results, pyoxigraph.QuerySolutions)
    for row in results:
        term = row["n"]
        return int(term.value) if term is not None else 0
    return 0


@dataclass(frozen=True)
class GraphStatistics:
    triples: int
    entities: int
    classes: int
    properties: int
    distinct_subjects: int
    distinct_objects: int
    wikidata_links: int


def statistics_of_figures(figures: Figures, ntriples: bytes) -> GraphStatistics:
    """VoID figures from what the JSON-LD writer counted while writing the sorted N-Triples ``ntriples``
    (the Wikidata links are counted here, in the text)."""
    return GraphStatistics(
        triples=figures.triples,
        entities=figures.iri_subjects,
        classes=len(figures.type_objects),
        properties=len(figures.predicates),
        distinct_subjects=figures.subjects,
        distinct_objects=len(figures.objects),
        wikidata_links=wikidata_links(ntriples),
    )


def wikidata_links(ntriples: bytes) -> int:
    """The ``owl:sameAs`` triples whose object is a Wikidata item, in N-Triples text as pyoxigraph writes it.

    Found by searching ``" <owl:sameAs> <wd:"`` and checking each hit's line (a literal might hold the text).
    """
    needle = f" <{OWL}sameAs> <{WD}".encode()
    same_as = f"<{OWL}sameAs>".encode()
    wikidata = f"<{WD}".encode()
    links = 0
    position = ntriples.find(needle)
    while position >= 0:
        start = ntriples.rfind(b"\n", 0, position) + 1
        end = ntriples.find(b"\n", position)
        _, predicate, rest = ntriples[start : end if end >= 0 else len(ntriples)].split(b" ", 2)
        links += predicate == same_as and rest.startswith(wikidata)
        position = ntriples.find(needle, position + 1)
    return links


def statistics(graph: LoadedGraph) -> GraphStatistics:
    """VoID figures of the data graph."""
    return GraphStatistics(
        triples=graph.triple_count(),
        entities=_count(graph, "COUNT(DISTINCT ?s)", "?s ?p ?o FILTER(isIRI(?s))"),
        classes=_count(graph, "COUNT(DISTINCT ?c)", f"?s <{RDF}type> ?c"),
        properties=_count(graph, "COUNT(DISTINCT ?p)", "?s ?p ?o"),
        distinct_subjects=_count(graph, "COUNT(DISTINCT ?s)", "?s ?p ?o"),
        distinct_objects=_count(graph, "COUNT(DISTINCT ?o)", "?s ?p ?o"),
        wikidata_links=_count(graph, "COUNT(*)", f"?s <{OWL}sameAs> ?o FILTER(STRSTARTS(STR(?o), \"{WD}\"))"),
    )


@dataclass(frozen=True)
class DistributionFacts:
    media_type: str
    file_type: str
    title_fr: str
    title_en: str
    description_fr: str
    description_en: str
    gzipped: bool


def _distribution_facts(name: str) -> DistributionFacts:
    """What the catalogue says of one exported file, from its name."""
    gzipped = name.endswith(".gz")
    plain = name[:-3] if gzipped else name
    stem, _, extension = plain.rpartition(".")
    media_type, file_type, fr, en = _DISTRIBUTIONS[extension]
    if extension == "csv":
        table_fr, table_en = _CSV_TITLES.get(stem, (stem, stem))
        fr, en = f"Table CSV : {table_fr}", f"CSV table: {table_en}"
        what_fr, what_en = _CSV_DESCRIPTIONS.get(stem, (stem, stem))
        about_fr = (f"Table CSV (RFC 4180, ligne d'en-tête) : {what_fr}, résultat de la requête nommée "
                    "du même nom sur le graphe.")
        about_en = f"CSV table (RFC 4180, header row): {what_en}, the result of the named query of that name."
    else:
        about_fr, about_en = _DESCRIPTIONS[extension]
    if gzipped:
        fr, en = fr + " (gzip)", en + " (gzip)"
        about_fr, about_en = about_fr + " Compressé avec gzip.", about_en + " Compressed with gzip."
    return DistributionFacts(media_type, file_type, fr, en, about_fr, about_en, gzipped)


@dataclass(frozen=True)
class Box:
    """A bounding box in WGS 84 degrees."""

    west: float
    south: float
    east: float
    north: float

    def wkt(self) -> str:
        """The box as a GeoSPARQL WKT polygon (CRS84: longitude first), closed, counter-clockwise."""
        w, s, e, n = (f"{v:.6f}".rstrip("0").rstrip(".") for v in (self.west, self.south, self.east, self.north))
        return f"POLYGON(({w} {s}, {e} {s}, {e} {n}, {w} {n}, {w} {s}))"


def coverage_box(graph: LoadedGraph) -> Box | None:
    """The bounding box of the points the data graph gives (``geo:lat``/``geo:long``), or None without any."""
    import pyoxigraph

    geo = "http://www.w3.org/2003/01/geo/wgs84_pos#"
    query = (f"SELECT (MIN(?lon) AS ?w) (MIN(?lat) AS ?s) (MAX(?lon) AS ?e) (MAX(?lat) AS ?n) "
             f"WHERE {{ GRAPH <{graph.data_graph}> {{ ?p <{geo}lat> ?lat ; <{geo}long> ?lon }} }}")
    results = graph.store.query(query)
    assert isinstance(results, pyoxigraph.QuerySolutions)
    for row in results:
        values = [row[name] for name in ("w", "s", "e", "n")]
        if any(v is None for v in values):
            return None
        try:
            w, s, e, n = (float(v.value) for v in values if v is not None)
        except ValueError:
            return None
        return Box(w, s, e, n)
    return None


def distribution_names(written: Mapping[str, FileFacts]) -> list[str]:
    """The exported files that are distributions of the dataset (dumps, tables and their gzip twins)."""
    names = []
    for name in written:
        plain = name[:-3] if name.endswith(".gz") else name
        if plain.rpartition(".")[2] in _DISTRIBUTIONS and plain.startswith(("citygraph-data.", *_CSV_TITLES)):
            names.append(name)
    return sorted(names)


def build_catalog(graph: LoadedGraph, written: Mapping[str, FileFacts], dates: Dates, *,
                  checksum_datatype: str = XSD + "hexBinary") -> _Triples:
    """The DCAT-AP 3.0.1 description of the dataset, its distributions and the SPARQL service.

    ``checksum_datatype``: DCAT-AP's ``xsd:hexBinary``, or ``xsd:string`` for the udata profile.
    """
    base = graph.base
    doc = base + "catalog"
    catalog, dataset, publisher = doc, doc + "#dataset", doc + "#publisher"
    service, contact = doc + "#sparql-service", doc + "#contact"
    dumps = base + "dumps/"
    t = _Triples()
    period, coverage = t.blank("period"), t.blank("coverage")
    date = XSD + "date"

    t.add(catalog, RDF + "type", DCAT + "Catalog")
    t.labels(catalog, DCT + "title", "Catalogue citygraph", "citygraph catalogue")
    t.labels(catalog, DCT + "description",
             "Catalogue des données liées citygraph : le graphe des villes intelligentes françaises "
             "(enquête du Journal du Net, février 2017), ses téléchargements et son point d'accès SPARQL.",
             "Catalogue of the citygraph linked data: the graph of French smart cities (Journal du Net "
             "survey, February 2017), its downloads and its SPARQL endpoint.")
    t.add(catalog, DCT + "publisher", publisher)
    t.add(catalog, DCT + "license", ETALAB_2_0)
    t.add(catalog, DCT + "issued", t.typed(dates.issued.isoformat(), date))
    t.add(catalog, DCT + "modified", t.typed(dates.modified.isoformat(), date))
    t.add(catalog, FOAF + "homepage", base)
    t.add(catalog, DCAT + "dataset", dataset)
    t.add(catalog, DCAT + "service", service)
    for code in ("FRA", "ENG"):
        t.add(catalog, DCT + "language", EU_LANGUAGE + code)
        t.add(EU_LANGUAGE + code, RDF + "type", DCT + "LinguisticSystem")
    t.add(base, RDF + "type", FOAF + "Document")

    t.add(publisher, RDF + "type", FOAF + "Agent")
    t.add(publisher, RDF + "type", FOAF + "Organization")
    t.add(publisher, FOAF + "name", t.text("citygraph contributors"))
    t.add(publisher, FOAF + "homepage", base)

    t.add(ETALAB_2_0, RDF + "type", DCT + "LicenseDocument")
    t.labels(ETALAB_2_0, RDFS + "label", ETALAB_2_0_TITLE_FR, ETALAB_2_0_TITLE_EN)
    t.add(ETALAB_2_0, DCT + "title", t.text(ETALAB_2_0_TITLE_FR))
    t.add(ETALAB_2_0, DCT + "identifier", t.text("etalab-2.0"))

    # A contact that exists: the project's site (no e-mail address is published).
    t.add(contact, RDF + "type", VCARD + "Kind")
    t.add(contact, RDF + "type", VCARD + "Organization")
    t.add(contact, VCARD + "fn", t.text("citygraph contributors"))
    t.add(contact, VCARD + "hasURL", base)

    t.add(dataset, RDF + "type", DCAT + "Dataset")
    t.labels(dataset, DCT + "title", "Villes intelligentes de France (février 2017)",
             "Smart cities of France (February 2017)")
    t.labels(dataset, DCT + "description",
             "Les 24 collectivités de l'enquête « Smart city : voici les villes intelligentes de France » "
             "du Journal du Net (mise à jour du 6 février 2017) : nature juridique, SIREN, code INSEE et "
             "population légale, programme de ville intelligente, responsable et poste datés, initiatives "
             "par thème, chiffres de l'enquête, liens Wikidata confirmés ; chaque fait cite sa source.",
             "The 24 authorities of the Journal du Net survey «Smart city: here are the smart cities of "
             "France» (update of 6 February 2017): legal kind, SIREN, INSEE code and legal population, "
             "smart-city programme, dated lead and post, initiatives by theme, the survey's figures, "
             "confirmed Wikidata links; every fact cites its source.")
    t.add(dataset, DCT + "identifier", t.text(dataset))
    for word, language in KEYWORDS:
        t.add(dataset, DCAT + "keyword", t.text(word, language))
    t.add(dataset, DCT + "publisher", publisher)
    t.add(dataset, DCT + "creator", publisher)
    t.add(dataset, DCT + "license", ETALAB_2_0)
    t.add(dataset, DCT + "issued", t.typed(dates.issued.isoformat(), date))
    t.add(dataset, DCT + "modified", t.typed(dates.modified.isoformat(), date))
    t.add(dataset, DCT + "temporal", period)
    t.add(dataset, DCT + "accrualPeriodicity", ACCRUAL_PERIODICITY)
    t.add(ACCRUAL_PERIODICITY, RDF + "type", DCT + "Frequency")
    t.labels(ACCRUAL_PERIODICITY, SKOS + "prefLabel", "irrégulière", "irregular")
    t.add(dataset, DCT + "spatial", EU_COUNTRY_FRA)
    t.add(dataset, DCAT + "contactPoint", contact)
    box = coverage_box(graph)
    if box is not None:
        t.add(dataset, DCT + "spatial", coverage)
        t.add(coverage, RDF + "type", DCT + "Location")
        t.labels(coverage, SKOS + "prefLabel",
                 "Rectangle englobant les points des données (centres-villes des communes sièges), "
                 "pas l'emprise des territoires",
                 "Bounding box of the data's points (town centres of the seat communes), "
                 "not of the authorities' territories")
        t.add(coverage, DCAT + "bbox", t.typed(box.wkt(), GSP + "wktLiteral"))
    t.add(dataset, DCAT + "landingPage", base)
    t.add(dataset, DCT + "conformsTo", CGO.rstrip("#"))
    t.add(dataset, PROV + "wasDerivedFrom", JDN_SURVEY)
    for code in ("FRA", "ENG"):
        t.add(dataset, DCT + "language", EU_LANGUAGE + code)
    for theme, fr, en in (("GOVE", "Gouvernement et secteur public", "Government and public sector"),
                          ("REGI", "Régions et villes", "Regions and cities")):
        t.add(dataset, DCAT + "theme", EU_DATA_THEME + theme)
        t.add(EU_DATA_THEME + theme, RDF + "type", SKOS + "Concept")
        t.labels(EU_DATA_THEME + theme, SKOS + "prefLabel", fr, en)
    t.add(CGO.rstrip("#"), RDF + "type", DCT + "Standard")
    t.labels(CGO.rstrip("#"), RDFS + "label", "Ontologie citygraph", "citygraph ontology")

    t.add(period, RDF + "type", DCT + "PeriodOfTime")
    t.add(period, DCAT + "startDate", t.typed("2017-02-01", date))
    t.add(period, DCAT + "endDate", t.typed("2017-02-28", date))
    t.add(EU_COUNTRY_FRA, RDF + "type", DCT + "Location")
    t.labels(EU_COUNTRY_FRA, SKOS + "prefLabel", "France", "France")

    t.add(service, RDF + "type", DCAT + "DataService")
    t.labels(service, DCT + "title", "Point d'accès SPARQL citygraph", "citygraph SPARQL endpoint")
    t.labels(service, DCT + "description",
             "Requêtes SPARQL 1.1 sur le graphe (protocole SPARQL 1.1, lecture seule).",
             "SPARQL 1.1 queries over the graph (SPARQL 1.1 Protocol, read-only).")
    t.add(service, DCT + "identifier", t.text(service))
    t.add(service, DCAT + "endpointURL", base + "sparql")
    t.add(base + "sparql", RDF + "type", RDFS + "Resource")
    # The SPARQL 1.1 Service Description is what GET on the endpoint without a query answers.
    t.add(service, DCAT + "endpointDescription", base + "sparql")
    t.add(service, DCAT + "landingPage", base + "query")
    t.add(base + "query", RDF + "type", FOAF + "Document")
    t.add(service, DCAT + "contactPoint", contact)
    t.add(service, DCAT + "servesDataset", dataset)
    t.add(service, DCT + "conformsTo", SPARQL_PROTOCOL)
    t.add(service, DCT + "publisher", publisher)
    t.add(service, DCT + "license", ETALAB_2_0)
    t.add(SPARQL_PROTOCOL, RDF + "type", DCT + "Standard")

    media_types: set[str] = set()
    for name in distribution_names(written):
        facts = _distribution_facts(name)
        media_type, file_type, gzipped = facts.media_type, facts.file_type, facts.gzipped
        info = written[name]
        dist = f"{doc}#distribution-{name}"
        checksum = f"{doc}#checksum-{name}"
        t.add(dataset, DCAT + "distribution", dist)
        t.add(dist, RDF + "type", DCAT + "Distribution")
        t.labels(dist, DCT + "title", facts.title_fr, facts.title_en)
        t.labels(dist, DCT + "description", facts.description_fr, facts.description_en)
        t.add(dist, DCAT + "downloadURL", dumps + name)
        t.add(dist, DCAT + "accessURL", dumps + name)
        t.add(dumps + name, RDF + "type", RDFS + "Resource")
        t.add(dist, DCAT + "mediaType", IANA_MEDIA_TYPES + media_type)
        media_types.add(media_type)
        t.add(dist, DCT + "format", EU_FILE_TYPE + file_type)
        t.add(EU_FILE_TYPE + file_type, RDF + "type", DCT + "MediaTypeOrExtent")
        if gzipped:
            t.add(dist, DCAT + "compressFormat", IANA_MEDIA_TYPES + "application/gzip")
            media_types.add("application/gzip")
        t.add(dist, DCAT + "byteSize", t.typed(str(info.size), XSD + "nonNegativeInteger"))
        t.add(dist, SPDX + "checksum", checksum)
        t.add(checksum, RDF + "type", SPDX + "Checksum")
        t.add(checksum, SPDX + "algorithm", SPDX + "checksumAlgorithm_sha256")
        t.add(checksum, SPDX + "checksumValue", t.typed(info.sha256, checksum_datatype))
        t.add(dist, DCT + "license", ETALAB_2_0)
        t.add(dist, DCT + "issued", t.typed(dates.issued.isoformat(), date))
        t.add(dist, DCT + "modified", t.typed(dates.modified.isoformat(), date))
    t.add(SPDX + "checksumAlgorithm_sha256", RDF + "type", SPDX + "ChecksumAlgorithm")
    for media_type in sorted(media_types):
        t.add(IANA_MEDIA_TYPES + media_type, RDF + "type", DCT + "MediaType")
    return t


def build_void(graph: LoadedGraph, written: Mapping[str, FileFacts], stats: GraphStatistics) -> _Triples:
    """The VoID description: figures of the data graph, dumps, endpoint and the linkset to Wikidata."""
    base = graph.base
    doc = base + "catalog"
    dataset, linkset, wikidata = doc + "#dataset", doc + "#wikidata-links", doc + "#wikidata"
    t = _Triples()
    integer = XSD + "integer"

    t.add(dataset, RDF + "type", VOID + "Dataset")
    t.labels(dataset, DCT + "title", "Villes intelligentes de France (février 2017)",
             "Smart cities of France (February 2017)")
    t.add(dataset, DCT + "license", ETALAB_2_0)
    t.add(dataset, FOAF + "homepage", base)
    t.add(dataset, VOID + "sparqlEndpoint", base + "sparql")
    t.add(dataset, VOID + "uriSpace", t.text(base + "id/"))
    for name in sorted(written):
        plain = name[:-3] if name.endswith(".gz") else name
        if plain.startswith("citygraph-data."):
            t.add(dataset, VOID + "dataDump", base + "dumps/" + name)
    for vocabulary in (CGO, ORG, FOAF, SKOS, DCT, PROV, RDFS, OWL, "http://www.w3.org/2003/01/geo/wgs84_pos#"):
        t.add(dataset, VOID + "vocabulary", vocabulary)
    t.add(dataset, VOID + "triples", t.typed(str(stats.triples), integer))
    t.add(dataset, VOID + "entities", t.typed(str(stats.entities), integer))
    t.add(dataset, VOID + "classes", t.typed(str(stats.classes), integer))
    t.add(dataset, VOID + "properties", t.typed(str(stats.properties), integer))
    t.add(dataset, VOID + "distinctSubjects", t.typed(str(stats.distinct_subjects), integer))
    t.add(dataset, VOID + "distinctObjects", t.typed(str(stats.distinct_objects), integer))
    t.add(dataset, VOID + "subset", linkset)

    t.add(linkset, RDF + "type", VOID + "Linkset")
    t.labels(linkset, DCT + "title", "Liens owl:sameAs confirmés vers Wikidata",
             "Confirmed owl:sameAs links to Wikidata")
    t.add(linkset, VOID + "linkPredicate", OWL + "sameAs")
    t.add(linkset, VOID + "subjectsTarget", dataset)
    t.add(linkset, VOID + "objectsTarget", wikidata)
    t.add(linkset, VOID + "target", dataset)
    t.add(linkset, VOID + "target", wikidata)
    t.add(linkset, VOID + "triples", t.typed(str(stats.wikidata_links), integer))

    t.add(wikidata, RDF + "type", VOID + "Dataset")
    t.add(wikidata, DCT + "title", t.text("Wikidata", "en"))
    t.add(wikidata, FOAF + "homepage", "https://www.wikidata.org/")
    t.add(wikidata, VOID + "sparqlEndpoint", WIKIDATA_SPARQL)
    t.add(wikidata, VOID + "uriSpace", t.text(WD))
    return t


def _turtle(triples: Iterable[pyoxigraph.Triple]) -> bytes:
    import pyoxigraph

    ordered = sorted(set(triples), key=lambda tr: (str(tr.subject), str(tr.predicate), str(tr.object)))
    prefixes = {"adms": ADMS, "dcat": DCAT, "dct": DCT, "foaf": FOAF, "owl": OWL, "prov": PROV, "rdfs": RDFS,
                "skos": SKOS, "spdx": SPDX, "void": VOID, "xsd": XSD, "vcard": VCARD, "gsp": GSP}
    payload = pyoxigraph.serialize(ordered, format=pyoxigraph.RdfFormat.TURTLE, prefixes=prefixes)
    assert payload is not None
    return payload


def _jsonld(triples: Iterable[pyoxigraph.Triple]) -> bytes:
    from . import jsonld

    ordered = sorted(set(triples), key=lambda tr: (str(tr.subject), str(tr.predicate), str(tr.object)))
    out = io.StringIO()
    jsonld.write(out, jsonld.Context(CATALOG_CONTEXT), ordered)
    return out.getvalue().encode("utf-8")


def describe(graph: LoadedGraph, written: Mapping[str, FileFacts],
             stats: GraphStatistics | None = None) -> CatalogDescription:
    """Serialize the catalogue (Turtle and JSON-LD) and the VoID description of the written files."""
    dates = catalog_dates(graph)
    catalog_triples = build_catalog(graph, written, dates).triples
    udata_triples = build_catalog(graph, written, dates, checksum_datatype=XSD + "string").triples
    void_triples = build_void(graph, written, stats or statistics(graph)).triples
    return CatalogDescription(_turtle(catalog_triples), _jsonld(catalog_triples), _turtle(udata_triples),
                              _turtle(void_triples))
