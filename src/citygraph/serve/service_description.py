"""The SPARQL 1.1 Service Description answered by GET on the endpoint with no query (RDF, by conneg)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from ..formats import RDF_FORMATS, oxigraph_format
from .cache import CachedResponse
from .conneg import negotiate, parse_accept, quality
from .state import ServerState

if TYPE_CHECKING:
    from pyoxigraph import Triple

SD = "http://www.w3.org/ns/sparql-service-description#"
FORMATS = "http://www.w3.org/ns/formats/"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDFS_LABEL = "http://www.w3.org/2000/01/rdf-schema#label"

# W3C format IRIs for what the endpoint writes.
RESULT_FORMAT_IRIS = (
    "SPARQL_Results_JSON",
    "SPARQL_Results_XML",
    "SPARQL_Results_CSV",
    "SPARQL_Results_TSV",
    "Turtle",
    "N-Triples",
    "RDF_XML",
    "JSON-LD",
)


def served_graphs(state: ServerState) -> tuple[str, ...]:
    """Names of every graph the server holds: ontology and data (unless --no-bundled), then --graph ones."""
    graphs = [state.ontology_graph, state.data_graph] if state.config.bundled else []
    graphs += [iri for iri, _ in state.config.graphs]
    return tuple(dict.fromkeys(graphs))


def description_triples(state: ServerState) -> list[Triple]:
    """The description as pyoxigraph triples (the service is a blank node; sd:endpoint is the public URL)."""
    from pyoxigraph import BlankNode, Literal, NamedNode, Triple

    def n(iri: str) -> NamedNode:
        return NamedNode(iri)

    service, dataset, default_graph = BlankNode("service"), BlankNode("dataset"), BlankNode("default")
    triples = [
        Triple(service, n(RDF_TYPE), n(SD + "Service")),
        Triple(service, n(SD + "endpoint"), n(state.endpoint_url)),
        Triple(service, n(SD + "supportedLanguage"), n(SD + "SPARQL11Query")),
        Triple(service, n(SD + "feature"), n(SD + "UnionDefaultGraph")),
        Triple(service, n(SD + "defaultEntailmentRegime"), n("http://www.w3.org/ns/entailment/Simple")),
        Triple(service, n(RDFS_LABEL), Literal("citygraph SPARQL endpoint (read-only)", language="en")),
        Triple(service, n(SD + "defaultDataset"), dataset),
        Triple(dataset, n(RDF_TYPE), n(SD + "Dataset")),
        Triple(dataset, n(SD + "defaultGraph"), default_graph),
        Triple(default_graph, n(RDF_TYPE), n(SD + "Graph")),
    ]
    triples += [Triple(service, n(SD + "resultFormat"), n(FORMATS + name)) for name in RESULT_FORMAT_IRIS]
    for i, name in enumerate(served_graphs(state)):
        node, graph = BlankNode(f"named{i}"), BlankNode(f"graph{i}")
        triples += [
            Triple(dataset, n(SD + "namedGraph"), node),
            Triple(node, n(RDF_TYPE), n(SD + "NamedGraph")),
            Triple(node, n(SD + "name"), n(name)),
            Triple(node, n(SD + "graph"), graph),
            Triple(graph, n(RDF_TYPE), n(SD + "Graph")),
        ]
    return triples


def description_types() -> list[str]:
    """Media types the description is offered in, Turtle first."""
    offered = [fmt.media_type for fmt in RDF_FORMATS if not fmt.dataset]
    offered.insert(0, offered.pop(offered.index("text/turtle")))
    return offered


def wants_editor(request: Request) -> bool:
    """True only when ``Accept`` ranks HTML strictly above every RDF type the description is offered in (a
    browser); a client that lists an RDF type beside or above HTML (rapper, Comunica:
    ``text/turtle, text/html;q=0.2``) gets the description."""
    accept = request.headers.get("accept")
    if not accept or not accept.strip():
        return False
    ranges = parse_accept(accept)
    html = max(quality(ranges, "text/html"), quality(ranges, "application/xhtml+xml"))
    return html > 0 and html > max(quality(ranges, media) for media in description_types())


async def service_description_response(request: Request, state: ServerState) -> Response:
    """The description in the RDF format the client prefers (Turtle by default)."""
    offered = description_types()
    media_type = negotiate(request.headers.get("accept"), offered, "text/turtle") or "text/turtle"

    async def produce() -> CachedResponse:
        from pyoxigraph import serialize

        from ..formats import rdf_format_for_media_type

        fmt = rdf_format_for_media_type(media_type)
        assert fmt is not None
        prefixes = {"sd": SD, "formats": FORMATS, "rdfs": RDFS_LABEL[:-5]} if fmt.key == "ttl" else None
        body = serialize(description_triples(state), format=oxigraph_format(fmt), prefixes=prefixes) or b""
        return state.cache.make(body, media_type, {"Vary": "Accept"})

    return await state.cache.respond(request, "service-description\0" + media_type, produce)


def routes(state: ServerState) -> list[BaseRoute]:
    """No route of its own: the description is served by the endpoint (GET with no query)."""
    return []
