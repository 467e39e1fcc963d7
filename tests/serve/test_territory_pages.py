"""Territories on the pages: an authority's member communes, what it became, the programmes covering a commune,
and the population the programmes reach on the home page.

Expected values come from the official files in ``../shared/reference/`` (the DGCL list of EPCI at 1 January 2017
and the reference table), read at test time, never from the server's answers.
"""

from __future__ import annotations

import csv
import html
import re
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import httpx
import pytest

from citygraph.load import load_graph
from citygraph.namespaces import DEFAULT_BASE

CGO = DEFAULT_BASE + "ontology#"
ID = DEFAULT_BASE + "id/"
PLAINE_COMMUNE = {"93001", "93027", "93031", "93039", "93059", "93066", "93070", "93072", "93079"}
GRAND_PARIS = "200054781"  # the Métropole du Grand Paris: its DGCL rows list Plaine Commune's communes


def fr(number: int) -> str:
    return f"{number:,}".replace(",", "\u202f")


def en(number: int) -> str:
    return f"{number:,}"


def insee(row: dict[str, str]) -> str:
    """The commune's INSEE code: the DGCL file drops the leading zero of départements 01–09 (6006 is 06006)."""
    return row["insee"].zfill(5)


def text_of(fragment: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", html.unescape(re.sub(r"<[^>]+>", "", fragment))).strip()


def section(page: str, ident: str) -> str:
    """The HTML from the element with ``id=ident`` to the next heading."""
    start = page.index(f'id="{ident}"')
    end = page.find("<h2", start + 1)
    return page[start:end if end > 0 else len(page)]


def member_rows(page: str) -> dict[str, tuple[str, str, str]]:
    """The member table: INSEE code → (name, population as written, link)."""
    table = section(page, "members")
    rows = {}
    for row in re.findall(r"<tr><td.*?</tr>", table, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        href = re.search(r'href="([^"]+)"', cells[0])
        assert href, row
        rows[text_of(cells[1])] = (text_of(cells[0]), text_of(cells[2]), href[1])
    return rows


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30.0, headers={"Accept": "text/html"}) as http:
        yield http


@pytest.fixture(scope="module")
def dgcl(shared_dir: Path) -> list[dict[str, str]]:
    with (shared_dir / "reference" / "epci-2017-dgcl.csv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter=";"))


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> list[dict[str, str]]:
    with (shared_dir / "reference" / "authorities-2017.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_every_intercommunalitys_page_lists_its_dgcl_members(client: httpx.Client, dgcl: list[dict[str, str]],
                                                            reference: list[dict[str, str]]) -> None:
    by_siren: dict[str, list[dict[str, str]]] = {}
    for row in dgcl:
        by_siren.setdefault(row["siren"], []).append(row)
    covered = [row for row in reference if row["siren"] in by_siren]
    assert len(covered) == 15  # the survey's EPCIs (Plaine Commune, an EPT, is not in the DGCL list)
    for authority in covered:
        expected = by_siren[authority["siren"]]
        page = client.get(f"/page/authority/{authority['key']}").text
        shown = member_rows(page)
        assert len(shown) == len(expected) == int(expected[0]["nb_com"]), authority["key"]
        for row in expected:
            name, population, href = shown[insee(row)]
            assert name == row["nom_com"], (authority["key"], insee(row))
            assert population == fr(int(row["pmun_com"])), (authority["key"], insee(row))
            assert href.startswith(("/page/commune/", "/page/authority/")), href
        total = int(expected[0]["pmun"])
        assert sum(int(row["pmun_com"]) for row in expected) == total
        intro = text_of(section(page, "territory"))
        assert f"{len(expected)} communes membres au 1er janvier 2017, {fr(total)} habitants en tout" in intro
        source = text_of(section(page, "members-source"))
        assert "Liste et composition des EPCI à fiscalité propre au 1er janvier 2017 (DGCL)" in source
        assert "1er janvier 2017" in source


def test_nantes_metropole_members_link_to_their_pages_in_english_too(client: httpx.Client,
                                                                      dgcl: list[dict[str, str]]) -> None:
    expected = {insee(row): row for row in dgcl if row["siren"] == "244400404"}
    page = client.get("/page/authority/nantes-metropole", params={"lang": "en"}).text
    shown = member_rows(page)
    assert set(shown) == set(expected)
    assert shown["44162"][1] == en(int(expected["44162"]["pmun_com"]))  # Saint-Herblain, 43,726 in 2014
    assert "24 member communes on 1 January 2017, 619,240 inhabitants in all" in text_of(section(page, "territory"))
    herblain = client.get(shown["44162"][2])  # the link keeps the page's language
    assert herblain.status_code == 200 and "<h1>Saint-Herblain</h1>" in herblain.text
    assert '<html lang="en">' in herblain.text
    queries = re.search(r'href="(/queries/programme-communes\?[^"]+)"', page)
    assert queries and client.get(html.unescape(queries[1])).status_code == 200


def test_plaine_communes_nine_communes_from_the_reference_table(client: httpx.Client, dgcl: list[dict[str, str]],
                                                                reference: list[dict[str, str]]) -> None:
    page = client.get("/page/authority/plaine-commune").text
    shown = member_rows(page)
    assert set(shown) == PLAINE_COMMUNE
    in_grand_paris = {insee(row): row for row in dgcl if row["siren"] == GRAND_PARIS}
    for code, (name, population, _) in shown.items():
        assert name == in_grand_paris[code]["nom_com"] and population == fr(int(in_grand_paris[code]["pmun_com"]))
    total = next(int(row["population_2014"]) for row in reference if row["key"] == "plaine-commune")
    assert f"9 communes membres au 1er janvier 2017, {fr(total)} habitants" in text_of(section(page, "territory"))
    assert "Table de référence des 24 collectivités" in text_of(section(page, "members-source"))


def test_a_commune_authority_is_its_own_territory(client: httpx.Client, reference: list[dict[str, str]]) -> None:
    paris = next(row for row in reference if row["key"] == "paris")
    page = client.get("/page/authority/paris").text
    territory = text_of(section(page, "territory"))
    assert "Paris est une commune : son programme couvre son propre territoire." in territory
    assert fr(int(paris["population_2014"])) in territory and 'id="members"' not in page
    english = client.get("/page/authority/paris", params={"lang": "en"}).text
    assert "Paris is a commune: its programme covers its own territory." in text_of(section(english, "territory"))
    # Roubaix runs its own programme and is a member of the Métropole Européenne de Lille: both cover it.
    roubaix = text_of(section(client.get("/page/authority/roubaix").text, "coverage"))
    assert "Programme ville intelligente de Roubaix — son propre programme" in roubaix
    assert "collectivité dont elle est membre au 1er janvier 2017 : Métropole Européenne de Lille" in roubaix


def test_a_member_communes_page_names_its_programme_and_has_no_invented_map(client: httpx.Client) -> None:
    page = client.get("/page/commune/44162").text
    coverage = text_of(section(page, "coverage"))
    assert "Programme ville intelligente de Nantes Métropole" in coverage
    assert "collectivité dont elle est membre au 1er janvier 2017 : Nantes Métropole" in coverage
    assert 'href="/page/authority/nantes-metropole"' in section(page, "coverage")
    assert 'href="/queries/programme-by-commune?code=44162"' in page
    assert 'id="map"' not in page  # no source gives a member commune's coordinates
    assert "aucune source du projet ne donne les coordonnées de cette commune" in page


def test_what_grand_dijon_became_with_the_decrees_date(client: httpx.Client) -> None:
    loaded = load_graph()
    dates = {row["what"].value: row["date"].value for row in loaded.store.query(
        f"SELECT ?what ?date WHERE {{ GRAPH <{loaded.data_graph}> {{ "
        f"{{ <{ID}change/grand-dijon/2017-04-28> <{CGO}effectiveDate> ?date BIND('change' AS ?what) }} UNION "
        f"{{ <{ID}source/decret-2017-635> <http://purl.org/dc/terms/date> ?date BIND('decree' AS ?what) }} }} }}")}
    assert dates == {"change": "2017-04-28", "decree": "2017-04-25"}
    history = text_of(section(client.get("/page/authority/grand-dijon").text, "history"))
    assert "En février 2017 : communauté urbaine, SIREN 242100410." in history
    assert "Depuis le 28 avril 2017 : nom « Dijon Métropole », nature juridique : métropole." in history
    assert "Décret n° 2017-635 du 25 avril 2017" in history
    english = text_of(section(client.get("/page/authority/grand-dijon", params={"lang": "en"}).text, "history"))
    assert "In February 2017:" in english and "Since 28 April 2017: name “Dijon Métropole”" in english
    assert "Decree 2017-635 of 25 April 2017" in english
    # A change no source dates is said as undated; an authority with no record says so.
    lille = text_of(section(client.get("/page/authority/metropole-europeenne-de-lille").text, "history"))
    assert "À une date qu'aucune source ne donne : SIREN 200093201." in lille
    nantes = text_of(section(client.get("/page/authority/nantes-metropole").text, "history"))
    assert "Le graphe n'enregistre aucun changement depuis février 2017." in nantes


def test_home_states_the_population_reached(client: httpx.Client, dgcl: list[dict[str, str]],
                                            reference: list[dict[str, str]]) -> None:
    """The sum, computed here from the official files: the member communes of the 15 EPCIs (DGCL), Plaine
    Commune's 9 (their DGCL rows), and the communes running their own programme, each commune once."""
    sirens = {row["siren"] for row in reference}
    population: dict[str, int] = {}
    for row in dgcl:
        if row["siren"] in sirens or (row["siren"] == GRAND_PARIS and insee(row) in PLAINE_COMMUNE):
            population[insee(row)] = int(row["pmun_com"])
    for row in reference:
        if row["kind_2017"].startswith("commune"):
            population[row["insee_code"]] = int(row["population_2014"])
    reached = sum(population.values())
    denominator = sum(int(row["pmun_com"]) for row in dgcl)
    share = (Decimal(100 * reached) / denominator).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP).normalize()
    page = client.get("/").text
    said = text_of(section(page, "reach"))
    assert (f"Les 24 programmes couvrent {fr(len(population))} communes où vivent {fr(reached)} habitants "
            f"(population municipale 2014), soit {str(share).replace('.', ',')} % du dénominateur : "
            "Population municipale 2014 des communes de la liste DGCL des EPCI à fiscalité propre, "
            f"{fr(denominator)} habitants.") in said
    assert "pas le total de l'INSEE" in said
    assert 'href="/queries/population-reached"' in section(page, "reach")
    english = text_of(section(client.get("/", params={"lang": "en"}).text, "reach"))
    assert f"{en(reached)} inhabitants" in english and f"{share}% of the denominator" in english
    assert "2014 population of the communes of the DGCL list" in english


def test_the_map_says_its_points_are_the_seats(client: httpx.Client) -> None:
    said = {"fr": ("Chaque point est le centre-ville du chef-lieu d'une collectivité, non son territoire",
                   "Point : centre-ville du chef-lieu ; communes membres sur la page de chaque collectivité."),
            "en": ("Each point is the town centre of an authority's seat, not its territory",
                   "Point: the seat's town centre; member communes on each authority's page.")}
    for lang, (caption, legend) in said.items():
        page = client.get("/", params={"lang": lang}).text
        figure = page[page.index('id="map"'):]
        assert caption in text_of(figure[figure.index("<figcaption>"):figure.index("</figcaption>")])
        assert legend in html.unescape(re.search(r'id="map-data">(.*?)</script>', page, re.S)[1])


def test_a_commune_of_no_programme_says_none(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    extra = tmp_path / "elsewhere.ttl"
    extra.write_text(f"""
@prefix cgo: <{CGO}> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
<{ID}commune/2A004> a cgo:Commune ; rdfs:label "Ajaccio"@fr , "Ajaccio"@en ; cgo:inseeCode "2A004" .
<{ID}authority/lonely> a cgo:LocalAuthority ; rdfs:label "Sans membres"@fr , "No members"@en .
""", encoding="utf-8")
    server = start_server(graphs=[("urn:x-test:elsewhere", extra)])
    with httpx.Client(base_url=server.url, timeout=30.0, headers={"Accept": "text/html"}) as http:
        ajaccio = http.get("/page/commune/2A004").text
        assert "Aucun des 24 programmes de l'enquête ne couvre cette commune." in text_of(section(ajaccio, "coverage"))
        assert 'id="history"' not in ajaccio  # no change record: nothing said
        lonely = http.get("/page/authority/lonely", params={"lang": "en"}).text
        assert "The graph records no member commune of this authority." in text_of(section(lonely, "territory"))
        assert "The graph records no change since February 2017." in text_of(section(lonely, "history"))
