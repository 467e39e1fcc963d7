"""Member communes, the population the programmes reach and which programme covers a commune, checked row for row
against the DGCL list in ../shared/reference (read at test time), and the generated file against its generator."""

from __future__ import annotations

import csv
import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from citygraph.load import LoadedGraph, load_graph
from citygraph.query import run_named_query

REPO = Path(__file__).resolve().parents[1]
ID = "https://w3id.org/citygraph/id/"
CGO = "https://w3id.org/citygraph/ontology#"
GRAND_PARIS = "200054781"


@pytest.fixture(scope="module")
def graph() -> LoadedGraph:
    return load_graph()


@pytest.fixture(scope="module")
def dgcl(shared_dir: Path) -> list[dict[str, str]]:
    with (shared_dir / "reference" / "epci-2017-dgcl.csv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> dict[str, dict[str, str]]:
    with (shared_dir / "reference" / "authorities-2017.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["key"]: row for row in csv.DictReader(handle, delimiter="\t")}


def _rows(graph: LoadedGraph, name: str, params: dict[str, Any] | None = None) -> list[dict[str, str | None]]:
    result = run_named_query(graph, name, params or {})
    return [dict(zip(result.variables, values, strict=True)) for values in zip(
        *(result.values(v) for v in result.variables), strict=True)]


def _expected_members(
    dgcl: list[dict[str, str]], reference: dict[str, dict[str, str]]
) -> dict[str, list[tuple[str, str, str, int, int]]]:
    """Authority key -> sorted (INSEE, SIREN, name, pmun, ptot) of its members, straight from the CSV."""
    by_siren = {row["siren"]: key for key, row in reference.items()}
    out: dict[str, list[tuple[str, str, str, int, int]]] = {}
    for row in dgcl:
        key = by_siren.get(row["siren"])
        if key is not None:
            out.setdefault(key, []).append(
                (row["insee"].zfill(5), row["siren_com"], row["nom_com"], int(row["pmun_com"]), int(row["ptot_com"]))
            )
    # Plaine Commune (an EPT, not in the list): the reference table's evidence names its 9 communes.
    codes = re.search(r"member communes \(([0-9,]+)\)", reference["plaine-commune"]["evidence"]).group(1)  # type: ignore[union-attr]
    grand_paris = {
        row["insee"].zfill(5): (row["insee"].zfill(5), row["siren_com"], row["nom_com"], int(row["pmun_com"]),
                                int(row["ptot_com"]))
        for row in dgcl if row["siren"] == GRAND_PARIS
    }
    out["plaine-commune"] = [grand_paris[c] for c in codes.split(",")]
    return {key: sorted(members) for key, members in out.items()}


def test_members_file_is_what_the_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "generate_members.py"), "--check"],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 0, result.stderr


def test_generator_stops_on_a_disagreeing_population(tmp_path: Path, shared_dir: Path) -> None:
    """A figure of the graph that the list contradicts is an error (exit 2, naming the commune), not an overwrite."""
    authorities = tmp_path / "authorities.ttl"
    text = (REPO / "data" / "authorities.ttl").read_text(encoding="utf-8")
    authorities.write_text(text.replace("cgo:inhabitants 298029 ;", "cgo:inhabitants 298030 ;"), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(REPO / "tools" / "generate_members.py"), "--authorities", str(authorities),
         "--out", str(tmp_path / "members.ttl")],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 2
    assert "44109" in result.stderr and "298030" in result.stderr
    assert not (tmp_path / "members.ttl").exists()


def test_every_member_list_matches_the_dgcl_file(graph: LoadedGraph, dgcl, reference) -> None:
    expected = _expected_members(dgcl, reference)
    assert len(expected) == 16
    assert sum(len(m) for k, m in expected.items() if k != "plaine-commune") == 575
    for key, members in expected.items():
        rows = _rows(graph, "programme-communes", {"programme": key})
        got = sorted(
            (r["inseeCode"], r["siren"], r["label"], int(r["inhabitants"]), int(r["totalInhabitants"]))  # type: ignore[arg-type]
            for r in rows
        )
        assert got == members, key
        assert {r["asOf"] for r in rows} == {"2017-01-01"}, key


def test_memberships_cite_their_sources(graph: LoadedGraph) -> None:
    import pyoxigraph

    query = f"""SELECT ?m (GROUP_CONCAT(STR(?s); SEPARATOR=" ") AS ?sources) WHERE {{
      GRAPH ?g {{ ?m a <{CGO}Membership> ; <http://www.w3.org/ns/prov#wasDerivedFrom> ?s }} }} GROUP BY ?m"""
    sources = {r["m"].value: set(r["sources"].value.split()) for r in graph.store.query(query)}  # type: ignore[union-attr]
    assert len(sources) == 584
    for membership, cited in sources.items():
        assert ID + "source/dgcl-epci-2017" in cited, membership
        if "/plaine-commune/" in membership:
            assert ID + "source/reference-authorities-2017" in cited
    assert pyoxigraph  # imported for the store's query results


