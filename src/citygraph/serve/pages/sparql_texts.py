"""The SPARQL the pages run (always through the server's backend), and how their rows are folded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...namespaces import DCT, FOAF, OWL, PREFIXES, PROV, RDF, RDFS, SKOS, WGS84, XSD
from .. import resources
from ..state import ServerState
from .labels import Labels


def prologue(state: ServerState) -> str:
    names = {"cgo": resources.ontology_iri(state) + "#", "org": PREFIXES["org"], "foaf": FOAF, "rdfs": RDFS,
             "geo": WGS84, "owl": OWL, "skos": SKOS, "rdf": RDF, "dct": DCT, "prov": PROV, "xsd": XSD}
    # Relative IRIs (<scope/commune>) are the data's: under the configured id base, never a request's.
    base = f"BASE <{resources.id_prefix(state)}>\n"
    return base + "".join(f"PREFIX {prefix}: <{iri}>\n" for prefix, iri in names.items())


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

SEAT_POINT = """
SELECT ?resource ?lat ?long WHERE { ?resource cgo:seat ?seat . ?seat geo:lat ?lat ; geo:long ?long }"""

PERSON_SUMMARY = """
SELECT ?resource ?post ?title ?authority ?authority_label WHERE {
  ?post org:heldBy ?resource . OPTIONAL { ?post cgo:postTitle ?title }
  OPTIONAL { ?post org:postIn ?authority . OPTIONAL { ?authority rdfs:label ?authority_label } }
}"""

# An authority's member communes (its membership records), their 2014 municipal population in force on
# 1 January 2017, and the records' date and sources.
MEMBERS = """
SELECT ?resource ?commune ?commune_label ?insee ?inhabitants ?asOf ?source ?source_label WHERE {
  ?membership cgo:memberOf ?resource ; cgo:memberCommune ?commune .
  OPTIONAL { ?membership cgo:asOf ?asOf }
  OPTIONAL { ?membership prov:wasDerivedFrom ?source . OPTIONAL { ?source rdfs:label ?source_label } }
  OPTIONAL { ?commune rdfs:label ?commune_label }
  OPTIONAL { ?commune cgo:inseeCode ?insee }
  OPTIONAL { ?commune cgo:population ?figure . ?figure cgo:inForceOn "2017-01-01"^^xsd:date ;
             cgo:inhabitants ?inhabitants }
}"""

# The programmes covering a commune: its intercommunality's (by a membership record) and its own.
COVERAGE = """
SELECT ?resource ?programme ?programme_label ?authority ?authority_label ?membership ?asOf WHERE {
  { ?membership cgo:memberCommune ?resource ; cgo:memberOf ?authority .
    ?programme cgo:runBy ?authority . OPTIONAL { ?membership cgo:asOf ?asOf } }
  UNION
  { ?programme cgo:runBy ?resource ; cgo:scope <scope/commune> . BIND(?resource AS ?authority) }
  OPTIONAL { ?programme rdfs:label ?programme_label }
  OPTIONAL { ?authority rdfs:label ?authority_label }
}"""

# What a resource became: its dated (or undated) change records, with what each says and its sources.
CHANGES = """
SELECT ?resource ?change ?date ?newName ?newKind ?newKind_label ?newSiren ?merger ?note ?source ?source_label
WHERE {
  ?change cgo:changeOf ?resource .
  OPTIONAL { ?change cgo:effectiveDate ?date }
  OPTIONAL { ?change cgo:newName ?newName }
  OPTIONAL { ?change cgo:newKind ?newKind . OPTIONAL { ?newKind skos:prefLabel ?newKind_label } }
  OPTIONAL { ?change cgo:newSiren ?newSiren }
  OPTIONAL { ?change cgo:changeKind <change-kind/merger> . BIND(true AS ?merger) }
  OPTIONAL { ?change skos:note ?note }
  OPTIONAL { ?change prov:wasDerivedFrom ?source . OPTIONAL { ?source rdfs:label ?source_label } }
}"""

# What an authority was in February 2017 (the survey's date): its legal kind and SIREN.
KIND_2017 = """
SELECT ?resource ?kind ?kind_label ?siren WHERE {
  OPTIONAL { ?resource cgo:authorityKind ?kind . OPTIONAL { ?kind skos:prefLabel ?kind_label } }
  OPTIONAL { ?resource cgo:siren ?siren }
}"""

# The population figure the population-reached query divides by, named in every language.
DENOMINATOR_LABELS = """
SELECT ?n ?label WHERE { <area/france> cgo:population ?figure . ?figure cgo:inhabitants ?n ; rdfs:label ?label }"""

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

ONTOLOGY_LABELS = "SELECT ?term ?label WHERE {{ GRAPH <{graph}> {{ ?term <" + RDFS + "label> ?label }} }}"

# Labels of the IRIs a named query returned (rdfs:label, or skos:prefLabel for concepts).
LABELS_OF = """
SELECT ?s ?label WHERE {{ VALUES ?s {{ {iris} }} {{ ?s rdfs:label ?label }} UNION {{ ?s skos:prefLabel ?label }} }}"""

# The resources under one path of the data's IRIs (``id:PATH/`` parameters), with their labels.
UNDER_PATH = """
SELECT DISTINCT ?s ?label WHERE {{
  {{ ?s rdfs:label ?label }} UNION {{ ?s skos:prefLabel ?label }}
  FILTER(STRSTARTS(STR(?s), {prefix}))
}}"""


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
