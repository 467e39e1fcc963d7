"""The ontology's page: every term of citygraph's ontology with its labels and definition."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from .. import resources
from ..cache import CachedResponse
from .i18n import Lang, t
from .labels import Labels, best_literal, curie
from .site import Site
from .sparql_texts import ONTOLOGY_TERMS, select_rows


class OntologyPage:
    def __init__(self, site: Site) -> None:
        self.site = site

    async def ontology(self, lang: Lang, request: Request) -> CachedResponse:
        state = self.site.state
        onto = await self.site.ontology_labels()
        rows = await select_rows(state, ONTOLOGY_TERMS.format(graph=state.ontology_graph))
        labels = Labels(state, lang, onto)
        terms: dict[str, dict[str, Any]] = {}
        base = resources.ontology_iri(state)
        for row in rows:
            term = row["term"].value
            entry = terms.setdefault(term, {"iri": term, "types": [], "labels": {}, "definitions": []})
            type_label = labels.get(row["type"].value)
            if type_label not in entry["types"]:
                entry["types"].append(type_label)
            if "label" in row:
                entry["labels"][row["label"].language or "fr"] = row["label"].value
            if "definition" in row and row["definition"] not in entry["definitions"]:
                entry["definitions"].append(row["definition"])
        listing = []
        header = None
        for term, entry in terms.items():
            definition = best_literal(entry["definitions"], lang.code)
            row = {"iri": term, "anchor": term[len(base) + 1:] if term.startswith(base + "#") else None,
                   "curie": curie(term, state), "types": ", ".join(sorted(entry["types"])),
                   "fr": entry["labels"].get("fr", ""), "en": entry["labels"].get("en", ""),
                   "definition": definition.value if definition is not None else ""}
            if term == base:
                header = row
            elif row["anchor"]:
                listing.append(row)
        listing.sort(key=lambda r: (r["types"], r["curie"].lower()))
        links = resources.ontology_links()
        title = t(lang.code, "ontology.title")
        context = self.site.context(request, lang, title, ontology=header, terms=listing, iri=base,
                               twins=[{"href": href, "media": media, "ext": href.rpartition(".")[2]}
                                      for href, media in links[1:]],
                               alternates=[{"href": href, "media_type": media} for href, media in links[1:]])
        return self.site.entry(self.site.render("ontology.html", context), links=links)
