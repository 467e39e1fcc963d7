"""What every page shares: the template environment, the page context, headers, the response cache, errors."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response

from ...namespaces import ETALAB_2_0, JDN_SURVEY
from .. import resources
from ..cache import CachedResponse
from ..errors import HttpProblem
from ..state import ServerState
from .i18n import Lang, choose_language, format_count, messages, t
from .labels import is_literal
from .sparql_texts import ONTOLOGY_LABELS

if TYPE_CHECKING:
    import jinja2

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
HTML_MEDIA = "text/html; charset=utf-8"
# Scripts and styles only from this server. Map tiles come from OpenStreetMap only once the reader ticks the box.
TILES = "https://tile.openstreetmap.org"
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
CSP_MAP = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {TILES}")


def jsonld_script(value: Any) -> Markup:
    """JSON for a ``<script type="application/ld+json">`` element, ``<``, ``>`` and ``&`` as JSON escapes.

    No label can close the element (``</script>``) or open a comment: the text stays inert JSON.
    """
    text = json.dumps(value, ensure_ascii=False, indent=1)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escape)
    return Markup(text)


@cache
def environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.filters["jsonld_script"] = jsonld_script
    return env


class Site:
    """Renders pages for one server state and answers them through the response cache."""

    def __init__(self, state: ServerState) -> None:
        self.state = state
        self._ontology_labels: dict[str, dict[str, str]] | None = None

    def context(self, request: Request, lang: Lang, title: str, **extra: Any) -> dict[str, Any]:
        def switch_href(code: str) -> str:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
            params.append(("lang", code))
            return request.url.path + "?" + urlencode(params)

        def translate(key: str, **fields: Any) -> str:
            return t(lang.code, key, **fields)

        return {"lang": lang.code, "lang_query": lang.query, "link": lang.link, "switch_href": switch_href,
                "t": translate, "count": lambda n: format_count(n, lang.code), "title": title,
                "alternates": [], "jsonld": None, "source_url": JDN_SURVEY, "licence_url": ETALAB_2_0,
                **extra}

    def public_url(self, request: Request) -> str:
        """This page's URL for others: under ``--base-url`` (default http://HOST:PORT), never the request's Host
        (a page is cached and served to everyone: an attacker's Host header must not end up in it)."""
        return self.state.public_url + request.url.path

    def render(self, template: str, context: Mapping[str, Any]) -> bytes:
        return environment().get_template(template).render(**context).encode("utf-8")

    def entry(self, body: bytes, *, links: Sequence[tuple[str, str]] = (), status: int = 200,
              csp: str = CSP) -> CachedResponse:
        headers = {"Content-Security-Policy": csp, "Vary": "Accept, Accept-Language",
                   "X-Content-Type-Options": "nosniff"}
        if links:
            headers["Link"] = resources.link_header(links)
        return self.state.cache.make(body, HTML_MEDIA, headers, status)

    async def page(self, request: Request, produce: Callable[[Lang], Awaitable[CachedResponse]]) -> Response:
        lang = choose_language(request)

        async def make() -> CachedResponse:
            return await produce(lang)

        key = resources.cache_key(request, "html", lang.code)
        return await resources.respond(request, self.state, key, make)

    async def ontology_labels(self) -> dict[str, dict[str, str]]:
        """rdfs:label of every term of the ontology graph, by language (asked once per site)."""
        if self._ontology_labels is None:
            # Graph IRIs come from the configuration (never from a request), so they may be written into the text.
            result = await self.state.backend.select(ONTOLOGY_LABELS.format(graph=self.state.ontology_graph))
            labels: dict[str, dict[str, str]] = {}
            rows: Sequence[Mapping[str, Any]] = result.rows
            for row in rows:
                term, label = row.get("term"), row.get("label")
                if term is not None and label is not None and is_literal(label):
                    labels.setdefault(term.value, {})[label.language or "fr"] = str(label.value)
            self._ontology_labels = labels
        return self._ontology_labels

    def error_page(self, request: Request, problem: HttpProblem) -> Response:
        """The error in the site's layout and the reader's language (the engine's own words as a detail)."""
        lang = choose_language(request)
        table = messages(lang.code)
        status = str(problem.status) if f"status.{problem.status}" in table else "other"
        title = table[f"status.{status}"]
        if problem.key and f"problem.{problem.key}" in table:
            message, detail = t(lang.code, f"problem.{problem.key}", **problem.fields), None
        else:
            message, detail = table[f"explain.{status}"], problem.detail
        context = self.context(request, lang, title, status=problem.status, message=message, detail=detail)
        headers = {"Content-Security-Policy": CSP, **problem.headers}
        return Response(self.render("error.html", context), status_code=problem.status, media_type=HTML_MEDIA,
                        headers=headers)
