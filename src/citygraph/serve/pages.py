"""Pages for people: home, one page per resource, the ontology, the named queries, the SPARQL editor, errors.

Jinja2 templates (autoescaped) in ``templates/``, one stylesheet and one script in ``static/``. French by
default; English with ``?lang=en`` (kept in the site's links) or ``Accept-Language``. Every page's data comes
from the query backend; finished pages are cached (the graph is immutable) with ETag and Last-Modified.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..errors import InputError
from ..namespaces import (
    DCT,
    ETALAB_2_0,
    FOAF,
    JDN_SURVEY,
    OWL,
    PREFIXES,
    PROV,
    RDF,
    RDFS,
    SCHEMA,
    SKOS,
    WD,
    WGS84,
)
from . import errors as http_errors
from . import resources
from .cache import CachedResponse
from .conneg import negotiate
from .errors import HttpProblem
from .state import ServerState

if TYPE_CHECKING:
    import jinja2

    from ..query import NamedQuery, QueryResult

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
STATIC_DIR = Path(__file__).resolve().parent / "static"
LANGS = ("fr", "en")
HTML_MEDIA = "text/html; charset=utf-8"
# Scripts only from this server (and, on the SPARQL page, YASGUI's CDN once the user asks for it).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
# The SPARQL page may load YASGUI from its CDN (on request), which sets inline styles.
CSP_SPARQL = CSP.replace("script-src 'self'", "script-src 'self' https://cdn.jsdelivr.net").replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net")
INSEE_COMMUNE = "https://www.insee.fr/fr/metadonnees/cog/commune/COM{code}-{slug}"
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".svg": "image/svg+xml"}

MESSAGES: dict[str, dict[str, str]] = {
    "fr": {
        "nav.home": "Accueil", "nav.queries": "Requêtes", "nav.sparql": "SPARQL", "nav.ontology": "Ontologie",
        "nav.dumps": "Téléchargements", "nav.catalog": "Catalogue", "nav.language": "Langue",
        "footer.source": "Source :", "footer.source_name": "Journal du Net, « Smart city : voici les villes "
        "intelligentes de France » (février 2017)", "footer.licence": "Licence :",
        "home.title": "Les villes intelligentes françaises en 2017",
        "home.intro": "citygraph publie en données liées l'enquête du Journal du Net de février 2017 sur "
        "les villes intelligentes françaises : 24 collectivités, leurs programmes, leurs responsables smart "
        "city (postes datés), quelques initiatives et les chiffres agrégés de l'enquête, chaque fait avec sa "
        "source.",
        "home.reuse": "Chaque page a ses jumeaux RDF (Turtle, JSON-LD) ; le graphe s'interroge en SPARQL et "
        "se télécharge en entier.",
        "home.counts": "Le graphe en chiffres", "count.authorities": "collectivités",
        "count.with_lead": "avec un responsable smart city", "count.initiatives": "initiatives nommées",
        "count.people": "personnes", "count.claims": "chiffres de l'enquête", "count.triples": "triplets",
        "chart.title": "Collectivités engagées, par thème — chiffres de l'enquête",
        "chart.caption": "Chiffres publiés par l'enquête du JDN (février 2017) sur 24 collectivités ; "
        "l'enquête ne nomme pas les collectivités concernées, ce sont donc des affirmations de l'enquête "
        "(cgo:SurveyClaim), non des comptes du graphe.",
        "chart.in_graph": "Initiatives nommées dans le graphe, par thème",
        "map.title": "Les 24 collectivités", "map.caption": "Chef-lieu de chaque collectivité (projection "
        "équirectangulaire, contour simplifié de la France métropolitaine).",
        "list.authority": "Collectivité", "list.kind": "Nature", "list.lead": "Responsable smart city",
        "list.none": "aucun", "theme": "Thème", "count": "Nombre",
        "page.properties": "Ce que dit le graphe", "page.inbound": "Ce qui y renvoie",
        "page.twins": "Aussi en", "page.elsewhere": "Ailleurs", "page.iri": "IRI :",
        "page.summary": "En bref", "page.lead": "Responsable smart city", "page.post": "Poste",
        "page.posts": "Postes occupés", "page.no_lead": "Pas de responsable nommé",
        "page.programme": "Programme", "page.seat": "Chef-lieu", "page.population": "Population",
        "page.insee": "Fiche INSEE de la commune", "page.wikidata": "Wikidata",
        "page.source": "Article source (JDN)", "page.authority": "Collectivité",
        "queries.title": "Requêtes nommées", "queries.intro": "Chaque requête répond à une question de "
        "l'enquête ; ses résultats existent en HTML, CSV et JSON (résultats SPARQL).",
        "queries.params": "Paramètres", "queries.run": "Exécuter", "queries.results": "Résultats",
        "queries.rows": "lignes", "queries.text": "Texte SPARQL", "queries.required": "obligatoire",
        "queries.none": "aucun",
        "queries.truncated": "Résultat tronqué : le serveur renvoie au plus {max_rows} lignes par requête.",
        "sparql.title": "Interroger le graphe en SPARQL", "sparql.intro": "Écrivez une requête SPARQL 1.1 "
        "(lecture seule) ; elle est envoyée au point d'accès /sparql.",
        "sparql.format": "Format des résultats",
        "sparql.submit": "Exécuter", "sparql.yasgui": "Ouvrir l'éditeur YASGUI (chargé depuis un CDN)",
        "sparql.endpoint": "Point d'accès SPARQL :",
        "ontology.title": "Ontologie citygraph", "ontology.term": "Terme", "ontology.type": "Type",
        "ontology.label_fr": "Libellé (fr)", "ontology.label_en": "Libellé (en)",
        "ontology.definition": "Définition",
        "dumps.title": "Téléchargements", "dumps.intro": "Le graphe entier, dans plusieurs formats, avec les "
        "sommes de contrôle et le catalogue DCAT.", "dumps.file": "Fichier", "dumps.size": "Taille",
        "dumps.none": "Aucun fichier n'est disponible sur ce serveur.",
        "error.back_home": "Retour à l'accueil",
    },
    "en": {
        "nav.home": "Home", "nav.queries": "Queries", "nav.sparql": "SPARQL", "nav.ontology": "Ontology",
        "nav.dumps": "Downloads", "nav.catalog": "Catalogue", "nav.language": "Language",
        "footer.source": "Source:", "footer.source_name": "Journal du Net, “Smart city: here are the smart "
        "cities of France” (February 2017)", "footer.licence": "Licence:",
        "home.title": "French smart cities in 2017",
        "home.intro": "citygraph publishes as linked data the Journal du Net survey of February 2017 on "
        "French smart cities: 24 local authorities, their programmes, their smart-city leads (dated posts), "
        "a few initiatives and the survey's aggregate figures, every fact with its source.",
        "home.reuse": "Every page has RDF twins (Turtle, JSON-LD); the graph can be queried with SPARQL and "
        "downloaded whole.",
        "home.counts": "The graph in figures", "count.authorities": "local authorities",
        "count.with_lead": "with a smart-city lead", "count.initiatives": "named initiatives",
        "count.people": "people", "count.claims": "survey figures", "count.triples": "triples",
        "chart.title": "Authorities engaged, by theme — the survey's figures",
        "chart.caption": "Figures published by the JDN survey (February 2017) over 24 authorities; the "
        "survey does not name the authorities concerned, so these are the survey's claims "
        "(cgo:SurveyClaim), not counts of the graph.",
        "chart.in_graph": "Initiatives named in the graph, by theme",
        "map.title": "The 24 authorities",
        "map.caption": "Seat of each authority (equirectangular projection, simplified outline of "
        "metropolitan France).",
        "list.authority": "Authority", "list.kind": "Kind", "list.lead": "Smart-city lead",
        "list.none": "none", "theme": "Theme", "count": "Count",
        "page.properties": "What the graph says", "page.inbound": "What points here",
        "page.twins": "Also as", "page.elsewhere": "Elsewhere", "page.iri": "IRI:",
        "page.summary": "In short", "page.lead": "Smart-city lead", "page.post": "Post",
        "page.posts": "Posts held", "page.no_lead": "No appointed lead",
        "page.programme": "Programme", "page.seat": "Seat", "page.population": "Population",
        "page.insee": "INSEE record of the commune", "page.wikidata": "Wikidata",
        "page.source": "Source article (JDN)", "page.authority": "Authority",
        "queries.title": "Named queries",
        "queries.intro": "Each query answers one of the survey's questions; its results come as HTML, CSV "
        "and JSON (SPARQL results).",
        "queries.params": "Parameters", "queries.run": "Run", "queries.results": "Results",
        "queries.rows": "rows", "queries.text": "SPARQL text", "queries.required": "required",
        "queries.none": "none",
        "queries.truncated": "Result cut short: the server returns at most {max_rows} rows per query.",
        "sparql.title": "Query the graph with SPARQL",
        "sparql.intro": "Write a SPARQL 1.1 query (read-only); it is sent to the /sparql endpoint.",
        "sparql.format": "Results format",
        "sparql.submit": "Run", "sparql.yasgui": "Open the YASGUI editor (loaded from a CDN)",
        "sparql.endpoint": "SPARQL endpoint:",
        "ontology.title": "citygraph ontology", "ontology.term": "Term", "ontology.type": "Type",
        "ontology.label_fr": "Label (fr)", "ontology.label_en": "Label (en)",
        "ontology.definition": "Definition",
        "dumps.title": "Downloads",
        "dumps.intro": "The whole graph, in several formats, with checksums and the DCAT catalogue.",
        "dumps.file": "File", "dumps.size": "Size",
        "dumps.none": "No file is available on this server.",
        "error.back_home": "Back to the home page",
    },
}

# Labels of the reused vocabularies' terms (the ontology graph labels only citygraph's own).
TERM_LABELS: dict[str, tuple[str, str]] = {
    RDF + "type": ("type", "type"),
    RDFS + "label": ("libellé", "label"),
    RDFS + "comment": ("commentaire", "comment"),
    OWL + "sameAs": ("identique à", "same as"),
    PROV + "wasDerivedFrom": ("source", "source"),
    "http://www.w3.org/ns/org#heldBy": ("occupé par", "held by"),
    "http://www.w3.org/ns/org#postIn": ("poste au sein de", "post in"),
    "http://www.w3.org/ns/org#role": ("rôle", "role"),
    "http://www.w3.org/ns/org#Post": ("poste", "post"),
    "http://www.w3.org/ns/org#Role": ("rôle", "role"),
    FOAF + "name": ("nom", "name"),
    FOAF + "Person": ("personne", "person"),
    WGS84 + "lat": ("latitude", "latitude"),
    WGS84 + "long": ("longitude", "longitude"),
    DCT + "description": ("description", "description"),
    DCT + "isPartOf": ("fait partie de", "part of"),
    DCT + "title": ("titre", "title"),
    DCT + "publisher": ("éditeur", "publisher"),
    DCT + "date": ("date", "date"),
    DCT + "modified": ("modifié le", "modified"),
    DCT + "language": ("langue", "language"),
    DCT + "bibliographicCitation": ("référence", "citation"),
    SCHEMA + "url": ("adresse", "URL"),
    SCHEMA + "NewsArticle": ("article de presse", "news article"),
    SKOS + "prefLabel": ("libellé préféré", "preferred label"),
    SKOS + "altLabel": ("autre libellé", "alternative label"),
    SKOS + "definition": ("définition", "definition"),
    SKOS + "note": ("note", "note"),
    SKOS + "inScheme": ("dans le schéma", "in scheme"),
    SKOS + "topConceptOf": ("concept de tête de", "top concept of"),
    SKOS + "hasTopConcept": ("concept de tête", "top concept"),
    SKOS + "Concept": ("concept", "concept"),
    SKOS + "ConceptScheme": ("schéma de concepts", "concept scheme"),
}
HIDDEN_PREDICATES = {RDF + "type", RDFS + "label", SKOS + "prefLabel"}

# A simplified outline of metropolitan France and Corsica (longitude, latitude), for the map's background.
FRANCE_OUTLINE: tuple[tuple[float, float], ...] = (
    (2.55, 51.09), (3.6, 50.5), (4.2, 49.95), (4.85, 50.15), (5.8, 49.55), (6.36, 49.47), (8.23, 48.97),
    (7.6, 47.6), (6.9, 47.4), (6.1, 46.4), (6.8, 46.0), (7.0, 45.2), (7.0, 44.2), (7.53, 43.78), (7.0, 43.55),
    (6.2, 43.1), (5.4, 43.2), (4.6, 43.4), (3.2, 43.1), (3.17, 42.44), (1.7, 42.5), (0.6, 42.7), (-1.0, 43.0),
    (-1.78, 43.37), (-1.25, 44.65), (-1.0, 45.6), (-2.2, 47.27), (-3.0, 47.5), (-4.37, 47.8), (-4.77, 48.36),
    (-3.9, 48.7), (-2.0, 48.65), (-1.55, 48.65), (-1.94, 49.7), (-1.1, 49.35), (0.1, 49.45), (1.4, 50.1),
    (1.85, 50.95),
)
CORSICA_OUTLINE: tuple[tuple[float, float], ...] = (
    (9.4, 43.0), (9.55, 42.1), (9.2, 41.37), (8.6, 41.9), (8.7, 42.6),
)
MAP_BOUNDS = (-5.3, 41.2, 9.7, 51.2)  # west, south, east, north


# ---------------------------------------------------------------- language and links


@dataclass(frozen=True)
class Lang:
    """The page's language and whether it was chosen explicitly with ``?lang=`` (then kept in links)."""

    code: str
    explicit: bool

    @property
    def query(self) -> str:
        return f"?lang={self.code}" if self.explicit else ""

    def link(self, href: str) -> str:
        if not self.explicit or not href.startswith("/"):
            return href
        path, hash_, fragment = href.partition("#")
        sep = "&" if "?" in path else "?"
        return f"{path}{sep}lang={self.code}{hash_}{fragment}"


