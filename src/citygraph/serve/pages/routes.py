"""The routes of the pages, and the static files (the site's own, and Leaflet's from its XStatic packages)."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from .. import resources
from ..cache import CachedResponse
from ..state import ServerState
from .home import HomePage
from .named import NamedQueryPages, named_query_or_404, run_named
from .ontology import OntologyPage
from .resource import ResourcePages
from .site import Site
from .sparql_page import SparqlPage

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def leaflet_dirs() -> dict[str, str]:
    """Where the XStatic packages keep Leaflet and its MarkerCluster plugin (served under /static/)."""
    import xstatic.pkg.leaflet as leaflet
    import xstatic.pkg.leaflet_markercluster as markercluster

    return {"leaflet": leaflet.BASE_DIR, "markercluster": markercluster.BASE_DIR}


def routes(state: ServerState) -> list[BaseRoute]:
    site = Site(state)
    state.html_error_renderer = site.error_page
    home_page, resource_pages, ontology_page = HomePage(site), ResourcePages(site), OntologyPage(site)
    named_pages, sparql_page = NamedQueryPages(site), SparqlPage(site)

    async def home(request: Request) -> Response:
        return await site.page(request, lambda lang: home_page.home(lang, request))

    async def page(request: Request) -> Response:
        path = resources.local_path(request, "/page/", state)
        return await site.page(request, lambda lang: resource_pages.resource(lang, request, path))

    async def ontology(request: Request) -> Response:
        choice = resources.negotiate_rdf(request.headers.get("accept"), html=True)
        if choice is None:
            raise resources.not_acceptable("text/html, text/turtle, application/ld+json, …")
        if choice != resources.HTML:
            return await resources.ontology_response(request, state, choice)
        response = await site.page(request, lambda lang: ontology_page.ontology(lang, request))
        response.headers["Vary"] = "Accept, Accept-Language"
        return response

    async def queries(request: Request) -> Response:
        return await site.page(request, lambda lang: named_pages.listing(lang, request))

    async def named_query(request: Request) -> Response:
        raw = request.path_params["name"]
        stem, dot, ext = raw.rpartition(".")
        name, ext = (stem, ext) if dot and ext in ("csv", "json", "html") else (raw, "html")
        named = named_query_or_404(name)
        values = {k: v for k, v in request.query_params.items() if k != "lang"}
        if ext == "html":
            return await site.page(request, lambda lang: named_pages.page(lang, request, named, values))

        async def produce() -> CachedResponse:
            from ..sparql import TRUNCATED_HEADER

            result = await run_named(state, named, values)
            headers = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": TRUNCATED_HEADER}
            if result.truncated:
                headers[TRUNCATED_HEADER] = f"max-rows={state.config.max_rows}"
            if ext == "csv":
                return state.cache.make(result.to_csv().encode("utf-8"), "text/csv; charset=utf-8", headers)
            return state.cache.make(result.to_json().encode("utf-8"), "application/sparql-results+json", headers)

        return await resources.respond(request, state, resources.cache_key(request, ext), produce)

    async def sparql_editor(request: Request) -> Response:
        return await site.page(request, lambda lang: sparql_page.page(lang, request))

    static = [Mount(f"/static/{name}", app=StaticFiles(directory=directory), name=f"static-{name}")
              for name, directory in leaflet_dirs().items()]
    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/page/{path:path}", page, methods=["GET", "HEAD"]),
        Route("/ontology", ontology, methods=["GET", "HEAD"]),
        Route("/queries", queries, methods=["GET", "HEAD"]),
        Route("/queries/{name}", named_query, methods=["GET", "HEAD"]),
        Route("/query", sparql_editor, methods=["GET", "HEAD"]),
        *static,
        Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static"),
    ]
