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


def _survey_added(shared_dir: Path) -> set[str]:
    """The authorities the survey's update of 6 February 2017 added, read from its text."""
    text = (shared_dir / "sources" / "jdn-smart-cities-2017-02.txt").read_text(encoding="utf-8")
    update = text[text.index("[Mise à jour du 06/02/2017") :].split("\n", 1)[0]
    return {key for key in ("aix-en-provence", "bethune") if key.replace("bethune", "Béthune").replace(
        "aix-en-provence", "Aix-en-Provence") in update}


def test_chartres_is_the_smallest_before_the_update_not_after(
    checks: dict[str, ClaimCheck], reference: dict[str, dict[str, str]], shared_dir: Path
) -> None:
    """«Chartres, la plus petite»: true of the 22 authorities of the survey's first version, false of the 24 after
    its update of 6 February 2017 added Aix-en-Provence and Béthune (25,413)."""
    added = _survey_added(shared_dir)
    assert added == {"aix-en-provence", "bethune"}
    check = checks["chartres-smallest"]
    by_edition = {r.params["edition"]: r for r in check.readings}
    original = min((r for k, r in reference.items() if k not in added), key=lambda r: int(r["population_2014"]))
    updated = min(reference.values(), key=lambda r: int(r["population_2014"]))
    assert by_edition["original"].authorities == {ID + "authority/" + original["key"]} == {ID + "authority/chartres"}
    assert by_edition["original"].agrees
    assert by_edition["updated"].authorities == {ID + "authority/" + updated["key"]} == {ID + "authority/bethune"}
    assert not by_edition["updated"].agrees
    assert check.outcome == AGREES  # one reading agrees …
    bethune = int(reference["bethune"]["population_2014"])
    assert "other readings: smallest-authorities?limit=1&edition=updated" in check.why  # … and the other is shown
    assert f"Béthune ({bethune:,} inhabitants)" in check.why
    assert check.note is not None and "6 February 2017" in check.note


def test_commune_scope_shows_what_the_survey_states(checks: dict[str, ClaimCheck]) -> None:
    """«Only eight focus on their own commune» names two: six of the eight scopes are inferred; the check says so."""
    check = checks["commune-scope"]
    by_scopes = {r.params["scopes"]: r for r in check.readings}
    assert by_scopes["all"].count == 8 and by_scopes["all"].agrees
    assert by_scopes["stated"].authorities == {ID + "authority/marseille", ID + "authority/paris"}
    assert "scopes=stated: counts 2, not 8" in check.why


def test_table_states_the_survey_update(graph: LoadedGraph) -> None:
    from citygraph.claims import survey_editions

    editions = survey_editions(graph)
    assert [e.modified for e in editions] == ["2017-02-06T17:11:00+01:00"]
    assert editions[0].added == ("Aix-en-Provence", "Béthune")
    table = render_table(check_claims(graph, lang="en"), editions, "en")
    assert "updated on 2017-02-06T17:11:00+01:00; added by the update: Aix-en-Provence, Béthune" in table


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
    assert table.rstrip().endswith("6 agrees, 1 differs, 4 cannot be derived")


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