def choose_language(request: Request) -> Lang:
    """``?lang=fr|en`` first, then ``Accept-Language`` (q-values), French by default."""
    asked = request.query_params.get("lang", "").lower()
    if asked in LANGS:
        return Lang(asked, True)
    header = request.headers.get("accept-language")
    if header:
        offered = [f"text/{code}" for code in LANGS]  # reuse the q-value parser: "fr-FR;q=0.8" → text/fr
        ranges = ",".join(_language_range(item) for item in header.split(","))
        best = negotiate(ranges, offered, default="text/fr")
        if best:
            return Lang(best.split("/")[1], False)
    return Lang("fr", False)


def _language_range(item: str) -> str:
    tag, _, params = item.strip().partition(";")
    primary = tag.strip().split("-")[0].lower() or "x"
    return f"text/{'*' if primary == '*' else primary}" + (f";{params}" if params else "")


def t(lang: str, key: str) -> str:
    return MESSAGES[lang].get(key) or MESSAGES["fr"][key]


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


def slugify(text: str) -> str:
    """INSEE's URL slug of a commune name: lower case, accents dropped, other characters as '-'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", plain).strip("-")


def insee_url(code: str, name: str) -> str:
    return INSEE_COMMUNE.format(code=code, slug=slugify(name))


# ---------------------------------------------------------------- terms as things to show


@dataclass
class Item:
    """A value on a page: text, and a link (local page, or outside) when it is an IRI."""

    text: str
    href: str | None = None
    iri: str | None = None
    lang: str | None = None
    external: bool = False


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


def _is_iri(term: Any) -> bool:
    import pyoxigraph

    return isinstance(term, pyoxigraph.NamedNode)


def _is_literal(term: Any) -> bool:
    import pyoxigraph

    return isinstance(term, pyoxigraph.Literal)


class Labels:
    """Labels of IRIs gathered from query rows and the ontology, chosen in the page's language."""

    def __init__(self, state: ServerState, lang: Lang, ontology: Mapping[str, Mapping[str, str]]) -> None:
        self.state, self.lang = state, lang
        self._found: dict[str, list[Any]] = {}
        self.ontology = ontology

    def add(self, iri: str, literal: Any) -> None:
        if _is_literal(literal):
            self._found.setdefault(iri, []).append(literal)

    def get(self, iri: str) -> str:
        literal = best_literal(self._found.get(iri, ()), self.lang.code)
        if literal is not None:
            return str(literal.value)
        known = self.ontology.get(iri)
        if known:
            return known.get(self.lang.code) or known.get("fr") or next(iter(known.values()))
        if iri in TERM_LABELS:
            fr, en = TERM_LABELS[iri]
            return en if self.lang.code == "en" else fr
        if iri.startswith(WD):
            return "Wikidata " + iri[len(WD):]
        return curie(iri, self.state)

    def item(self, term: Any) -> Item:
        if _is_iri(term):
            iri = term.value
            local = resources.local_href(self.state, iri)
            if local is not None:
                return Item(self.get(iri), self.lang.link(local), iri)
            return Item(self.get(iri), iri, iri, external=True)
        if _is_literal(term):
            return Item(str(term.value), lang=term.language or None)
        return Item(str(term))


