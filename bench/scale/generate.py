"""Generate a citygraph dataset of about N triples that conforms to the shapes (or with planted violations).

Authorities are the real French communes and intercommunalities of the npm package
@etalab/decoupage-administratif (``npm install`` in bench/scale/), or synthetic ones when it is not installed;
programmes, leadership records, posts, people and initiatives are synthetic. The bundled SKOS schemes and
sources are included, so the output is
validated on its own (``citygraph validate --engine sparql OUT.ttl``).

    python bench/scale/generate.py --triples 1000000 --out bench/out/graph-1m.nt [--violations 50] [--seed 1]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGE_DATA = HERE / "node_modules" / "@etalab" / "decoupage-administratif" / "data"
REPO = HERE.parents[1]
ID = "https://w3id.org/citygraph/id/"
CGO = "https://w3id.org/citygraph/ontology#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
DERIVED = "<http://www.w3.org/ns/prov#wasDerivedFrom>"
XSD = "http://www.w3.org/2001/XMLSchema#"
ORG = "http://www.w3.org/ns/org#"
FOAF = "http://xmlns.com/foaf/0.1/"
GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"
SOURCE = f"<{ID}source/reference-authorities-2017>"
KINDS = {
    "commune": "commune",
    "CA": "communaute-d-agglomeration",
    "CU": "communaute-urbaine",
    "METRO": "metropole",
    "MET69": "metropole-de-lyon",
    "EPT": "etablissement-public-territorial",
}
THEMES = [
    "open-data",
    "participatory-platform",
    "smart-grid",
    "public-wifi",
    "smart-street-lighting",
    "smart-parking",
    "smart-waste-collection",
    "connected-public-space-management",
]
PLANTS = (
    "siren-pattern",
    "missing-label",
    "lat-range",
    "seat-not-commune",
    "lead-both",
    "two-names",
    "theme-not-in-scheme",
    "insee-duplicate",
    "inhabitants-negative",
    "post-no-holder",
)


def iri(path: str) -> str:
    return f"<{ID}{path}>"


def cgo(name: str) -> str:
    return f"<{CGO}{name}>"


def lit(text: str, lang: str | None = None, datatype: str | None = None) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    if lang:
        return f'"{escaped}"@{lang}'
    return f'"{escaped}"^^<{XSD}{datatype}>' if datatype else f'"{escaped}"'


def authorities(rng: random.Random) -> Iterator[dict[str, object]]:
    """Real communes and intercommunalities (kinds the shapes allow) when the npm package is there."""
    communes_file = PACKAGE_DATA / "communes.json"
    if communes_file.is_file():
        communes = [
            c
            for c in json.loads(communes_file.read_text())
            if c["type"] == "commune-actuelle" and c.get("siren") and c.get("population")
        ]
        groups = [e for e in json.loads((PACKAGE_DATA / "epci.json").read_text()) if e["type"] in KINDS]
        groups += [dict(e, type="EPT") for e in json.loads((PACKAGE_DATA / "ept.json").read_text())]
        by_code = {c["code"]: c for c in communes}
        seat_codes: set[str] = set()  # seats of intercommunalities: described once, as plain communes
        for group in groups:  # intercommunalities first: their seat is their largest member
            members = [by_code[m["code"]] for m in group.get("membres", []) if m.get("code") in by_code]
            if not members:
                continue
            seat = max(members, key=lambda c: c["population"])
            seat_codes.add(seat["code"])
            yield {
                "slug": f"epci-{group['code']}",
                "name": group["nom"],
                "kind": group["type"],
                "siren": group["code"],
                "population": group.get("populationMunicipale") or seat["population"],
                "seat": seat,
            }
        for c in communes:
            if c["code"] in seat_codes:  # one resource per INSEE code (the shapes' uniqueness rule)
                continue
            yield {
                "slug": f"commune-{c['code']}",
                "name": c["nom"],
                "kind": "commune",
                "siren": c["siren"],
                "population": c["population"],
                "seat": c,
            }
        return
    for n in range(1, 10**6):  # synthetic fallback: codes that keep the shapes' patterns
        code = f"{n % 95 + 1:02d}{n // 95:03d}"
        commune = {"code": code, "nom": f"Commune {code}", "population": rng.randint(50, 200_000)}
        yield {
            "slug": f"commune-{code}",
            "name": commune["nom"],
            "kind": "commune",
            "siren": f"2{n:08d}",
            "population": commune["population"],
            "seat": commune,
        }


def generate(triples: int, out: Path, *, violations: int = 0, seed: int = 1) -> dict[str, object]:
    """Write about ``triples`` triples as N-Triples; return counts and the planted violations."""
    rng = random.Random(seed)
    lines: list[str] = []
    written = 0
    seats: dict[str, str] = {}

    def emit(s: str, p: str, o: str) -> None:
        lines.append(f"{s} {p} {o} .\n")

    with out.open("w", encoding="utf-8") as sink:
        for path in (REPO / "data" / "schemes.ttl", REPO / "data" / "sources.ttl"):
            import pyoxigraph

            payload = pyoxigraph.serialize(
                (q.triple for q in pyoxigraph.parse(path=str(path))), format=pyoxigraph.RdfFormat.N_TRIPLES
            )
            sink.write((payload or b"").decode("utf-8"))
            written += (payload or b"").count(b"\n")
        authority_budget = int(triples * 0.7)
        authority_iris: list[tuple[str, str]] = []
        for a in authorities(rng):
            if written + len(lines) >= authority_budget:
                break
            slug, name = str(a["slug"]), str(a["name"])
            seat = a["seat"]
            assert isinstance(seat, dict)
            is_commune = a["kind"] == "commune"
            subject = iri(f"authority/{slug}")
            emit(subject, RDF_TYPE, cgo("LocalAuthority"))
            emit(subject, LABEL, lit(name, "fr"))
            emit(subject, LABEL, lit(name, "en"))
            emit(subject, cgo("authorityKind"), iri(f"kind/{KINDS[str(a['kind'])]}"))
            emit(subject, cgo("siren"), lit(str(a["siren"])))
            emit(subject, DERIVED, SOURCE)
            pop = iri(f"authority/{slug}/population/2014")
            emit(subject, cgo("population"), pop)
            emit(pop, RDF_TYPE, cgo("PopulationFigure"))
            emit(pop, LABEL, lit(f"Population municipale 2014 de {name}", "fr"))
            emit(pop, cgo("inhabitants"), lit(str(a["population"]), datatype="integer"))
            emit(pop, cgo("censusYear"), lit("2014", datatype="gYear"))
            emit(pop, cgo("inForceOn"), lit("2017-01-01", datatype="date"))
            emit(pop, cgo("isOfficialTotal"), lit("true", datatype="boolean"))
            emit(pop, DERIVED, SOURCE)
            code = str(seat["code"])
            commune = subject if is_commune else seats.get(code) or iri(f"commune/{code}")
            emit(subject, cgo("seat"), commune)
            if is_commune or code not in seats:
                if not is_commune:
                    seats[code] = commune
                    emit(commune, LABEL, lit(str(seat["nom"]), "fr"))
                    emit(commune, DERIVED, SOURCE)
                    cpop = commune[:-1] + "/population/2014>"
                    emit(commune, cgo("population"), cpop)
                    emit(cpop, RDF_TYPE, cgo("PopulationFigure"))
                    emit(cpop, LABEL, lit(f"Population municipale 2014 de {seat['nom']}", "fr"))
                    emit(cpop, cgo("inhabitants"), lit(str(seat["population"]), datatype="integer"))
                    emit(cpop, cgo("censusYear"), lit("2014", datatype="gYear"))
                    emit(cpop, DERIVED, SOURCE)
                emit(commune, RDF_TYPE, cgo("Commune"))
                emit(commune, cgo("inseeCode"), lit(code))
                emit(commune, f"<{GEO}lat>", lit(f"{rng.uniform(42.3, 51.0):.5f}", datatype="decimal"))
                emit(commune, f"<{GEO}long>", lit(f"{rng.uniform(-4.7, 8.2):.5f}", datatype="decimal"))
                emit(commune, cgo("coordinatesSource"), lit("synthetic (bench/scale)"))
            elif is_commune:
                pass
            if is_commune:
                seats.setdefault(code, subject)
            authority_iris.append((slug, name))
            if len(lines) > 50_000:
                sink.writelines(lines)
                written += len(lines)
                lines.clear()
        n = 0
        while written + len(lines) < triples and authority_iris:
            slug, name = authority_iris[n % len(authority_iris)]
            key = f"{slug}-{n}"
            programme, record = iri(f"programme/{key}"), iri(f"programme/{key}/leadership/2017-02")
            emit(programme, RDF_TYPE, cgo("SmartCityProgramme"))
            emit(programme, LABEL, lit(f"Programme ville intelligente n°{n} de {name}", "fr"))
            emit(programme, cgo("runBy"), iri(f"authority/{slug}"))
            emit(
                programme,
                cgo("scope"),
                iri("scope/commune" if slug.startswith("commune") else "scope/intercommunality"),
            )
            emit(programme, cgo("leadership"), record)
            emit(programme, DERIVED, SOURCE)
            emit(record, RDF_TYPE, cgo("LeadershipRecord"))
            emit(record, LABEL, lit(f"Pilotage du programme n°{n} de {name}", "fr"))
            emit(record, cgo("asOf"), lit("2017-02-06", datatype="date"))
            emit(record, DERIVED, SOURCE)
            if n % 5 == 4:
                emit(record, cgo("leadStatus"), iri("lead-status/no-lead"))
            else:
                post, person = iri(f"post/{key}/smart-city-lead/2017-02"), iri(f"person/p-{key}")
                emit(record, cgo("leadPost"), post)
                emit(post, RDF_TYPE, f"<{ORG}Post>")
                emit(post, LABEL, lit(f"Responsable smart city — {name}", "fr"))
                emit(post, cgo("postTitle"), lit("Chargé de mission ville intelligente", "fr"))
                emit(post, f"<{ORG}postIn>", iri(f"authority/{slug}"))
                emit(post, f"<{ORG}role>", iri("role/smart-city-lead"))
                emit(post, f"<{ORG}heldBy>", person)
                emit(post, cgo("asOf"), lit("2017-02-06", datatype="date"))
                emit(post, DERIVED, SOURCE)
                emit(person, RDF_TYPE, f"<{FOAF}Person>")
                emit(person, f"<{FOAF}name>", lit(f"Personne {n}"))
                emit(person, LABEL, lit(f"Personne {n}", "fr"))
                emit(person, DERIVED, SOURCE)
            for k in range(2):
                initiative = iri(f"initiative/{key}-{k}")
                emit(initiative, RDF_TYPE, cgo("Initiative"))
                emit(initiative, LABEL, lit(f"Initiative {k} du programme n°{n}", "fr"))
                emit(initiative, cgo("partOfProgramme"), programme)
                emit(initiative, cgo("theme"), iri(f"theme/{THEMES[rng.randrange(len(THEMES))]}"))
                emit(initiative, DERIVED, SOURCE)
            n += 1
            if len(lines) > 50_000:
                sink.writelines(lines)
                written += len(lines)
                lines.clear()
        planted = plant(lines, authority_iris, seats, n, violations, rng)
        sink.writelines(lines)
        written += len(lines)
    return {"triples": written, "authorities": len(authority_iris), "programmes": n, "planted": planted}


def plant(
    lines: list[str],
    authorities_: list[tuple[str, str]],
    seats: dict[str, str],
    programmes: int,
    count: int,
    rng: random.Random,
) -> list[tuple[str, str]]:
    """Append ``count`` violations of varied kinds; return (kind, focus IRI) pairs."""
    planted: list[tuple[str, str]] = []
    codes = list(seats)
    for i in range(count):
        kind = PLANTS[i % len(PLANTS)]
        slug, _ = authorities_[rng.randrange(len(authorities_))]
        authority = iri(f"authority/{slug}")
        key = f"{authorities_[i % len(authorities_)][0]}-{i % max(programmes, 1)}"
        if kind == "siren-pattern":
            lines.append(f"{authority} {cgo('siren')} {lit('12AB')} .\n")
            focus = authority
        elif kind == "missing-label":
            focus = iri(f"source/planted-{i}")
            lines.append(f"{focus} {RDF_TYPE} {cgo('Source')} .\n")
        elif kind == "lat-range":
            focus = seats[codes[rng.randrange(len(codes))]]
            lines.append(f"{focus} <{GEO}lat> {lit('95.5', datatype='decimal')} .\n")
        elif kind == "seat-not-commune":
            focus = authority
            lines.append(f"{focus} {cgo('seat')} {iri('kind/commune')} .\n")
        elif kind == "lead-both":
            focus = iri(f"programme/{key}/leadership/2017-02")
            lines.append(f"{focus} {cgo('leadStatus')} {iri('lead-status/appointment-in-progress')} .\n")
        elif kind == "two-names":
            focus = iri(f"person/p-{key}")
            lines.append(f"{focus} {RDF_TYPE} <{FOAF}Person> .\n")
            lines.append(f"{focus} <{FOAF}name> {lit(f'Autre nom {i}')} .\n")
        elif kind == "theme-not-in-scheme":
            focus = iri(f"initiative/{key}-0")
            lines.append(f"{focus} {cgo('theme')} {iri('scope/commune')} .\n")
        elif kind == "insee-duplicate":
            focus = seats[codes[rng.randrange(len(codes))]]
            lines.append(f"{focus} {cgo('inseeCode')} {lit(codes[0])} .\n")
        elif kind == "inhabitants-negative":
            focus = iri(f"authority/{slug}/population/2014")
            lines.append(f"{focus} {cgo('inhabitants')} {lit('-5', datatype='integer')} .\n")
        else:  # post-no-holder
            focus = iri(f"post/planted-{i}")
            for p, o in (
                (RDF_TYPE, f"<{ORG}Post>"),
                (LABEL, lit("Poste", "fr")),
                (DERIVED, SOURCE),
                (cgo("asOf"), lit("2017-02-06", datatype="date")),
                (cgo("postTitle"), lit("Poste", "fr")),
                (f"<{ORG}postIn>", authority),
            ):
                lines.append(f"{focus} {p} {o} .\n")
        planted.append((kind, focus[1:-1]))
    return planted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--triples", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True, help="output file (.nt)")
    parser.add_argument("--violations", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    summary = generate(args.triples, args.out, violations=args.violations, seed=args.seed)
    json.dump(
        {k: v for k, v in summary.items() if k != "planted"} | {"planted": len(summary["planted"])},  # type: ignore[arg-type]
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
