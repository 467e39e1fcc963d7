"""The home page: the graph in figures, the survey's per-theme chart, the map and the list of authorities."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ...namespaces import ETALAB_2_0, JDN_SURVEY
from ..cache import CachedResponse
from ..state import ServerState
from .i18n import Lang, format_count, format_number, t
from .labels import Item, Labels, best_literal, named, slugify
from .named import run_named
from .resource import MAP_LABELS, as_int
from .site import CSP_MAP, Site
from .sparql_texts import (
    DENOMINATOR_LABELS,
    HOME_AUTHORITIES,
    HOME_COUNTS,
    HOME_INITIATIVES_BY_THEME,
    HOME_THEME_CLAIMS,
    TRIPLE_COUNT,
    fold,
    select_rows,
)


@dataclass
class AuthorityRow:
    """An authority on the home page: its link, kind, leads (or lead statuses) and seat's coordinates."""

    item: Item
    kind: Item | None
    leads: list[Item]
    lat: float | None
    long: float | None
    statuses: list[Item] = field(default_factory=list)  # no lead, appointment in progress


@dataclass
class ThemeClaim:
    claim: Item
    theme: Item
    count: int
    total: int | None


@dataclass
class ThemeCount:
    theme: Item
    count: int


def authority_listing(rows: Iterable[Mapping[str, Any]], labels: Labels) -> list[AuthorityRow]:
    """One entry per authority (rows repeat per lead), sorted by name."""
    kinds: dict[str, str | None] = {}
    points: dict[str, tuple[float, float] | None] = {}
    leads: dict[str, list[str]] = {}
    statuses: dict[str, list[str]] = {}
    for row in rows:
        iri = row["a"].value
        kinds.setdefault(iri, None)
        points.setdefault(iri, None)
        leads.setdefault(iri, [])
        statuses.setdefault(iri, [])
        if "status" in row and row["status"].value not in statuses[iri]:
            statuses[iri].append(row["status"].value)
        if "kind" in row:
            kinds[iri] = row["kind"].value
        if "lat" in row and "long" in row:
            points[iri] = (float(row["lat"].value), float(row["long"].value))
        if "lead" in row and row["lead"].value not in leads[iri]:
            leads[iri].append(row["lead"].value)
    listing = []
    for iri, kind in kinds.items():
        point = points[iri]
        listing.append(AuthorityRow(
            labels.item(named(iri)), labels.item(named(kind)) if kind else None,
            [labels.item(named(lead)) for lead in leads[iri]],
            point[0] if point else None, point[1] if point else None,
            [labels.item(named(status)) for status in statuses[iri]]))
    listing.sort(key=lambda a: slugify(a.item.text))
    return listing


def map_data(listing: Iterable[AuthorityRow], lang: Lang) -> dict[str, Any]:
    """What static/map.js draws: one point per authority (name, seat, link, lead or not) and the legend."""
    points = [{"name": a.item.text, "lat": a.lat, "long": a.long, "href": a.item.href, "lead": bool(a.leads),
               "kind": a.kind.text if a.kind else ""}
              for a in listing if a.lat is not None and a.long is not None]
    return {"points": points, "zoom": None,
            "labels": {key: t(lang.code, f"map.{key}") for key in MAP_LABELS}}


async def population_reached(state: ServerState, lang: Lang) -> dict[str, Any] | None:
    """The all-programmes row of the ``population-reached`` named query, written the page's way (None if the
    graph cannot answer it: no membership or no denominator)."""
    from ...query import get_query

    result = await run_named(state, get_query("population-reached"), {})
    variables = list(result.variables)
    for values in result.rows:
        row: dict[str, Any] = dict(zip(variables, values, strict=True))
        if row.get("kind") is not None or row.get("inhabitants") is None or row.get("denominator") is None:
            continue
        # The query names its denominator in French; the same figure's label in the page's language.
        labels = [r["label"] for r in await select_rows(state, DENOMINATOR_LABELS, n=row["denominator"])]
        label = best_literal(labels, lang.code) or row.get("denominatorLabel")
        return {"programmes": format_count(as_int(row["programmes"]), lang.code),
                "communes": format_count(as_int(row["communes"]), lang.code),
                "inhabitants": format_count(as_int(row["inhabitants"]), lang.code),
                "share": format_number(str(row["sharePercent"].value), lang.code),
                "denominator": str(label.value) if label is not None else "",
                "denominator_n": format_count(as_int(row["denominator"]), lang.code),
                "href": lang.link("/queries/population-reached")}
    return None


class HomePage:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.state = site.state

    async def home(self, lang: Lang, request: Request) -> CachedResponse:
        state = self.state
        onto = await self.site.ontology_labels()
        labels = Labels(state, lang, onto)
        count_queries = [select_rows(state, query) for query in HOME_COUNTS.values()]
        gathered = await asyncio.gather(
            select_rows(state, HOME_AUTHORITIES), select_rows(state, HOME_THEME_CLAIMS),
            select_rows(state, HOME_INITIATIVES_BY_THEME),
            select_rows(state, TRIPLE_COUNT.format(graph=state.data_graph)),
            population_reached(state, lang), *count_queries)
        authority_rows, claim_rows, initiative_rows, triple_rows, reach = gathered[:5]
        counts = {name: as_int(rows[0].get("n")) if rows else 0
                  for name, rows in zip(HOME_COUNTS, gathered[5:], strict=True)}
        counts["triples"] = as_int(triple_rows[0].get("n")) if triple_rows else 0

        listing = authority_listing(fold(authority_rows, labels), labels)
        claims = sorted((ThemeClaim(labels.item(row["claim"]), labels.item(row["theme"]), as_int(row["count"]),
                                    as_int(row.get("total")) or None) for row in fold(claim_rows, labels)),
                        key=lambda c: (-c.count, c.theme.text))
        chart_max = max([c.total or c.count for c in claims] + [1])
        by_theme: dict[str, set[str]] = {}
        for row in fold(initiative_rows, labels):
            by_theme.setdefault(row["theme"].value, set()).add(row["initiative"].value)
        initiatives = sorted((ThemeCount(labels.item(named(theme)), len(found))
                              for theme, found in by_theme.items()), key=lambda x: (-x.count, x.theme.text))
        mentions = sum(row.count for row in initiatives)

        title = t(lang.code, "home.title")
        page_url = self.site.public_url(request)
        dataset = {"@context": "https://schema.org", "@type": "Dataset", "@id": state.base,
                   "url": page_url, "name": "citygraph — " + title, "description": t(lang.code, "home.intro"),
                   "inLanguage": lang.code, "license": ETALAB_2_0, "isBasedOn": JDN_SURVEY,
                   "creator": {"@type": "Organization", "name": "citygraph contributors"},
                   "spatialCoverage": {"@type": "Place", "name": "France"}, "temporalCoverage": "2017-02",
                   "distribution": [{"@type": "DataDownload", "encodingFormat": "text/turtle",
                                     "contentUrl": page_url.rstrip("/") + "/dumps/"}]}
        context = self.site.context(
            request, lang, title, counts=counts, authorities=listing, claims=claims, chart_max=chart_max,
            initiatives=initiatives, mentions=mentions, reach=reach, map=map_data(listing, lang), jsonld=dataset)
        return self.site.entry(self.site.render("home.html", context), csp=CSP_MAP)