async def ontology_labels(state: ServerState) -> dict[str, dict[str, str]]:
    """rdfs:label of every term of the ontology graph, by language (cached per server process)."""
    cached = _ONTOLOGY_LABELS.get(id(state))
    if cached is not None:
        return cached
    # Graph IRIs come from the configuration (never from a request), so they may be written into the text.
    query = f"SELECT ?term ?label WHERE {{ GRAPH <{state.ontology_graph}> {{ ?term <{RDFS}label> ?label }} }}"
    result = await state.backend.select(query)
    labels: dict[str, dict[str, str]] = {}
    rows: Sequence[Mapping[str, Any]] = result.rows
    for row in rows:
        term, label = row.get("term"), row.get("label")
        if term is not None and label is not None and _is_literal(label):
            labels.setdefault(term.value, {})[label.language or "fr"] = str(label.value)
    _ONTOLOGY_LABELS[id(state)] = labels
    return labels


_ONTOLOGY_LABELS: dict[int, dict[str, dict[str, str]]] = {}


# ---------------------------------------------------------------- SPARQL used by the pages


def prologue(state: ServerState) -> str:
    names = {"cgo": resources.ontology_iri(state) + "#", "org": PREFIXES["org"], "foaf": FOAF, "rdfs": RDFS,
             "geo": WGS84, "owl": OWL, "skos": SKOS, "rdf": RDF, "dct": DCT}
    return "".join(f"PREFIX {prefix}: <{iri}>\n" for prefix, iri in names.items())


