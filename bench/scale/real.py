"""The real graph of the scale benchmark: the bundled data plus the whole DGCL list of 1 January 2017.

    python bench/scale/real.py --out bench/out/scale/graph-dgcl.ttl [--csv ../shared/reference/epci-2017-dgcl.csv]

Every EPCI à fiscalité propre of the list (1,267: SIREN, name, kind, 2014 municipal and total population), every
member commune (35,411: INSEE code, SIREN, name, populations) and every membership, dated 1 January 2017 and
citing the DGCL list — beside the bundled graph (its 24 authorities, their 584 member communes), whose IRIs are
reused for what it already knows. No coordinates and no seats: the list gives neither (the shapes require them
only of seats and of authorities that run a programme). The result conforms to ontology/shapes.ttl.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BASE = "https://w3id.org/citygraph/id/"
CGO = "https://w3id.org/citygraph/ontology#"
KINDS = {"METRO": "metropole", "CU": "communaute-urbaine", "CA": "communaute-d-agglomeration",
         "CC": "communaute-de-communes", "MET69": "metropole-de-lyon"}


def _string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _population_2014(iri: str, name: str, municipal: str, total: str, src: str) -> str:
    """Turtle for ``<iri>``'s 2014 population figure (municipal and total, in force on 1 January 2017)."""
    return (
        f"<{iri}/population/2014> a cgo:PopulationFigure ;\n"
        f"    rdfs:label {_string('Population municipale 2014 — ' + name)}@fr ;\n"
        f"    cgo:inhabitants {municipal} ; cgo:totalInhabitants {total} ;\n"
        '    cgo:censusYear "2014"^^xsd:gYear ; cgo:inForceOn "2017-01-01"^^xsd:date ;\n'
        f"    cgo:isOfficialTotal true ;\n    prov:wasDerivedFrom {src} .\n"
    )


def known_iris() -> tuple[dict[str, str], dict[str, str], set[str]]:
    """From the bundled graph: authority IRI by SIREN, commune IRI by INSEE code, and the memberships it has."""
    from citygraph.load import load_graph

    graph = load_graph()

    def rows(query: str) -> list[list[str]]:
        import pyoxigraph

        answer = graph.store.query(query, default_graph=pyoxigraph.NamedNode(graph.data_graph))
        return [[t.value for t in s] for s in answer]  # type: ignore[union-attr]

    authorities = {s: a for a, s in rows(f"SELECT ?a ?s WHERE {{ ?a a <{CGO}LocalAuthority> ; <{CGO}siren> ?s }}")}
    communes = {c: i for i, c in rows(f"SELECT ?i ?c WHERE {{ ?i a <{CGO}Commune> ; <{CGO}inseeCode> ?c }}")}
    memberships = {f"{a}|{c}" for a, c in rows(
        f"SELECT ?a ?c WHERE {{ ?m <{CGO}memberOf> ?a ; <{CGO}memberCommune> ?c }}")}
    return authorities, communes, memberships


def write(csv_path: Path, out: Path) -> dict[str, int]:
    authorities, communes, memberships = known_iris()
    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    src = "<source/dgcl-epci-2017>"
    counts = {"epcis": 0, "communes": 0, "memberships": 0}
    temporary = out.with_suffix(".tmp")
    with temporary.open("w", encoding="utf-8") as f:
        for path in sorted((REPO / "data").glob("*.ttl")):
            f.write(path.read_text(encoding="utf-8") + "\n")
        f.write(f"@base <{BASE}> .\n@prefix cgo: <{CGO}> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
                "@prefix prov: <http://www.w3.org/ns/prov#> .\n@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n\n")
        seen_epci: set[str] = set()
        seen_commune: set[str] = set()
        for row in rows:
            siren, insee = row["siren"], row["insee"].zfill(5)
            authority = authorities.get(siren, f"{BASE}epci/{siren}")
            if siren not in seen_epci:
                seen_epci.add(siren)
                if siren not in authorities:
                    counts["epcis"] += 1
                    iri = authority.removeprefix(BASE)
                    f.write(
                        f"<{iri}> a cgo:LocalAuthority ;\n    rdfs:label {_string(row['nom'])}@fr ;\n"
                        f"    cgo:authorityKind <kind/{KINDS[row['nature']]}> ;\n    cgo:siren \"{siren}\" ;\n"
                        f"    cgo:population <{iri}/population/2014> ;\n    prov:wasDerivedFrom {src} .\n"
                        + _population_2014(iri, row["nom"], row["pmun"], row["ptot"], src) + "\n"
                    )
            commune = communes.get(insee, f"{BASE}commune/{insee}")
            if insee not in communes and insee not in seen_commune:
                seen_commune.add(insee)
                counts["communes"] += 1
                iri = commune.removeprefix(BASE)
                f.write(
                    f"<{iri}> a cgo:Commune ;\n    rdfs:label {_string(row['nom_com'])}@fr ;\n"
                    f"    cgo:inseeCode \"{insee}\" ;\n    cgo:siren \"{row['siren_com']}\" ;\n"
                    f"    cgo:population <{iri}/population/2014> ;\n    prov:wasDerivedFrom {src} .\n"
                    + _population_2014(iri, row["nom_com"], row["pmun_com"], row["ptot_com"], src)
                )
            if f"{authority}|{commune}" not in memberships:
                counts["memberships"] += 1
                key = authority.removeprefix(BASE)
                f.write(
                    f"<{key}/member/{insee}/2017-01-01> a cgo:Membership ;\n"
                    f"    rdfs:label {_string(row['nom_com'] + ' — ' + row['nom'] + ' (1er janvier 2017)')}@fr ;\n"
                    f"    cgo:memberCommune <{commune.removeprefix(BASE)}> ; cgo:memberOf <{key}> ;\n"
                    f'    cgo:asOf "2017-01-01"^^xsd:date ;\n    prov:wasDerivedFrom {src} .\n\n'
                )
    temporary.replace(out)
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=REPO.parent / "shared" / "reference" / "epci-2017-dgcl.csv")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if not args.csv.is_file():
        print(f"real.py: {args.csv}: no such file (the DGCL list, ../shared/reference/)", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    counts = write(args.csv, args.out)
    print(f"wrote {args.out}: {counts}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
