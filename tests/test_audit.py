"""The audit's corrections (issue 12), each checked against the survey text or the reference table in ../shared/,
so that the faults it found cannot come back: posts in the right organisation, the survey's «En ligne» column,
its update, inferred scopes marked, French names, history notes dated right, the CU definition, percentages."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pyoxigraph
import pytest

from citygraph.load import LoadedGraph, load_graph

ID = "https://w3id.org/citygraph/id/"
CGO = "https://w3id.org/citygraph/ontology#"
PREFIXES = f"""PREFIX cgo: <{CGO}> PREFIX org: <http://www.w3.org/ns/org#> PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX skos: <http://www.w3.org/2004/02/skos/core#> PREFIX foaf: <http://xmlns.com/foaf/0.1/>
PREFIX prov: <http://www.w3.org/ns/prov#> BASE <{ID}>
"""

# The survey's table rows start with the authority's name as it writes it, in this order.
SURVEY_ROWS = [
    ("angers-loire-metropole", "Angers Loire Métropole"), ("aix-en-provence", "Aix-en-Provence"),
    ("bethune", "Béthune"), ("bordeaux-metropole", "Bordeaux Métropole"), ("brest-metropole", "Brest Métropole"),
    ("chartres", "Chartres"), ("grand-dijon", "Grand Dijon"), ("grenoble-alpes-metropole", "Grenoble-Alpes Métropole"),
    ("codah-le-havre", "Communauté de l'agglomération havraise"), ("issy-les-moulineaux", "Issy-les-Moulineaux"),
    ("metropole-europeenne-de-lille", "Métropole Européenne de Lille"), ("metropole-de-lyon", "Grand Lyon"),
    ("marseille", "Marseille"), ("montpellier-mediterranee-metropole", "Montpellier Méditerranée Métropole"),
    ("mulhouse", "Mulhouse"), ("nantes-metropole", "Nantes Métropole"),
    ("metropole-nice-cote-d-azur", "Métropole Nice Côte d'Azur"), ("paris", "Paris"),
    ("plaine-commune", "Plaine Commune"), ("rennes-metropole", "Rennes Métropole"), ("roubaix", "Roubaix"),
    ("saint-etienne-metropole", "Saint-Etienne Métropole"),
    ("eurometropole-de-strasbourg", "Eurométropole de Strasbourg"),
    ("toulouse-metropole", "Toulouse Métropole"),
]
CHANNELS = {"LinkedIn": "linkedin", "Twitter": "twitter", "Site personnel": "personal-website"}


@pytest.fixture(scope="module")
def graph() -> LoadedGraph:
    return load_graph()


@pytest.fixture(scope="module")
def survey(shared_dir: Path) -> str:
    return (shared_dir / "sources" / "jdn-smart-cities-2017-02.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> dict[str, dict[str, str]]:
    with (shared_dir / "reference" / "authorities-2017.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["key"]: row for row in csv.DictReader(handle, delimiter="\t")}


def select(graph: LoadedGraph, body: str) -> list[dict[str, str]]:
    answer = graph.store.query(PREFIXES + body, default_graph=pyoxigraph.NamedNode(graph.data_graph))
    names = [v.value for v in answer.variables]  # type: ignore[union-attr]
    return [{n: s[n].value for n in names if s[n] is not None} for s in answer]  # type: ignore[union-attr]


def survey_rows(survey: str) -> dict[str, str]:
    """Authority key -> its row of the survey's table (name, lead, post, «En ligne» channels)."""
    table = survey[survey.index("Responsable smart city Poste occupé En ligne") : survey.index("13 des 24")]
    positions, start = [], 0
    for key, name in SURVEY_ROWS:
        start = table.index(name, start)
        positions.append((key, start))
        start += len(name)
    ends = [p for _, p in positions[1:]] + [len(table)]
    return {key: table[p:end] for (key, p), end in zip(positions, ends, strict=True)}


def test_online_channels_are_the_survey_column(graph: LoadedGraph, survey: str) -> None:
    rows = survey_rows(survey)
    expected = {
        key: {CHANNELS[c] for c in re.findall(r"LinkedIn|Twitter|Site personnel", row)} for key, row in rows.items()
    }
    got: dict[str, set[str]] = {key: set() for key in expected}
    for r in select(graph, "SELECT ?p ?c WHERE { ?programme cgo:runBy ?p ; cgo:leadership/cgo:leadPost ?post . "
                           "?post cgo:listedOnline ?c }"):
        got[r["p"].removeprefix(ID + "authority/")].add(r["c"].removeprefix(ID + "channel/"))
    assert got == expected
    assert expected["rennes-metropole"] == set() and expected["plaine-commune"] == {"personal-website", "twitter"}