DESCRIBE_ROWS = """
SELECT ?resource ?dir ?p ?v ?v_label WHERE {
  { ?resource ?p ?v . BIND("out" AS ?dir) OPTIONAL { ?v rdfs:label ?v_label } }
  UNION
  { ?v ?p ?resource . BIND("in" AS ?dir) OPTIONAL { ?v rdfs:label ?v_label } }
}"""

AUTHORITY_SUMMARY = """
SELECT ?resource ?programme ?programme_label ?scope ?scope_label ?person ?person_label ?post ?title
       ?status ?status_label ?seat ?seat_label ?insee ?seat_wd ?inhabitants WHERE {
  OPTIONAL { ?resource cgo:seat ?seat . OPTIONAL { ?seat rdfs:label ?seat_label }
             OPTIONAL { ?seat cgo:inseeCode ?insee } OPTIONAL { ?seat owl:sameAs ?seat_wd } }
  OPTIONAL { ?resource cgo:population/cgo:inhabitants ?inhabitants }
  OPTIONAL { ?programme cgo:runBy ?resource . OPTIONAL { ?programme rdfs:label ?programme_label }
    OPTIONAL { ?programme cgo:scope ?scope . OPTIONAL { ?scope rdfs:label ?scope_label } }
    OPTIONAL { ?programme cgo:leadership ?record .
      OPTIONAL { ?record cgo:leadPost ?post . ?post org:heldBy ?person .
                 OPTIONAL { ?person rdfs:label ?person_label } OPTIONAL { ?post cgo:postTitle ?title } }
      OPTIONAL { ?record cgo:leadStatus ?status . OPTIONAL { ?status rdfs:label ?status_label } } } }
}"""

PERSON_SUMMARY = """
SELECT ?resource ?post ?title ?authority ?authority_label WHERE {
  ?post org:heldBy ?resource . OPTIONAL { ?post cgo:postTitle ?title }
  OPTIONAL { ?post org:postIn ?authority . OPTIONAL { ?authority rdfs:label ?authority_label } }
}"""

HOME_AUTHORITIES = """
SELECT ?a ?a_label ?kind ?kind_label ?lat ?long ?lead ?lead_label ?status ?status_label WHERE {
  ?a a cgo:LocalAuthority . OPTIONAL { ?a rdfs:label ?a_label }
  OPTIONAL { ?a cgo:authorityKind ?kind . OPTIONAL { ?kind rdfs:label ?kind_label } }
  OPTIONAL { ?a cgo:seat ?seat . ?seat geo:lat ?lat ; geo:long ?long }
  OPTIONAL { ?programme cgo:runBy ?a ; cgo:leadership/cgo:leadPost/org:heldBy ?lead .
             OPTIONAL { ?lead rdfs:label ?lead_label } }
  OPTIONAL { ?statusProgramme cgo:runBy ?a ; cgo:leadership/cgo:leadStatus ?status .
             OPTIONAL { ?status rdfs:label ?status_label } }
}"""

HOME_THEME_CLAIMS = """
SELECT ?claim ?claim_label ?theme ?theme_label ?count ?total WHERE {
  ?claim a cgo:SurveyClaim ; cgo:theme ?theme ; cgo:claimedCount ?count .
  OPTIONAL { ?claim cgo:claimedTotal ?total } OPTIONAL { ?claim rdfs:label ?claim_label }
  OPTIONAL { ?theme rdfs:label ?theme_label }
}"""

