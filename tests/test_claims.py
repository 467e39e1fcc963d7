"""The claim check: each survey figure beside what the graph derives, with expectations from ../shared/."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from citygraph import settings
from citygraph.claims import AGREES, CANNOT_BE_DERIVED, DIFFERS, ClaimCheck, check_claims, render_table
from citygraph.load import LoadedGraph, load_graph

ID = "https://w3id.org/citygraph/id/"


@pytest.fixture(scope="module")
def graph() -> LoadedGraph:
    return load_graph()


@pytest.fixture(scope="module")
def checks(graph: LoadedGraph) -> dict[str, ClaimCheck]:
    return {c.key: c for c in check_claims(graph, lang="en")}


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> dict[str, dict[str, str]]:
    with (shared_dir / "reference" / "authorities-2017.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["key"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_every_claim_is_checked(checks: dict[str, ClaimCheck], graph: LoadedGraph) -> None:
    claims = {
        str(s["c"].value)
        for s in graph.store.query(
            "SELECT ?c WHERE { GRAPH ?g { ?c a <https://w3id.org/citygraph/ontology#SurveyClaim> } }"
        )
    }
    assert {c.claim for c in checks.values()} == claims
    assert {c.outcome for c in checks.values()} == {AGREES, DIFFERS, CANNOT_BE_DERIVED}


@pytest.mark.parametrize(
    "key", ["surveyed-authorities", "with-lead", "without-lead", "commune-scope", "central-city-steering"]
)
def test_figures_the_graph_derives_agree(checks: dict[str, ClaimCheck], key: str) -> None:
    check = checks[key]
    assert check.outcome == AGREES, check.why
    assert any(r.count == check.claimed_count for r in check.readings)


def test_with_lead_percentage(checks: dict[str, ClaimCheck]) -> None:
    check = checks["with-lead"]
    assert (check.claimed_count, check.claimed_total, check.total) == (20, 24, 24)
    assert check.claimed_percentage is not None and int(check.claimed_percentage) == round(100 * 20 / 24)
    assert check.graph_figure() == "20/24 (83%)"


def test_under_250000_differs_with_both_readings(
    checks: dict[str, ClaimCheck], reference: dict[str, dict[str, str]]
) -> None:
    check = checks["under-250000-inhabitants"]
    own = sum(1 for r in reference.values() if int(r["population_2014"]) < 250_000)
    seat = sum(1 for r in reference.values() if int(r["seat_population_2014"]) < 250_000)
    assert check.outcome == DIFFERS
    assert check.claimed_count == 13
    counts = {r.params["basis"]: r.count for r in check.readings}
    assert counts == {"authority": own, "seat": seat}
    assert f"counts {own}, not 13" in check.why and f"counts {seat}, not 13" in check.why


def test_chartres_is_not_the_smallest(
    checks: dict[str, ClaimCheck], reference: dict[str, dict[str, str]]
) -> None:
    check = checks["chartres-smallest"]
    smallest = min(reference.values(), key=lambda r: int(r["population_2014"]))
    assert check.outcome == DIFFERS
    assert check.named == (ID + "authority/chartres",)
    assert check.readings[0].authorities == {ID + "authority/" + smallest["key"]}
    bethune, chartres = (
        int(reference["bethune"]["population_2014"]),
        int(reference["chartres"]["population_2014"]),
    )
    assert f"Chartres ({chartres:,} inhabitants)" in check.why
    assert f"Béthune ({bethune:,} inhabitants)" in check.why


@pytest.mark.parametrize(
    ("key", "known"),
    [
        ("open-data", set()),
        ("participatory-platforms", set()),
        ("public-wifi", set()),
        ("smart-grids", {"chartres"}),
    ],
)
def test_theme_totals_cannot_be_derived(checks: dict[str, ClaimCheck], key: str, known: set[str]) -> None:
    check = checks[key]
    assert check.outcome == CANNOT_BE_DERIVED
    assert not check.readings
    assert set(check.known) == {ID + "authority/" + k for k in known}
    assert "not which authorities" in check.why


def test_french_and_table(graph: LoadedGraph) -> None:
    checks = check_claims(graph, lang="fr")
    table = render_table(checks)
    assert "aucune lecture ne donne 13" in table
    assert "Béthune (25\u202f413 hab.)" in table
    assert table.rstrip().endswith("5 agrees, 2 differs, 4 cannot be derived")


def test_a_changed_graph_changes_the_outcome(tmp_path: Path) -> None:
    """The check is not a fixed answer: take Paris's lead away and «20 of 24» no longer agrees."""
    for path in settings.data_files():
        shutil.copy(path, tmp_path / path.name)
    programmes = tmp_path / "programmes.ttl"
    text = programmes.read_text(encoding="utf-8")
    post = "cgo:leadPost <post/paris/smart-city-lead/2017-02> ;"
    assert text.count(post) == 1
    programmes.write_text(text.replace(post, "cgo:leadStatus <lead-status/no-lead> ;"), encoding="utf-8")
    checks = {c.key: c for c in check_claims(load_graph(sorted(tmp_path.glob("*.ttl"))), lang="en")}
    assert checks["with-lead"].outcome == DIFFERS
    assert "counts 19, not 20" in checks["with-lead"].why
    assert "that is 79%, not 83%" in checks["with-lead"].why
    assert checks["without-lead"].outcome == DIFFERS
    assert "counted but not named: Paris" in checks["without-lead"].why
