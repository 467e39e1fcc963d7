"""One page per resource: what the graph says about it, what points to it, and a summary for authorities
and people (lead, seat, population, a small map; posts held)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from ...namespaces import FOAF, JDN_SURVEY, OWL, PROV, RDF, RDFS, SKOS, WGS84
from .. import resources
from ..cache import CachedResponse
from .i18n import Lang, format_count, t
from .labels import Item, Labels, best_literal, is_iri, is_literal, named, slugify
from .schema_org import schema_org
from .site import CSP_MAP, Site
from .sparql_texts import AUTHORITY_SUMMARY, DESCRIBE_ROWS, PERSON_SUMMARY, SEAT_POINT, fold, select_rows
from .territory import coverage, history, territory

INSEE_COMMUNE = "https://www.insee.fr/fr/metadonnees/cog/commune/COM{code}-{slug}"
HIDDEN_PREDICATES = {RDF + "type", RDFS + "label", SKOS + "prefLabel"}
# The map's words (static/map.js reads them from the page): tiles switch, legend, clusters, zoom buttons.
MAP_LABELS = ("tiles", "legend", "with_lead", "without_lead", "cluster", "zoom_in", "zoom_out", "base", "points")


def insee_url(code: str, name: str) -> str:
    return INSEE_COMMUNE.format(code=code, slug=slugify(name))


def as_int(term: Any) -> int:
    if term is None:
        return 0
    try:
        return int(float(term.value))
    except (TypeError, ValueError):
        return 0


@dataclass
class Property:
    predicate: Item
    values: list[Item] = field(default_factory=list)


def group_values(pairs: Iterable[tuple[str, Any]], labels: Labels, lang: str) -> list[Property]:
    """Values grouped by predicate; of language-tagged literals, those in the page's language if any."""
    grouped: dict[str, list[Any]] = {}
    for predicate, value in pairs:
        grouped.setdefault(predicate, [])
        if value not in grouped[predicate]:
            grouped[predicate].append(value)
    properties = []
    for predicate, values in grouped.items():
        tagged = [v for v in values if is_literal(v) and v.language]
        if tagged:
            in_lang = [v for v in tagged if v.language == lang] or [best_literal(tagged, lang)]
            values = [v for v in values if not (is_literal(v) and v.language)] + in_lang
        items = sorted((labels.item(v) for v in values), key=lambda item: item.text.lower())
        properties.append(Property(labels.item(named(predicate)), items))
    properties.sort(key=lambda prop: prop.predicate.text.lower())
    return properties