HOME_INITIATIVES_BY_THEME = """
SELECT ?theme ?theme_label ?initiative WHERE {
  ?initiative a cgo:Initiative ; cgo:theme ?theme . OPTIONAL { ?theme rdfs:label ?theme_label }
}"""

HOME_COUNTS: dict[str, str] = {
    "authorities": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a cgo:LocalAuthority }",
    "with_lead": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?p cgo:runBy ?x ; "
                 "cgo:leadership/cgo:leadPost/org:heldBy ?person }",
    "initiatives": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a cgo:Initiative }",
    "people": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a foaf:Person }",
    "claims": "SELECT (COUNT(DISTINCT ?x) AS ?n) WHERE { ?x a cgo:SurveyClaim }",
}
TRIPLE_COUNT = "SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph}> {{ ?s ?p ?o }} }}"

ONTOLOGY_TERMS = """
SELECT ?term ?type ?label ?definition WHERE {{ GRAPH <{graph}> {{
  ?term a ?type . FILTER(isIRI(?term))
  OPTIONAL {{ ?term rdfs:label ?label }} OPTIONAL {{ ?term skos:definition ?definition }}
}} }}"""


async def select_rows(state: ServerState, query: str, **bindings: Any) -> list[dict[str, Any]]:
    import pyoxigraph

    bound = {name: pyoxigraph.NamedNode(value) if isinstance(value, str) else value
             for name, value in bindings.items()}
    result = await state.backend.select(prologue(state) + query, bindings=bound or None)
    return result.rows


def fold(rows: Sequence[Mapping[str, Any]], labels: Labels) -> list[dict[str, Any]]:
    """Rows with their ``X_label`` columns moved into ``labels``; rows differing only by label merged."""
    seen: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for row in rows:
        for name, value in row.items():
            if name.endswith("_label") and name[:-6] in row:
                labels.add(row[name[:-6]].value, value)
        plain = {name: value for name, value in row.items() if not name.endswith("_label")}
        key = tuple(sorted((name, str(value)) for name, value in plain.items()))
        seen.setdefault(key, plain)
    return list(seen.values())


# ---------------------------------------------------------------- page models


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
        tagged = [v for v in values if _is_literal(v) and v.language]
        if tagged:
            in_lang = [v for v in tagged if v.language == lang] or [best_literal(tagged, lang)]
            values = [v for v in values if not (_is_literal(v) and v.language)] + in_lang
        items = sorted((labels.item(v) for v in values), key=lambda item: item.text.lower())
        properties.append(Property(labels.item(_named(predicate)), items))
    properties.sort(key=lambda prop: prop.predicate.text.lower())
    return properties


def _named(iri: str) -> Any:
    import pyoxigraph

    return pyoxigraph.NamedNode(iri)