def test_known_communes_keep_their_iris(graph: LoadedGraph) -> None:
    """The seat of each intercommunality is one of its members, under the IRI authorities.ttl gives it."""
    for row in _rows(graph, "authorities-by-kind"):
        key = row["authority"].removeprefix(ID + "authority/")  # type: ignore[union-attr]
        members = {r["commune"] for r in _rows(graph, "programme-communes", {"programme": key})}
        assert row["seat"] in members, key
    roubaix = {r["commune"] for r in _rows(graph, "programme-communes", {"programme": "metropole-europeenne-de-lille"})}
    assert ID + "authority/roubaix" in roubaix


def _covered_population(dgcl, reference) -> tuple[int, int, dict[str, int]]:
    """(inhabitants, communes, per kind) the 24 programmes reach, computed here from the CSV and the table."""
    members = _expected_members(dgcl, reference)
    communes: dict[str, int] = {}
    per_kind: dict[str, int] = {}
    for key, row in reference.items():
        kind = row["kind_2017"].split(" (")[0].split(" — ")[0]
        territory = members.get(key) or [(row["insee_code"], row["siren"], row["label_fr"],
                                          int(row["population_2014"]), 0)]
        for insee, _, _, pmun, _ in territory:
            communes[insee] = pmun
            per_kind[kind] = per_kind.get(kind, 0) + pmun
    return sum(communes.values()), len(communes), per_kind


def test_population_reached_is_the_sum_over_distinct_communes(graph: LoadedGraph, dgcl, reference) -> None:
    total, communes, per_kind = _covered_population(dgcl, reference)
    rows = _rows(graph, "population-reached")
    everything = [r for r in rows if r["kind"] is None]
    assert len(everything) == 1
    assert int(everything[0]["inhabitants"]) == total  # type: ignore[arg-type]
    assert int(everything[0]["communes"]) == communes  # type: ignore[arg-type]
    assert int(everything[0]["programmes"]) == 24  # type: ignore[arg-type]
    # Roubaix is counted once in all, once per kind: the kinds add up to more, by its population.
    assert sum(per_kind.values()) - total == int(reference["roubaix"]["population_2014"])
    kinds = {r["kindLabel"]: int(r["inhabitants"]) for r in rows if r["kind"] is not None}  # type: ignore[arg-type]
    assert sorted(kinds.values()) == sorted(per_kind.values())
    denominator = sum(int(row["pmun_com"]) for row in dgcl)
    assert {int(r["denominator"]) for r in rows} == {denominator}  # type: ignore[arg-type]
    assert {r["denominatorSource"] for r in rows} == {ID + "source/dgcl-epci-2017"}
    assert float(everything[0]["sharePercent"]) == round(100 * total / denominator, 2)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("code", "programmes"),
    [
        ("44162", {"nantes-metropole"}),  # Saint-Herblain
        ("75056", {"paris"}),  # Paris: its own programme
        ("59512", {"roubaix", "metropole-europeenne-de-lille"}),
        ("93066", {"plaine-commune"}),  # Saint-Denis
        ("06088", {"metropole-nice-cote-d-azur"}),  # written 6088 in the DGCL file
        ("01001", set()),  # L'Abergement-Clémenciat: in no programme
        ("13001", {"aix-en-provence"}),
    ],
)
def test_programme_by_commune(graph: LoadedGraph, code: str, programmes: set[str]) -> None:
    rows = _rows(graph, "programme-by-commune", {"code": code})
    assert rows and {r["code"] for r in rows} == {code}
    got = {r["programme"].removeprefix(ID + "programme/") for r in rows if r["programme"]}  # type: ignore[union-attr]
    assert got == programmes
    assert {r["covered"] for r in rows} == {"true" if programmes else "false"}


def test_every_member_commune_is_covered_by_its_programme(graph: LoadedGraph, dgcl, reference) -> None:
    expected = _expected_members(dgcl, reference)
    for key, members in expected.items():
        for insee, *_ in members[:: max(1, len(members) // 5)]:
            rows = _rows(graph, "programme-by-commune", {"code": insee})
            assert ID + "programme/" + key in {r["programme"] for r in rows}, (key, insee)


def test_the_generator_module_documents_its_exit_codes() -> None:
    spec = importlib.util.spec_from_file_location("generate_members", REPO / "tools" / "generate_members.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    sys.modules["generate_members"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    assert "Exit codes" in (module.__doc__ or "")
    assert module.of_commune("Le Havre") == "du Havre" and module.of_commune("Aubervilliers") == "d'Aubervilliers"
