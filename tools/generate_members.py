"""Write data/members.ttl: the member communes of the surveyed intercommunalities on 1 January 2017.

    python tools/generate_members.py [--csv ../shared/reference/epci-2017-dgcl.csv] [--out data/members.ttl] [--check]

Reads the DGCL list of EPCI à fiscalité propre at 1 January 2017 (``../shared/reference/epci-2017-dgcl.csv``)
and the bundled ``data/authorities.ttl``. For each surveyed intercommunality the list covers (matched by SIREN)
it writes every member commune (INSEE code, SIREN, name, 2014 municipal and total population) and a dated
membership. Plaine Commune, an établissement public territorial, is not in the list: which communes it groups
comes from the reference table (``authorities-2017.tsv``, its evidence column lists their INSEE codes), their
figures from the DGCL list (rows of the Métropole du Grand Paris). Communes the graph already knows keep their
IRIs; their known figures must equal the list's, or the script stops. The list's municipal populations are also
summed over every commune it names: the denominator of the population the programmes reach.

``--check`` writes nothing and exits 1 if the committed file differs from what the script would write.
Exit codes: 0 written (or up to date), 1 out of date (--check), 2 bad input.
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "reference"
BASE = "https://w3id.org/citygraph/id/"
CGO = "https://w3id.org/citygraph/ontology#"

# Surveyed intercommunalities not in the DGCL list: their members' INSEE codes come from the reference table.
EPT_MEMBERS_FROM_REFERENCE = {"plaine-commune"}
GRAND_PARIS_SIREN = "200054781"  # Métropole du Grand Paris: its DGCL rows carry the EPT communes' figures

# «commune membre de …»: the French preposition and article before each authority's name.
OF_AUTHORITY = {
    "angers-loire-metropole": "d'Angers Loire Métropole",
    "bordeaux-metropole": "de Bordeaux Métropole",
    "brest-metropole": "de Brest Métropole",
    "grand-dijon": "du Grand Dijon",
    "grenoble-alpes-metropole": "de Grenoble-Alpes Métropole",
    "codah-le-havre": "de la Communauté de l'agglomération havraise",
    "metropole-europeenne-de-lille": "de la Métropole Européenne de Lille",
    "metropole-de-lyon": "de la Métropole de Lyon",
    "montpellier-mediterranee-metropole": "de Montpellier Méditerranée Métropole",
    "nantes-metropole": "de Nantes Métropole",
    "metropole-nice-cote-d-azur": "de la Métropole Nice Côte d'Azur",
    "plaine-commune": "de Plaine Commune",
    "rennes-metropole": "de Rennes Métropole",
    "saint-etienne-metropole": "de Saint-Étienne Métropole",
    "eurometropole-de-strasbourg": "de l'Eurométropole de Strasbourg",
    "toulouse-metropole": "de Toulouse Métropole",
}


class BadInput(Exception):
    """A source file is missing or disagrees with the bundled data."""


@dataclass(frozen=True)
class Member:
    insee: str
    siren: str
    name: str
    pmun: int
    ptot: int


def of_commune(name: str) -> str:
    """«de Nantes», «du Havre», «des Lilas», «d'Aubervilliers»: the French «de» before a commune's name."""
    if name.startswith("Le "):
        return "du " + name[3:]
    if name.startswith("Les "):
        return "des " + name[4:]
    if name[:1] in "AEIOUYÀÂÉÈÊËÎÏÔÖÙÛÜ":
        return "d'" + name
    return "de " + name


def turtle_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def read_dgcl(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise BadInput(f"{path}: no such file (the DGCL list; see ../shared/reference/README.md)")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter=";"))
    for number, row in enumerate(rows, start=2):
        if not re.fullmatch(r"[0-9AB]{4,5}", row.get("insee") or "") or not (row.get("pmun_com") or "").isdigit():
            raise BadInput(f"{path}:{number}: bad row (insee {row.get('insee')!r}, pmun_com {row.get('pmun_com')!r})")
    return rows


def insee(code: str) -> str:
    """The DGCL file drops leading zeros (6088 for Nice): INSEE codes have 5 characters."""
    return code.zfill(5)


def member(row: dict[str, str]) -> Member:
    return Member(insee(row["insee"]), row["siren_com"], row["nom_com"], int(row["pmun_com"]), int(row["ptot_com"]))


def read_reference(path: Path) -> dict[str, dict[str, str]]:
    if not path.is_file():
        raise BadInput(f"{path}: no such file (the reference table)")
    with path.open(encoding="utf-8", newline="") as handle:
        return {row["key"]: row for row in csv.DictReader(handle, delimiter="\t")}


def ept_member_codes(reference: dict[str, str], path: Path) -> list[str]:
    """The INSEE codes the reference table's evidence lists for an EPT's member communes."""
    match = re.search(r"member communes \(([0-9,]+)\)", reference["evidence"])
    if not match:
        raise BadInput(f"{path}: {reference['key']}: the evidence column lists no member communes")
    return match.group(1).split(",")


@dataclass
class KnownGraph:
    """What data/authorities.ttl already says: authorities by SIREN, communes by INSEE code, their figures."""

    authority_by_siren: dict[str, str]
    authority_key: dict[str, str]
    commune_by_insee: dict[str, str]
    siren_of: dict[str, str]
    figure_of: dict[str, str]
    inhabitants_of: dict[str, int]


def read_known(path: Path) -> KnownGraph:
    import pyoxigraph

    store = pyoxigraph.Store()
    store.load(path=str(path), format=pyoxigraph.RdfFormat.TURTLE)

    def rows(query: str) -> list[list[str]]:
        return [[term.value for term in solution] for solution in store.query(query)]  # type: ignore[union-attr]

    authorities = rows(f"SELECT ?a ?siren WHERE {{ ?a <{CGO}nameInSurvey> ?name ; <{CGO}siren> ?siren }}")
    communes = rows(f"SELECT ?c ?code WHERE {{ ?c a <{CGO}Commune> ; <{CGO}inseeCode> ?code }}")
    sirens = rows(f"SELECT ?s ?siren WHERE {{ ?s <{CGO}siren> ?siren }}")
    figures = rows(
        f"SELECT ?s ?f ?n WHERE {{ ?s <{CGO}population> ?f . ?f <{CGO}inForceOn> ?d ; <{CGO}inhabitants> ?n }}"
    )
    return KnownGraph(
        authority_by_siren={siren: a for a, siren in authorities},
        authority_key={a: a.removeprefix(BASE + "authority/") for a, _ in authorities},
        commune_by_insee={code: c for c, code in communes},
        siren_of=dict(sirens),
        figure_of={s: f for s, f, _ in figures},
        inhabitants_of={s: int(n) for s, _, n in figures},
    )


def territories(dgcl: list[dict[str, str]], reference: dict[str, dict[str, str]], known: KnownGraph,
                reference_path: Path) -> dict[str, list[Member]]:
    """Authority IRI -> its member communes on 1 January 2017 (INSEE order)."""
    out: dict[str, list[Member]] = {}
    for row in dgcl:
        authority = known.authority_by_siren.get(row["siren"])
        if authority is not None:
            out.setdefault(authority, []).append(member(row))
    grand_paris = {insee(r["insee"]): member(r) for r in dgcl if r["siren"] == GRAND_PARIS_SIREN}
    for key in sorted(EPT_MEMBERS_FROM_REFERENCE):
        codes = ept_member_codes(reference[key], reference_path)
        missing = [c for c in codes if c not in grand_paris]
        if missing:
            raise BadInput(f"{reference_path}: {key}: communes {missing} are not in the Métropole du Grand Paris")
        out[BASE + "authority/" + key] = [grand_paris[c] for c in codes]
    for authority, members in out.items():
        members.sort(key=lambda m: m.insee)
        expected = known.inhabitants_of.get(authority)
        if expected is not None and expected != sum(m.pmun for m in members):
            raise BadInput(
                f"{known.authority_key[authority]}: the graph's population {expected} is not the sum of its "
                f"members' ({sum(m.pmun for m in members)})"
            )
    return out


def _iri(iri: str) -> str:
    return "<" + iri.removeprefix(BASE) + ">"


def render(dgcl: list[dict[str, str]], members: dict[str, list[Member]], known: KnownGraph, totals: dict[str, int]
           ) -> str:
    lines = [
        "# GENERATED by tools/generate_members.py from ../shared/reference/epci-2017-dgcl.csv (DGCL list of the",
        "# EPCI à fiscalité propre at 1 January 2017) and the reference table: do not edit by hand, run the script.",
        "# Member communes of the surveyed intercommunalities on 1 January 2017, their 2014 legal populations",
        "# (municipal and total), and the sum of the list's municipal populations (the denominator of the share",
        "# of the population the programmes reach).",
        "",
        f"@base <{BASE}> .",
        f"@prefix cgo:    <{CGO}> .",
        "@prefix rdfs:   <http://www.w3.org/2000/01/rdf-schema#> .",
        "@prefix skos:   <http://www.w3.org/2004/02/skos/core#> .",
        "@prefix prov:   <http://www.w3.org/ns/prov#> .",
        "@prefix xsd:    <http://www.w3.org/2001/XMLSchema#> .",
        "@prefix schema: <https://schema.org/> .",
        "",
    ]
    dgcl_source = "<source/dgcl-epci-2017>"
    written: set[str] = set()
    for authority in sorted(members, key=lambda a: known.authority_key[a]):
        key = known.authority_key[authority]
        from_reference = key in EPT_MEMBERS_FROM_REFERENCE
        sources = dgcl_source + (" , <source/reference-authorities-2017>" if from_reference else "")
        of_authority = OF_AUTHORITY[key]
        lines.append(f"# ---------------------------------------------------------------- {key} "
                     f"({len(members[authority])} communes)")
        if authority in known.figure_of and not from_reference:
            ptot = totals[authority]
            lines += [
                f"{_iri(known.figure_of[authority])} cgo:totalInhabitants {ptot} ;",
                f"    prov:wasDerivedFrom {dgcl_source} .",
                "",
            ]
        for m in members[authority]:
            commune = known.commune_by_insee.get(m.insee)
            if commune is None:
                commune = f"{BASE}commune/{m.insee}"
            figure = known.figure_of.get(commune, f"{commune}/population/2014")
            if commune not in written:
                written.add(commune)
                block = [f"{_iri(commune)}"]
                if commune not in known.commune_by_insee.values():
                    block += [
                        "    a cgo:Commune ;",
                        f"    rdfs:label {turtle_string(m.name)}@fr , {turtle_string(m.name)}@en ;",
                        f'    cgo:inseeCode "{m.insee}" ;',
                        f"    cgo:population {_iri(figure)} ;",
                    ]
                known_siren = known.siren_of.get(commune)
                if known_siren is not None and known_siren != m.siren:
                    raise BadInput(f"{m.insee}: the graph's SIREN {known_siren} is not the list's {m.siren}")
                if known_siren is None:
                    block.append(f'    cgo:siren "{m.siren}" ;')
                block.append(f"    prov:wasDerivedFrom {dgcl_source} .")
                lines += [*block, ""]
                if commune in known.figure_of:
                    if known.inhabitants_of[commune] != m.pmun:
                        raise BadInput(
                            f"{m.insee}: the graph's population {known.inhabitants_of[commune]} is not the list's "
                            f"{m.pmun}"
                        )
                    lines += [
                        f"{_iri(figure)} cgo:totalInhabitants {m.ptot} ;",
                        f"    prov:wasDerivedFrom {dgcl_source} .",
                        "",
                    ]
                else:
                    lines += [
                        f"{_iri(figure)}",
                        "    a cgo:PopulationFigure ;",
                        f"    rdfs:label {turtle_string('Population municipale 2014 ' + of_commune(m.name))}@fr ;",
                        f"    cgo:inhabitants {m.pmun} ;",
                        f"    cgo:totalInhabitants {m.ptot} ;",
                        '    cgo:censusYear "2014"^^xsd:gYear ;',
                        '    cgo:inForceOn "2017-01-01"^^xsd:date ;',
                        "    cgo:isOfficialTotal true ;",
                        f"    prov:wasDerivedFrom {dgcl_source} .",
                        "",
                    ]
            label = f"{m.name}, commune membre {of_authority} (1er janvier 2017)"
            lines += [
                f"<authority/{key}/member/{m.insee}/2017-01-01>",
                "    a cgo:Membership ;",
                f"    rdfs:label {turtle_string(label)}@fr ;",
                f"    cgo:memberCommune {_iri(commune)} ;",
                f"    cgo:memberOf {_iri(authority)} ;",
                '    cgo:asOf "2017-01-01"^^xsd:date ;',
                f"    prov:wasDerivedFrom {sources} .",
                "",
            ]
    communes = {insee(r["insee"]) for r in dgcl}
    total = sum(int(r["pmun_com"]) for r in dgcl)
    epcis = len({r["siren"] for r in dgcl})
    lines += [
        "# ---------------------------------------------------------------- the denominator",
        "<area/france>",
        "    a schema:Country ;",
        '    rdfs:label "France"@fr , "France"@en ;',
        "    cgo:population <area/france/population/2014-dgcl-epci> ;",
        f"    prov:wasDerivedFrom {dgcl_source} .",
        "",
        "<area/france/population/2014-dgcl-epci>",
        "    a cgo:PopulationFigure ;",
        '    rdfs:label "Population municipale 2014 des communes de la liste DGCL des EPCI à fiscalité propre"@fr ,',
        '        "2014 population of the communes of the DGCL list of EPCI with their own taxation"@en ;',
        f"    cgo:inhabitants {total} ;",
        '    cgo:censusYear "2014"^^xsd:gYear ;',
        '    cgo:inForceOn "2017-01-01"^^xsd:date ;',
        "    cgo:isOfficialTotal false ;",
        f'    skos:note "Somme des populations municipales 2014 des {len(communes)} communes membres des {epcis} '
        "EPCI à fiscalité propre de la liste DGCL au 1er janvier 2017. Une commune qui n'appartient à aucun "
        "de ces EPCI n'y figure pas : ce n'est pas le total officiel de l'INSEE pour la France, qu'aucune "
        'source du projet ne donne."@fr ,',
        f'        "Sum of the 2014 municipal populations of the {len(communes)} member communes of the {epcis} '
        "EPCI with their own taxation of the DGCL list at 1 January 2017. A commune in none of them is not in "
        'it: this is not INSEE\'s official total for France, which no source of the project gives."@en ;',
        f"    prov:wasDerivedFrom {dgcl_source} .",
        "",
    ]
    return "\n".join(lines)


def build(csv_path: Path, reference_path: Path, authorities: Path) -> str:
    dgcl = read_dgcl(csv_path)
    reference = read_reference(reference_path)
    known = read_known(authorities)
    members = territories(dgcl, reference, known, reference_path)
    totals = {
        known.authority_by_siren[r["siren"]]: int(r["ptot"]) for r in dgcl if r["siren"] in known.authority_by_siren
    }
    return render(dgcl, members, known, totals)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=SHARED / "epci-2017-dgcl.csv", help="the DGCL list")
    parser.add_argument("--reference", type=Path, default=SHARED / "authorities-2017.tsv", help="the reference table")
    parser.add_argument("--authorities", type=Path, default=REPO / "data" / "authorities.ttl")
    parser.add_argument("--out", type=Path, default=REPO / "data" / "members.ttl")
    parser.add_argument("--check", action="store_true", help="exit 1 if --out is not what would be written")
    args = parser.parse_args(argv)
    try:
        text = build(args.csv, args.reference, args.authorities)
    except BadInput as exc:
        print(f"generate_members: {exc}", file=sys.stderr)
        return 2
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.is_file() else ""
        if current != text:
            print(f"{args.out} is out of date: run python tools/generate_members.py", file=sys.stderr)
            return 1
        return 0
    temporary = args.out.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    temporary.replace(args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