def schema_org(state: ServerState, iri: str, page_url: str, types: Sequence[str], name: str,
               out: Mapping[str, list[Any]], lang: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as schema.org JSON-LD for search engines (its IRI as @id, this page as url)."""
    cgo = resources.ontology_iri(state) + "#"

    def first(predicate: str) -> Any | None:
        values = out.get(predicate, [])
        literal = best_literal([v for v in values if _is_literal(v)], lang)
        return literal.value if literal is not None else None

    kind = "Thing"
    if cgo + "LocalAuthority" in types:
        kind = "GovernmentOrganization"
    elif FOAF + "Person" in types:
        kind = "Person"
    elif cgo + "Commune" in types:
        kind = "City"
    elif cgo + "Initiative" in types or cgo + "SmartCityProgramme" in types:
        kind = "Project"
    elif cgo + "SurveyClaim" in types:
        kind = "Claim"
    elif SKOS + "Concept" in types:
        kind = "DefinedTerm"
    data: dict[str, Any] = {"@context": "https://schema.org", "@type": kind, "@id": iri, "url": page_url,
                            "name": name, "inLanguage": lang}
    description = first(DCT + "description") or first(SKOS + "definition")
    if description:
        data["description"] = description
    same_as = [v.value for v in out.get(OWL + "sameAs", []) if _is_iri(v)]
    if same_as:
        data["sameAs"] = same_as
    if kind == "GovernmentOrganization":
        siren = first(cgo + "siren")
        if siren:
            data["identifier"] = {"@type": "PropertyValue", "propertyID": "SIREN", "value": siren}
        if summary.get("lat") is not None:
            data["location"] = {"@type": "Place", "name": summary.get("seat_name") or name,
                                "geo": {"@type": "GeoCoordinates", "latitude": summary["lat"],
                                        "longitude": summary["long"]}}
    if kind == "City" and first(WGS84 + "lat") is not None:
        data["geo"] = {"@type": "GeoCoordinates", "latitude": first(WGS84 + "lat"),
                       "longitude": first(WGS84 + "long")}
    if kind == "Person" and summary.get("posts"):
        post = summary["posts"][0]
        if post.get("title"):
            data["jobTitle"] = post["title"]
        if post.get("authority"):
            data["worksFor"] = {"@type": "GovernmentOrganization", "@id": post["authority"].iri,
                                "name": post["authority"].text}
    if kind == "Claim":
        data["author"] = {"@type": "Organization", "name": "Journal du Net"}
    if JDN_SURVEY in [v.value for v in out.get(PROV + "wasDerivedFrom", []) if _is_iri(v)]:
        data["isBasedOn"] = JDN_SURVEY
    data["license"] = ETALAB_2_0
    return data


@dataclass
class AuthorityRow:
    """An authority on the home page: its link, kind, leads (or lead statuses) and position on the map."""

    item: Item
    kind: Item | None
    leads: list[Item]
    x: float | None
    y: float | None
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


def authority_listing(rows: Iterable[Mapping[str, Any]], labels: Labels, width: float,
                      height: float) -> list[AuthorityRow]:
    """One entry per authority (rows repeat per lead), placed on a width × height map, sorted by name."""
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
            points[iri] = project(float(row["long"].value), float(row["lat"].value), width, height)
        if "lead" in row and row["lead"].value not in leads[iri]:
            leads[iri].append(row["lead"].value)
    listing = []
    for iri, kind in kinds.items():
        point = points[iri]
        listing.append(AuthorityRow(
            labels.item(_named(iri)), labels.item(_named(kind)) if kind else None,
            [labels.item(_named(lead)) for lead in leads[iri]],
            round(point[0], 1) if point else None, round(point[1], 1) if point else None,
            [labels.item(_named(status)) for status in statuses[iri]]))
    listing.sort(key=lambda a: slugify(a.item.text))
    return listing


# ---------------------------------------------------------------- the map and the chart


def project(lon: float, lat: float, width: float, height: float) -> tuple[float, float]:
    """Equirectangular projection of the map's bounds onto a width × height box (x scaled by cos 46.5°)."""
    west, south, east, north = MAP_BOUNDS
    return ((lon - west) / (east - west) * width, (north - lat) / (north - south) * height)


def map_size(width: float = 420.0) -> tuple[float, float]:
    west, south, east, north = MAP_BOUNDS
    ratio = (north - south) / ((east - west) * math.cos(math.radians((north + south) / 2)))
    return width, round(width * ratio, 1)


def outline_path(points: Sequence[tuple[float, float]], width: float, height: float) -> str:
    coords = [project(lon, lat, width, height) for lon, lat in points]
    return "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + " Z"


# ---------------------------------------------------------------- rendering


class Site:
    """Renders pages for one server state and answers them through the response cache."""

    def __init__(self, state: ServerState) -> None:
        self.state = state

    def context(self, request: Request, lang: Lang, title: str, **extra: Any) -> dict[str, Any]:
        def switch_href(code: str) -> str:
            params = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
            params.append(("lang", code))
            return request.url.path + "?" + urlencode(params)

        return {"lang": lang.code, "lang_query": lang.query, "link": lang.link, "switch_href": switch_href,
                "t": lambda key: t(lang.code, key), "title": title, "alternates": [], "jsonld": None,
                "source_url": JDN_SURVEY, "licence_url": ETALAB_2_0, **extra}

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

    async def page(self, request: Request, produce: Any) -> Response:
        lang = choose_language(request)

        async def make() -> CachedResponse:
            result: CachedResponse = await produce(lang)
            return result

        key = resources.cache_key(request, "html", lang.code)
        return await resources.respond(request, self.state, key, make)

    # ------------------------------------------------------------ error page

    def error_page(self, request: Request, problem: HttpProblem) -> Response:
        lang = choose_language(request)
        context = self.context(request, lang, problem.title, status=problem.status, message=problem.detail)
        headers = {"Content-Security-Policy": CSP, **problem.headers}
        return Response(self.render("error.html", context), status_code=problem.status, media_type=HTML_MEDIA,
                        headers=headers)

    # ------------------------------------------------------------ home

    async def home(self, lang: Lang, request: Request) -> CachedResponse:
        state = self.state
        onto = await ontology_labels(state)
        labels = Labels(state, lang, onto)
        count_queries = [select_rows(state, query) for query in HOME_COUNTS.values()]
        gathered = await asyncio.gather(
            select_rows(state, HOME_AUTHORITIES), select_rows(state, HOME_THEME_CLAIMS),
            select_rows(state, HOME_INITIATIVES_BY_THEME),
            select_rows(state, TRIPLE_COUNT.format(graph=state.data_graph)),
            *count_queries)
        authority_rows, claim_rows, initiative_rows, triple_rows = gathered[:4]
        counts = {name: _int(rows[0].get("n")) if rows else 0
                  for name, rows in zip(HOME_COUNTS, gathered[4:], strict=True)}
        counts["triples"] = _int(triple_rows[0].get("n")) if triple_rows else 0

        width, height = map_size()
        listing = authority_listing(fold(authority_rows, labels), labels, width, height)
        claims = sorted((ThemeClaim(labels.item(row["claim"]), labels.item(row["theme"]), _int(row["count"]),
                                    _int(row.get("total")) or None) for row in fold(claim_rows, labels)),
                        key=lambda c: (-c.count, c.theme.text))
        chart_max = max([c.total or c.count for c in claims] + [1])
        by_theme: dict[str, set[str]] = {}
        for row in fold(initiative_rows, labels):
            by_theme.setdefault(row["theme"].value, set()).add(row["initiative"].value)
        initiatives = sorted((ThemeCount(labels.item(_named(theme)), len(found))
                              for theme, found in by_theme.items()), key=lambda x: (-x.count, x.theme.text))

        title = t(lang.code, "home.title")
        page_url = self.public_url(request)
        dataset = {"@context": "https://schema.org", "@type": "Dataset", "@id": state.base,
                   "url": page_url, "name": "citygraph — " + title, "description": t(lang.code, "home.intro"),
                   "inLanguage": lang.code, "license": ETALAB_2_0, "isBasedOn": JDN_SURVEY,
                   "creator": {"@type": "Organization", "name": "citygraph contributors"},
                   "spatialCoverage": {"@type": "Place", "name": "France"}, "temporalCoverage": "2017-02",
                   "distribution": [{"@type": "DataDownload", "encodingFormat": "text/turtle",
                                     "contentUrl": page_url.rstrip("/") + "/dumps/"}]}
        context = self.context(
            request, lang, title, counts=counts, authorities=listing, claims=claims, chart_max=chart_max,
            initiatives=initiatives, map_width=width, map_height=height,
            france_path=outline_path(FRANCE_OUTLINE, width, height),
            corsica_path=outline_path(CORSICA_OUTLINE, width, height), jsonld=dataset)
        return self.entry(self.render("home.html", context))

    # ------------------------------------------------------------ a resource

    async def resource(self, lang: Lang, request: Request, path: str) -> CachedResponse:
        state = self.state
        iri = resources.resource_iri(state, path)
        onto, rows = await asyncio.gather(ontology_labels(state),
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
        types = [v.value for v in out.get(RDF + "type", []) if _is_iri(v)]
        properties = group_values(((p, v) for p, vs in out.items() if p not in HIDDEN_PREDICATES for v in vs),
                                  labels, lang.code)
        inbound_props = group_values(inbound, labels, lang.code)
        summary, elsewhere = await self.summary(lang, iri, types, out, labels)
        page_url = self.public_url(request)
        links = resources.alternates(path)
        twins = [{"href": lang.link(href) if media == resources.HTML else href, "media": media,
                  "ext": href.rpartition(".")[2]} for href, media in links[1:]]
        jsonld = schema_org(state, iri, page_url, types, name, out, lang.code, summary)
        context = self.context(
            request, lang, name, iri=iri, types=[labels.item(_named(ty)) for ty in types],
            properties=properties,
            inbound=inbound_props, summary=summary, elsewhere=elsewhere, twins=twins, jsonld=jsonld,
            alternates=[{"href": href, "media_type": media} for href, media in links[1:]])
        return self.entry(self.render("resource.html", context), links=links)

    async def summary(self, lang: Lang, iri: str, types: Sequence[str], out: Mapping[str, list[Any]],
                      labels: Labels) -> tuple[dict[str, Any], list[Item]]:
        """Facts two hops away for authorities (lead, seat) and people (posts), and links to other sites."""
        state = self.state
        cgo = resources.ontology_iri(state) + "#"
        summary: dict[str, Any] = {"kind": None, "programme": None, "scope": None, "seat": None,
                                   "seat_name": None, "inhabitants": None, "leads": [], "statuses": [],
                                   "posts": [], "lat": None, "long": None}
        elsewhere: list[Item] = []
        wikidata = [v.value for v in out.get(OWL + "sameAs", []) if _is_iri(v)]
        insee = [v.value for v in out.get(cgo + "inseeCode", []) if _is_literal(v)]
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
                    summary["inhabitants"] = format_count(_int(row["inhabitants"]), lang.code)
            summary["leads"], summary["statuses"] = leads, statuses
            seat_coordinates = out.get(WGS84 + "lat") and out.get(WGS84 + "long")
            if seat_coordinates:
                summary["lat"], summary["long"] = out[WGS84 + "lat"][0].value, out[WGS84 + "long"][0].value
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
        if JDN_SURVEY in [v.value for v in out.get(PROV + "wasDerivedFrom", []) if _is_iri(v)]:
            elsewhere.append(Item(t(lang.code, "page.source"), JDN_SURVEY, JDN_SURVEY, external=True))
        return summary, elsewhere

    # ------------------------------------------------------------ the ontology

    async def ontology(self, lang: Lang, request: Request) -> CachedResponse:
        state = self.state
        onto = await ontology_labels(state)
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
        context = self.context(request, lang, title, ontology=header, terms=listing, iri=base,
                               twins=[{"href": href, "media": media, "ext": href.rpartition(".")[2]}
                                      for href, media in links[1:]],
                               alternates=[{"href": href, "media_type": media} for href, media in links[1:]])
        return self.entry(self.render("ontology.html", context), links=links)

    # ------------------------------------------------------------ named queries

    async def queries(self, lang: Lang, request: Request) -> CachedResponse:
        from ..query import list_queries

        context = self.context(request, lang, t(lang.code, "queries.title"), queries=list_queries())
        return self.entry(self.render("queries.html", context))

    async def named_query(self, lang: Lang, request: Request, named: NamedQuery,
                          values: Mapping[str, str]) -> CachedResponse:
        ready = all(p.name in values or not p.required for p in named.parameters)
        result = await run_named(self.state, named, values) if ready else None
        rows: list[list[Item]] = []
        if result is not None:
            labels = Labels(self.state, lang, await ontology_labels(self.state))
            for row in result.rows:
                rows.append([labels.item(term) if term is not None else Item("") for term in row])
        params = [{"name": p.name, "value": values.get(p.name, p.default or ""), "required": p.required,
                   "description": p.description, "choices": p.choices, "datatype": p.datatype,
                   "bounds": p.bounds}
                  for p in named.parameters]
        given = [(name, value) for name, value in values.items()]
        suffix = ("?" + urlencode(given)) if given else ""
        formats = [{"href": f"/queries/{named.name}.{ext}{suffix}", "ext": ext, "media": media}
                   for ext, media in (("csv", "text/csv"), ("json", "application/sparql-results+json"))]
        context = self.context(request, lang, named.title, query=named, params=params, result=result,
                               max_rows=self.state.config.max_rows,
                               rows=rows, formats=formats,
                               alternates=[{"href": f["href"], "media_type": f["media"]} for f in formats])
        return self.entry(self.render("query.html", context))

    async def sparql_page(self, lang: Lang, request: Request) -> CachedResponse:
        example = (f"PREFIX cgo: <{resources.ontology_iri(self.state)}#>\n"
                   f"PREFIX rdfs: <{RDFS}>\n\n"
                   "SELECT ?authority ?name WHERE {\n  ?authority a cgo:LocalAuthority ; rdfs:label ?name .\n"
                   f"  FILTER(lang(?name) = \"{lang.code}\")\n}}\nORDER BY ?name")
        context = self.context(request, lang, t(lang.code, "sparql.title"), example=example,
                               endpoint=self.state.sparql_path)
        return self.entry(self.render("sparql.html", context), csp=CSP_SPARQL)


def format_count(number: int, lang: str) -> str:
    """A whole number with the language's thousands separator (narrow no-break space in French)."""
    return f"{number:,}".replace(",", "\u202f" if lang == "fr" else ",")


def _int(term: Any) -> int:
    if term is None:
        return 0
    try:
        return int(float(term.value))
    except (TypeError, ValueError):
        return 0


async def run_named(state: ServerState, named: NamedQuery, values: Mapping[str, str]) -> QueryResult:
    """Run a named query through the backend on the data graph, with its parameters bound (never pasted)."""
    from ..query import QueryResult

    try:
        bindings = named.bind(dict(values), base=state.base)
    except InputError as exc:
        raise HttpProblem(400, str(exc), title="Bad Request: invalid parameter") from None
    result = await state.backend.select(named.sparql(state.base), default_graphs=[state.data_graph],
                                        bindings=bindings)  # type: ignore[arg-type]  # never a quoted triple
    rows = [tuple(row.get(v) for v in result.variables) for row in result.rows]
    return QueryResult(list(result.variables), rows, base=state.base, truncated=result.truncated)


def named_query_or_404(name: str) -> NamedQuery:
    from ..query import get_query

    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise HttpProblem(404, f"no named query {name!r}")
    try:
        return get_query(name)
    except InputError:
        raise HttpProblem(404, f"no named query {name!r} (see /queries)") from None


# ---------------------------------------------------------------- routes


def routes(state: ServerState) -> list[BaseRoute]:
    site = Site(state)
    http_errors.register_html_renderer(site.error_page)

    async def home(request: Request) -> Response:
        return await site.page(request, lambda lang: site.home(lang, request))

    async def page(request: Request) -> Response:
        path = resources.local_path(request, "/page/", state)
        return await site.page(request, lambda lang: site.resource(lang, request, path))

    async def ontology(request: Request) -> Response:
        choice = resources.negotiate_rdf(request.headers.get("accept"), html=True)
        if choice is None:
            raise resources.not_acceptable("text/html, text/turtle, application/ld+json, …")
        if choice != resources.HTML:
            return await resources.ontology_response(request, state, choice)
        response = await site.page(request, lambda lang: site.ontology(lang, request))
        response.headers["Vary"] = "Accept, Accept-Language"
        return response

    async def queries(request: Request) -> Response:
        return await site.page(request, lambda lang: site.queries(lang, request))

    async def named_query(request: Request) -> Response:
        raw = request.path_params["name"]
        stem, dot, ext = raw.rpartition(".")
        name, ext = (stem, ext) if dot and ext in ("csv", "json", "html") else (raw, "html")
        named = named_query_or_404(name)
        values = {k: v for k, v in request.query_params.items() if k != "lang"}
        if ext == "html":
            return await site.page(request, lambda lang: site.named_query(lang, request, named, values))

        async def produce() -> CachedResponse:
            from .sparql import TRUNCATED_HEADER

            result = await run_named(state, named, values)
            headers = {"Access-Control-Allow-Origin": "*", "Access-Control-Expose-Headers": TRUNCATED_HEADER}
            if result.truncated:
                headers[TRUNCATED_HEADER] = f"max-rows={state.config.max_rows}"
            if ext == "csv":
                return state.cache.make(result.to_csv().encode("utf-8"), "text/csv; charset=utf-8", headers)
            return state.cache.make(result.to_json().encode("utf-8"), "application/sparql-results+json", headers)

        return await resources.respond(request, state, resources.cache_key(request, ext), produce)

    async def sparql_page(request: Request) -> Response:
        return await site.page(request, lambda lang: site.sparql_page(lang, request))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        path = STATIC_DIR / name
        if ("/" in name or name.startswith(".") or len(name) > 100 or path.suffix not in STATIC_TYPES
                or not path.is_file()):
            raise HttpProblem(404, f"no static file {name!r}")

        async def produce() -> CachedResponse:
            return state.cache.make(path.read_bytes(), STATIC_TYPES[path.suffix],
                                    {"Cache-Control": "public, max-age=3600"})

        return await resources.respond(request, state, resources.cache_key(request), produce)

    return [
        Route("/", home, methods=["GET", "HEAD"]),
        Route("/page/{path:path}", page, methods=["GET", "HEAD"]),
        Route("/ontology", ontology, methods=["GET", "HEAD"]),
        Route("/queries", queries, methods=["GET", "HEAD"]),
        Route("/queries/{name}", named_query, methods=["GET", "HEAD"]),
        Route("/query", sparql_page, methods=["GET", "HEAD"]),
        Route("/static/{name}", static, methods=["GET", "HEAD"]),
    ]