class ResourcePages:
    """The page of any resource of the graph (``/page/PATH``)."""

    def __init__(self, site: Site) -> None:
        self.site = site
        self.state = site.state

    async def resource(self, lang: Lang, request: Request, path: str) -> CachedResponse:
        state = self.state
        iri = resources.resource_iri(state, path)
        onto, rows = await asyncio.gather(self.site.ontology_labels(),
                                          select_rows(state, DESCRIBE_ROWS, resource=iri))
        if not rows:
            raise resources.not_found(iri)
        labels = Labels(state, lang, onto)
        out: dict[str, list[Any]] = {}
        inbound: list[tuple[str, Any]] = []
        own_labels: list[Any] = []
        for row in fold(rows, labels):
            predicate, value = row["p"].value, row["v"]
            if row["dir"].value == "out":
                out.setdefault(predicate, [])
                if value not in out[predicate]:
                    out[predicate].append(value)
                if predicate == RDFS + "label":
                    own_labels.append(value)
            else:
                inbound.append((predicate, value))
        for literal in own_labels:
            labels.add(iri, literal)
        name = labels.get(iri)
        types = [v.value for v in out.get(RDF + "type", []) if is_iri(v)]
        properties = group_values(((p, v) for p, vs in out.items() if p not in HIDDEN_PREDICATES for v in vs),
                                  labels, lang.code)
        inbound_props = group_values(inbound, labels, lang.code)
        summary, elsewhere = await self.summary(lang, iri, types, out, labels)
        page_url = self.site.public_url(request)
        links = resources.alternates(path)
        twins = [{"href": lang.link(href) if media == resources.HTML else href, "media": media,
                  "ext": href.rpartition(".")[2]} for href, media in links[1:]]
        jsonld = schema_org(state, iri, page_url, types, name, out, lang.code, summary)
        context = self.site.context(
            request, lang, name, iri=iri, types=[labels.item(named(ty)) for ty in types],
            properties=properties,
            inbound=inbound_props, summary=summary, elsewhere=elsewhere, twins=twins, jsonld=jsonld,
            alternates=[{"href": href, "media_type": media} for href, media in links[1:]])
        return self.site.entry(self.site.render("resource.html", context), links=links, csp=CSP_MAP)

    async def summary(self, lang: Lang, iri: str, types: Sequence[str], out: Mapping[str, list[Any]],
                      labels: Labels) -> tuple[dict[str, Any], list[Item]]:
        """Facts two hops away for authorities (lead, seat) and people (posts), and links to other sites."""
        state = self.state
        cgo = resources.ontology_iri(state) + "#"
        summary: dict[str, Any] = {"kind": None, "programme": None, "scope": None, "seat": None,
                                   "seat_name": None, "inhabitants": None, "leads": [], "statuses": [],
                                   "posts": [], "lat": None, "long": None, "map": None, "territory": None,
                                   "coverage": None, "history": None, "insee_code": None}
        elsewhere: list[Item] = []
        wikidata = [v.value for v in out.get(OWL + "sameAs", []) if is_iri(v)]
        insee = [v.value for v in out.get(cgo + "inseeCode", []) if is_literal(v)]
        seat_items: set[str] = set()
        if cgo + "LocalAuthority" in types:
            rows = fold(await select_rows(state, AUTHORITY_SUMMARY, resource=iri), labels)
            summary["kind"] = "authority"
            leads: list[dict[str, Any]] = []
            statuses: list[Item] = []
            for row in rows:
                if "person" in row and all(lead["person"].iri != row["person"].value for lead in leads):
                    titles = [r["title"] for r in rows if r.get("person") == row["person"] and "title" in r]
                    title = best_literal(titles, lang.code)
                    leads.append({"person": labels.item(row["person"]), "post": labels.item(row["post"]),
                                  "title": title.value if title is not None else None})
                if "status" in row and all(s.iri != row["status"].value for s in statuses):
                    statuses.append(labels.item(row["status"]))
                if "programme" in row:
                    summary["programme"] = labels.item(row["programme"])
                if "scope" in row:
                    summary["scope"] = labels.item(row["scope"])
                if "seat" in row:
                    summary["seat"] = labels.item(row["seat"])
                    summary["seat_name"] = labels.get(row["seat"].value)
                if "insee" in row and row["insee"].value not in insee:
                    insee.append(row["insee"].value)
                if "seat_wd" in row and row["seat_wd"].value not in wikidata:
                    wikidata.append(row["seat_wd"].value)
                    seat_items.add(row["seat_wd"].value)
                if "inhabitants" in row:
                    summary["inhabitants"] = format_count(as_int(row["inhabitants"]), lang.code)
            summary["leads"], summary["statuses"] = leads, statuses
            if out.get(WGS84 + "lat") and out.get(WGS84 + "long"):
                summary["lat"], summary["long"] = out[WGS84 + "lat"][0].value, out[WGS84 + "long"][0].value
            else:
                points = await select_rows(state, SEAT_POINT, resource=iri)
                if points:
                    summary["lat"], summary["long"] = points[0]["lat"].value, points[0]["long"].value
            if summary["lat"] is not None:
                summary["map"] = {"points": [{"name": labels.get(iri), "lat": float(summary["lat"]),
                                              "long": float(summary["long"]), "href": None,
                                              "lead": bool(leads)}],
                                  "zoom": 7, "labels": {key: t(lang.code, f"map.{key}") for key in MAP_LABELS}}
            summary["territory"], summary["history"] = await asyncio.gather(
                territory(state, lang, labels, iri, summary["programme"].iri if summary["programme"] else None,
                          cgo + "Commune" in types),
                history(state, lang, labels, iri))
        elif cgo + "Commune" in types:
            summary["kind"] = "commune"
            if out.get(WGS84 + "lat") and out.get(WGS84 + "long"):
                summary["lat"], summary["long"] = out[WGS84 + "lat"][0].value, out[WGS84 + "long"][0].value
            if summary["lat"] is not None:
                summary["map"] = {"points": [{"name": labels.get(iri), "lat": float(summary["lat"]),
                                              "long": float(summary["long"]), "href": None, "lead": False}],
                                  "zoom": 7, "labels": {key: t(lang.code, f"map.{key}") for key in MAP_LABELS}}
            changes = await history(state, lang, labels, iri)
            summary["history"] = changes if changes.changes else None
        elif FOAF + "Person" in types:
            rows = fold(await select_rows(state, PERSON_SUMMARY, resource=iri), labels)
            summary["kind"] = "person"
            posts: dict[str, dict[str, Any]] = {}
            for row in rows:
                post = posts.setdefault(row["post"].value, {"post": labels.item(row["post"]), "titles": [],
                                                            "authority": None})
                if "title" in row:
                    post["titles"].append(row["title"])
                if "authority" in row:
                    post["authority"] = labels.item(row["authority"])
            for post in posts.values():
                title = best_literal(post.pop("titles"), lang.code)
                post["title"] = title.value if title is not None else None
            summary["posts"] = list(posts.values())
        if cgo + "Commune" in types:
            summary["coverage"] = await coverage(state, lang, labels, iri)
            summary["insee_code"] = insee[0] if insee else None
        name = labels.get(iri)
        for code in insee:
            commune = summary.get("seat_name") or name
            text = f"{t(lang.code, 'page.insee')} {commune} ({code})"
            elsewhere.append(Item(text, insee_url(code, commune), external=True))
        for wd in wikidata:
            text = f"{t(lang.code, 'page.wikidata')} {wd.rsplit('/', 1)[-1]}"
            if wd in seat_items:
                text += f" ({summary.get('seat_name')})"
            elsewhere.append(Item(text, wd, wd, external=True))
        if JDN_SURVEY in [v.value for v in out.get(PROV + "wasDerivedFrom", []) if is_iri(v)]:
            elsewhere.append(Item(t(lang.code, "page.source"), JDN_SURVEY, JDN_SURVEY, external=True))
        return summary, elsewhere