def test_municipal_posts_are_in_the_commune(graph: LoadedGraph) -> None:
    """A post of the city council («adjoint au maire», «conseillère municipale») is in a commune, not an EPCI:
    the audit found Francky Trichet's and Constance Nebbula's posts in Nantes Métropole and Angers Loire Métropole."""
    rows = select(graph, """SELECT ?post ?title ?org ?isCommune ?siren WHERE {
      ?post cgo:postTitle ?title ; org:postIn ?org . FILTER(LANGMATCHES(LANG(?title), "fr"))
      BIND(EXISTS { ?org a cgo:Commune } AS ?isCommune) OPTIONAL { ?org cgo:siren ?siren } }""")
    municipal = [r for r in rows if re.search(r"adjoint au maire|conseill\w+ municipal", r["title"], re.I)]
    assert len(municipal) == 5  # Angers, Marseille, Nantes, Paris, Roubaix
    for row in municipal:
        assert row["isCommune"] == "true", row
    by_post = {r["post"].removeprefix(ID + "post/").split("/")[0]: r for r in municipal}
    assert by_post["nantes-metropole"]["org"] == ID + "commune/nantes"
    assert by_post["nantes-metropole"]["siren"] == "214401093"
    assert by_post["angers-loire-metropole"]["org"] == ID + "commune/angers"
    assert by_post["angers-loire-metropole"]["siren"] == "214900078"


def test_leads_of_city_and_intercommunality_serve_both(graph: LoadedGraph, survey: str) -> None:
    rows = survey_rows(survey)
    for key, city in (("saint-etienne-metropole", "saint-etienne"), ("eurometropole-de-strasbourg", "strasbourg")):
        assert re.search(r"ville (de Saint-Etienne et de|et de l')", rows[key]), key  # the survey says both
        query = f"SELECT ?org WHERE {{ <post/{key}/smart-city-lead/2017-02> org:postIn ?org }}"
        orgs = {r["org"] for r in select(graph, query)}
        assert orgs == {ID + "authority/" + key, ID + "commune/" + city}


def test_issy_media_is_a_company_linked_to_the_city(graph: LoadedGraph) -> None:
    rows = select(graph, """SELECT ?org ?type ?label ?city WHERE {
      <post/issy-les-moulineaux/smart-city-lead/2017-02> org:postIn ?org .
      ?org a ?type ; rdfs:label ?label ; org:linkedTo ?city . FILTER(LANGMATCHES(LANG(?label), "fr")) }""")
    assert rows == [{"org": ID + "organisation/issy-media", "type": CGO + "LocalPublicCompany",
                     "label": "Issy Média", "city": ID + "authority/issy-les-moulineaux"}]


def test_missika_keeps_the_survey_title_with_a_caveat(graph: LoadedGraph, survey: str) -> None:
    rows = select(graph, """SELECT ?title ?note WHERE { <post/paris/smart-city-lead/2017-02> cgo:postTitle ?title ;
      skos:editorialNote ?note . FILTER(LANGMATCHES(LANG(?title), "fr")) }""")
    assert {r["title"] for r in rows} == {"Adjoint au maire chargé de l'innovation, de la recherche et des universités"}
    assert rows[0]["title"] in survey
    assert len(rows) == 2  # French and English notes


def test_french_labels_contract_de_le(graph: LoadedGraph) -> None:
    """«de Le Havre» is «du Havre», «de Les» is «des», «de» before a vowel is «d'»: in every French label."""
    labels = [r["l"] for r in select(graph, 'SELECT ?l WHERE { ?s rdfs:label ?l FILTER(LANGMATCHES(LANG(?l), "fr")) }')]
    assert len(labels) > 1000
    bad = [label for label in labels if re.search(r"\bde (Le|Les) |\bde [AEIOUYÉÈÊÎÔ]", label)]
    assert bad == []
    assert "Population municipale 2014 du Havre" in labels


