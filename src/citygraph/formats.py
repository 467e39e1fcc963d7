"""One table of RDF and result formats: file extension, media type, engine format.

Export, the dumps, the server's content negotiation and the CLI all read this table; nothing else keeps
its own.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RdfFormatInfo:
    key: str  # the name users type: --format ttl
    extension: str  # without the dot
    media_type: str
    oxigraph_name: str  # attribute of pyoxigraph.RdfFormat
    rdflib_name: str
    label: str
    dataset: bool = False  # carries named graphs
    aliases: tuple[str, ...] = ()


RDF_FORMATS: tuple[RdfFormatInfo, ...] = (
    RdfFormatInfo("jsonld", "jsonld", "application/ld+json", "JSON_LD", "json-ld", "JSON-LD 1.1"),
    RdfFormatInfo(
        "ttl", "ttl", "text/turtle", "TURTLE", "turtle", "Turtle", aliases=("application/x-turtle",)
    ),
    RdfFormatInfo(
        "nt", "nt", "application/n-triples", "N_TRIPLES", "nt", "N-Triples", aliases=("text/plain",)
    ),
    RdfFormatInfo("rdf", "rdf", "application/rdf+xml", "RDF_XML", "xml", "RDF/XML"),
    RdfFormatInfo("nq", "nq", "application/n-quads", "N_QUADS", "nquads", "N-Quads", dataset=True),
    RdfFormatInfo("trig", "trig", "application/trig", "TRIG", "trig", "TriG", dataset=True),
)

# SPARQL results formats (SELECT / ASK).
RESULT_MEDIA_TYPES: dict[str, str] = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}

TABLE_MEDIA_TYPES: dict[str, str] = {"csv": "text/csv", "json": "application/json"}

# Media types clients send → the format key to answer in: the table's own types and their aliases (SPARQLWrapper
# asks for application/json and application/xml; some clients for text/xml or application/turtle).
RESULT_ALIASES: dict[str, str] = {
    **{media: key for key, media in RESULT_MEDIA_TYPES.items()},
    "application/json": "json",
    "application/xml": "xml",
    "text/xml": "xml",
}
RDF_ALIASES: dict[str, str] = {
    **{media: fmt.key for fmt in RDF_FORMATS if not fmt.dataset for media in (fmt.media_type, *fmt.aliases)},
    "application/turtle": "ttl",
    "application/x-json+ld": "jsonld",
    "application/json": "jsonld",  # for a graph (CONSTRUCT / DESCRIBE): JSON-LD
    "application/xml": "rdf",
    "text/xml": "rdf",
}


def rdf_format(key_or_extension: str) -> RdfFormatInfo:
    """Look a format up by key or extension; KeyError if unknown."""
    for fmt in RDF_FORMATS:
        if key_or_extension in (fmt.key, fmt.extension):
            return fmt
    raise KeyError(key_or_extension)


def rdf_format_for_media_type(media_type: str) -> RdfFormatInfo | None:
    media_type = media_type.split(";")[0].strip().lower()
    for fmt in RDF_FORMATS:
        if media_type == fmt.media_type or media_type in fmt.aliases:
            return fmt
    return None


def oxigraph_format(fmt: RdfFormatInfo):  # type: ignore[no-untyped-def]
    """The pyoxigraph.RdfFormat member for a table row (pyoxigraph imported lazily)."""
    import pyoxigraph

    return getattr(pyoxigraph.RdfFormat, fmt.oxigraph_name)
