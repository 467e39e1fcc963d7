"""``/query``: the SPARQL editor. YASGUI (served from this server) with the named queries as example tabs;
without JavaScript, a plain form whose results come back as an HTML table in the page."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from starlette.requests import Request

from ...errors import ParseError
from ...namespaces import PREFIXES, RDFS
from ...query import id_base
from .. import resources
from ..cache import CachedResponse
from ..errors import HttpProblem
from ..screen import screen
from .i18n import Lang, t
from .labels import Item, Labels
from .named import query_body
from .site import CSP, Site

# YASGUI's results table sizes its columns with a <style> element it writes (the column resizer), and
# CodeMirror sets style attributes: the editor page alone allows inline styles. Scripts stay 'self' only.
CSP_EDITOR = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
RESULTS_JSON = "application/sparql-results+json"
# The words static/query.js gives YASGUI's controls (accessible names, titles) in the page's language.
YASGUI_WORDS = ("tab_name", "close_tab", "endpoint", "query", "new_tab")
# YASGUI's own English strings (it has no translations), by message key (``yasgui.ui.KEY``): query.js shows each
# in the page's language; and the strings with numbers in them, as patterns (``yasgui.pattern.KEY``).
YASGUI_STRINGS = {
    "open_settings": "Open settings", "clear_endpoint": "Clear endpoint", "share": "Share query", "run": "Run query",
    "table": "Table", "response": "Response", "show_table": "Shows Table view",
    "show_response": "Shows Response view", "filter": "Filter query results", "download": "Download result",
    "download_results": "Download Results", "documentation": "View documentation of Table",
    "pagination": "pagination", "first": "First", "previous": "Previous", "next": "Next", "last": "Last",
    "simple_view": "Simple view", "ellipse": "Ellipse", "page_size": "Page size:", "all": "All",
}
YASGUI_PATTERNS = {
    "results_in": r"^(?<count>[0-9]+) results in (?<seconds>[0-9.]+) seconds$",
    "showing": r"^Showing (?<start>[0-9]+) to (?<end>[0-9]+) of (?<total>[0-9]+) entries$",
    "sort": r"^(?<column>.+): Activate to sort$",
}


def example_tabs(state: Any, lang: Lang) -> list[dict[str, str]]:
    """One YASGUI tab per named query: its title, and its text with the default values bound (VALUES)."""
    from ...query import list_queries, with_values

    tabs = []
    for named in list_queries():
        defaults = {p.name: p.term(p.default, base=state.base) for p in named.parameters if p.default is not None}
        text = f"BASE <{id_base(state.base)}>\n" + query_body(named.text)
        with contextlib.suppress(ParseError):  # a query whose WHERE group cannot be found keeps its text
            text = with_values(text, defaults)
        missing = [p.name for p in named.parameters if p.default is None]
        if missing:
            text = "".join(f"# ?{name}: {t(lang.code, 'queries.required')}\n" for name in missing) + text
        tabs.append({"id": named.name, "name": named.wording(lang.code)[0], "query": text})
    return tabs


class SparqlPage:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.state = site.state

    def example(self, lang: Lang) -> str:
        return (f"PREFIX cgo: <{resources.ontology_iri(self.state)}#>\n"
                f"PREFIX rdfs: <{RDFS}>\n\n"
                "SELECT ?authority ?name WHERE {\n  ?authority a cgo:LocalAuthority ; rdfs:label ?name .\n"
                f"  FILTER(lang(?name) = \"{lang.code}\")\n}}\nORDER BY ?name")

    async def page(self, lang: Lang, request: Request) -> CachedResponse:
        query = request.query_params.get("query")
        table: dict[str, Any] | None = None
        if query:
            table = await self.results_table(lang, query)
        context = self.site.context(
            request, lang, t(lang.code, "sparql.title"), example=query or self.example(lang),
            endpoint=self.state.sparql_path, table=table, tabs=example_tabs(self.state, lang),
            editor={"endpoint": self.state.sparql_path, "example": t(lang.code, "sparql.example"),
                    "lang": lang.code, "prefixes": {"id": id_base(self.state.base),
                                                    "cgo": resources.ontology_iri(self.state) + "#",
                                                    **{k: PREFIXES[k] for k in ("rdfs", "skos", "org", "foaf",
                                                                                 "xsd", "owl")}},
                    "words": {key: t(lang.code, f"yasgui.{key}") for key in YASGUI_WORDS},
                    "strings": {english: t(lang.code, f"yasgui.ui.{key}") for key, english in YASGUI_STRINGS.items()},
                    "patterns": [[pattern, t(lang.code, f"yasgui.pattern.{key}")]
                                 for key, pattern in YASGUI_PATTERNS.items()]})
        return self.site.entry(self.site.render("sparql.html", context), csp=CSP_EDITOR)

    async def results_table(self, lang: Lang, query: str) -> dict[str, Any]:
        """The query's results for the page without JavaScript (screened like any query to /sparql)."""
        config = self.state.config
        screen(query, max_bytes=config.max_query_bytes, max_patterns=config.max_triple_patterns,
               max_nesting=config.max_nesting)
        answer = await self.state.backend.execute(query, accept=[RESULTS_JSON])
        if not answer.media_type.startswith(RESULTS_JSON):
            raise HttpProblem(406, "the page shows SELECT and ASK results; send graphs to /sparql",
                              key="graph_results")
        payload = json.loads(answer.body)
        if "boolean" in payload:
            return {"ask": bool(payload["boolean"]), "variables": [], "rows": [], "truncated": False}
        from ...query import result_from_json

        result = result_from_json(payload, base=self.state.base)
        labels = Labels(self.state, lang, await self.site.ontology_labels())
        rows = [[labels.item(term) if term is not None else Item("") for term in row] for row in result.rows]
        return {"ask": None, "variables": list(result.variables), "rows": rows, "truncated": answer.truncated}