def test_history_notes_date_each_change(graph: LoadedGraph) -> None:
    """A note on a change made in 2018–2025 does not say «since 2017»: each dated change's year is in the notes."""
    notes = select(graph, "SELECT ?s ?note WHERE { ?s skos:historyNote ?note }")
    assert notes and not [n for n in notes if re.search(r"since 2017|depuis 2017", n["note"], re.I)]
    changes = select(graph, """SELECT ?subject ?date WHERE { ?c cgo:changeOf ?subject ; cgo:effectiveDate ?date }""")
    seat_of = {r["a"]: r["seat"] for r in select(graph, "SELECT ?a ?seat WHERE { ?a cgo:seat ?seat }")}
    assert len(changes) >= 5
    for change in changes:
        year, subject = change["date"][:4], change["subject"]
        described = [n["note"] for n in notes if n["s"] == subject or seat_of.get(n["s"]) == subject]
        assert len(described) == 2, subject  # French and English
        assert all(year in note for note in described), (subject, year)


def test_every_successor_of_the_reference_table_is_a_sourced_change(graph: LoadedGraph, reference) -> None:
    changes = select(graph, "SELECT ?subject ?source WHERE { ?c cgo:changeOf ?subject ; prov:wasDerivedFrom ?source }")
    subjects = {c["subject"] for c in changes}
    seats = {r["a"]: r["seat"] for r in select(graph, "SELECT ?a ?seat WHERE { ?a cgo:seat ?seat }")}
    for key, row in reference.items():
        authority = ID + "authority/" + key
        if row["successor_2026"]:
            assert authority in subjects or seats[authority] in subjects, key
    # The 2017 facts stay: Grand Dijon is still a communauté urbaine on 1 January 2017.
    kinds = select(graph, "SELECT ?k WHERE { <authority/grand-dijon> cgo:authorityKind ?k }")
    assert kinds == [{"k": ID + "kind/communaute-urbaine"}]
    decrees = {(c["subject"], c["source"]) for c in changes}
    assert (ID + "authority/grand-dijon", ID + "source/decret-2017-635") in decrees
    assert (ID + "authority/saint-etienne-metropole", ID + "source/decret-2017-1316") in decrees


def test_communaute_urbaine_definition_follows_the_code(graph: LoadedGraph) -> None:
    rows = select(graph, """SELECT ?d ?source WHERE { <kind/communaute-urbaine> skos:definition ?d ;
      prov:wasDerivedFrom ?source FILTER(LANGMATCHES(LANG(?d), "fr")) }""")
    assert len(rows) == 1 and rows[0]["source"] == ID + "source/cgct-l5215-1"
    assert "plus de 250 000 habitants" in rows[0]["d"] and "à la date de sa création" in rows[0]["d"]
    assert "au moins" not in rows[0]["d"]


def test_percentages_are_written_as_the_survey_writes_them(graph: LoadedGraph, survey: str) -> None:
    written = set(re.findall(r"\b(\d+) ?%", survey))
    rows = graph.store.query(PREFIXES + "SELECT ?p WHERE { ?c cgo:claimedPercentage ?p }",
                             default_graph=pyoxigraph.NamedNode(graph.data_graph))
    values = [r["p"] for r in rows]  # type: ignore[union-attr]
    assert {v.value for v in values} == written == {"83", "67"}
    assert {v.datatype.value for v in values} == {"http://www.w3.org/2001/XMLSchema#integer"}


def test_inferred_commune_scopes_are_marked(graph: LoadedGraph, survey: str) -> None:
    sentence = re.search(r"Seules huit se concentrent sur leur propre commune, dont notamment ([^.]+)\.", survey)
    assert sentence
    named = {"marseille", "paris"} if sentence.group(1) == "Marseille et Paris" else set()
    assert named
    rows = select(graph, """SELECT ?a (COUNT(?why) AS ?reasons) WHERE { ?p cgo:runBy ?a ; cgo:scope <scope/commune> .
      OPTIONAL { ?p cgo:scopeInferredBecause ?why } } GROUP BY ?a""")
    reasons = {r["a"].removeprefix(ID + "authority/"): int(r["reasons"]) for r in rows}
    assert len(reasons) == 8
    for key, count in reasons.items():
        assert count == (0 if key in named else 2), key  # a reason in French and in English, or none


def test_the_survey_update_is_carried(graph: LoadedGraph, survey: str) -> None:
    update = re.search(r"\[Mise à jour du (\d\d)/(\d\d)/(\d{4}) à \d\dh\d\d\] ([^.]+)\.", survey)
    assert update
    date = f"{update.group(3)}-{update.group(2)}-{update.group(1)}"
    rows = select(graph, "SELECT ?label ?d WHERE { ?p cgo:addedToSurveyOn ?d ; cgo:runBy/rdfs:label ?label "
                         'FILTER(LANGMATCHES(LANG(?label), "fr")) }')
    assert {r["d"] for r in rows} == {date}
    added = sorted(r["label"] for r in rows)
    assert update.group(4).startswith(" et ".join(added))
