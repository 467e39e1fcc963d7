"""Resources as schema.org JSON-LD for search engines (in each resource page's head)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...namespaces import DCT, ETALAB_2_0, FOAF, JDN_SURVEY, OWL, PROV, SKOS, WGS84
from .. import resources
from ..state import ServerState
from .labels import best_literal, is_iri, is_literal


def schema_org(state: ServerState, iri: str, page_url: str, types: Sequence[str], name: str,
               out: Mapping[str, list[Any]], lang: str, summary: Mapping[str, Any]) -> dict[str, Any]:
    """The resource as schema.org JSON-LD for search engines (its IRI as @id, this page as url)."""
    cgo = resources.ontology_iri(state) + "#"

    def first(predicate: str) -> Any | None:
        values = out.get(predicate, [])
        literal = best_literal([v for v in values if is_literal(v)], lang)
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
    same_as = [v.value for v in out.get(OWL + "sameAs", []) if is_iri(v)]
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
    if JDN_SURVEY in [v.value for v in out.get(PROV + "wasDerivedFrom", []) if is_iri(v)]:
        data["isBasedOn"] = JDN_SURVEY
    data["license"] = ETALAB_2_0
    return data
