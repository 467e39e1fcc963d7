"""Terms as things to show: a value's text and link, labels in the page's language, CURIEs."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ...namespaces import PREFIXES, WD
from .. import resources
from ..state import ServerState
from .i18n import NUMERIC, Lang, format_literal, messages


@dataclass
class Item:
    """A value on a page: text, and a link (local page, or outside) when it is an IRI."""

    text: str
    href: str | None = None
    iri: str | None = None
    lang: str | None = None
    external: bool = False
    numeric: bool = False


def slugify(text: str) -> str:
    """INSEE's URL slug of a commune name: lower case, accents dropped, other characters as '-'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def is_iri(term: Any) -> bool:
    import pyoxigraph

    return isinstance(term, pyoxigraph.NamedNode)


def is_literal(term: Any) -> bool:
    import pyoxigraph

    return isinstance(term, pyoxigraph.Literal)


def named(iri: str) -> Any:
    import pyoxigraph

    return pyoxigraph.NamedNode(iri)


def curie(iri: str, state: ServerState) -> str:
    prefixes = {**PREFIXES, "cgo": resources.ontology_iri(state) + "#"}
    if iri.startswith(resources.id_prefix(state)):
        return iri[len(resources.id_prefix(state)):]
    for prefix, namespace in prefixes.items():
        if iri.startswith(namespace) and iri[len(namespace):] and "/" not in iri[len(namespace):]:
            return f"{prefix}:{iri[len(namespace):]}"
    return iri


def best_literal(literals: Iterable[Any], lang: str) -> Any | None:
    """The literal in ``lang``, else French, else English, else untagged, else any."""
    found = list(literals)
    for wanted in (lang, "fr", "en", None):
        for literal in found:
            if (literal.language or None) == wanted:
                return literal
    return found[0] if found else None


class Labels:
    """Labels of IRIs gathered from query rows and the ontology graph, chosen in the page's language.

    Terms of reused vocabularies (rdf:type, foaf:name…) that the ontology graph does not label take their
    label from the message tables (``term.CURIE``).
    """

    def __init__(self, state: ServerState, lang: Lang, ontology: Mapping[str, Mapping[str, str]]) -> None:
        self.state, self.lang = state, lang
        self._found: dict[str, list[Any]] = {}
        self.ontology = ontology

    def add(self, iri: str, literal: Any) -> None:
        if is_literal(literal):
            self._found.setdefault(iri, []).append(literal)

    def known(self, iri: str) -> list[Any]:
        return self._found.get(iri, [])

    def get(self, iri: str) -> str:
        literal = best_literal(self._found.get(iri, ()), self.lang.code)
        if literal is not None:
            return str(literal.value)
        known = self.ontology.get(iri)
        if known:
            return known.get(self.lang.code) or known.get("fr") or next(iter(known.values()))
        short = curie(iri, self.state)
        term = messages(self.lang.code).get("term." + short)
        if term:
            return term
        if iri.startswith(WD):
            return "Wikidata " + iri[len(WD):]
        return short

    def foreign_lang(self, iri: str) -> str | None:
        """The language of the label shown for ``iri`` when it is not the page's (a French-only label)."""
        literal = best_literal(self._found.get(iri, ()), self.lang.code)
        if literal is None or not literal.language or literal.language == self.lang.code:
            return None
        return str(literal.language)

    def item(self, term: Any) -> Item:
        if is_iri(term):
            iri = term.value
            local = resources.local_href(self.state, iri)
            if local is not None:
                return Item(self.get(iri), self.lang.link(local), iri, lang=self.foreign_lang(iri))
            return Item(self.get(iri), iri, iri, external=True, lang=self.foreign_lang(iri))
        if is_literal(term):
            datatype = term.datatype.value if term.datatype is not None and not term.language else None
            text = format_literal(str(term.value), datatype, self.lang.code)
            return Item(text, lang=term.language or None, numeric=datatype in NUMERIC)
        return Item(str(term))
