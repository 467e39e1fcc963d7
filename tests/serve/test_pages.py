"""Pages for people on a live server: home, resource pages, named queries, languages, escaping, 304.

Expected facts come from the reference table in ``../shared/reference/`` and from the graph as the test loads
it (``load_graph``, ``run_named_query``), never from the server's own answers.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import rdflib

from citygraph.load import load_graph
from citygraph.namespaces import DEFAULT_BASE
from citygraph.query import get_query, list_queries, run_named_query

ID = DEFAULT_BASE + "id/"
GEO = "http://www.w3.org/2003/01/geo/wgs84_pos#"
SKOS = "http://www.w3.org/2004/02/skos/core#"
CGO = DEFAULT_BASE + "ontology#"
EVIL = '</script><script>alert("xss")</script><img src=x onerror=alert(1)>&amp;'
EVIL_TTL = f"""
@prefix cgo: <{CGO}> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
<{ID}authority/evil> a cgo:LocalAuthority ;
    rdfs:label {json.dumps(EVIL)}@fr , {json.dumps(EVIL)}@en ;
    cgo:nameInSurvey {json.dumps(EVIL)} ;
    cgo:seat <{ID}commune/angers> .
<{ID}authority/paris> rdfs:comment {json.dumps(EVIL)}@fr .
"""


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30.0, headers={"Accept": "text/html"}) as http:
        yield http


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> list[dict[str, str]]:
    with (shared_dir / "reference" / "authorities-2017.tsv").open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def loaded():  # type: ignore[no-untyped-def]
    return load_graph()


def has_lead(row: dict[str, str]) -> bool:
    """The reference table's lead column names a person, or says ``(none …)``."""
    return bool(row["lead_name"]) and not row["lead_name"].startswith("(none")


def jsonld_blocks(text: str) -> list[str]:
    return re.findall(r'<script type="application/ld\+json">(.*?)</script>', text, flags=re.S)


# ---------------------------------------------------------------- home


def test_home_shows_counts_chart_and_map(client: httpx.Client, reference: list[dict[str, str]],
                                         loaded) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/")
    assert response.status_code == 200
    text = response.text
    with_lead = sum(1 for row in reference if has_lead(row))
    assert re.search(rf'data-count="authorities">{len(reference)}<', text)  # 24 in the survey
    assert re.search(rf'data-count="with_lead">{with_lead}<', text)  # 20 in the survey
    # The chart: the survey's per-theme claims, as the graph's data states them.
    claims = loaded.store.query(
        f"SELECT ?count ?total WHERE {{ GRAPH <{loaded.data_graph}> {{ ?c a <{CGO}SurveyClaim> ; "
        f"<{CGO}theme> ?t ; <{CGO}claimedCount> ?count ; <{CGO}claimedTotal> ?total }} }}")
    figures = [(int(row["count"].value), int(row["total"].value)) for row in claims]
    assert sorted(n for n, _ in figures) == [11, 12, 12, 16]  # the survey: platforms, grids, Wi-Fi, open data
    for count, total in figures:
        assert f">{count} / {total}</text>" in text
    assert text.count('class="bar"') == len(figures)
    # The map: one point per authority at its seat, each linking to its page (static/map.js draws them).
    points = json.loads(html.unescape(re.search(r'<script type="application/json" id="map-data">(.*?)</script>',
                                                text, re.S)[1]))["points"]
    assert sorted(p["href"].rsplit("/", 1)[1] for p in points) == sorted(row["key"] for row in reference)
    seats = loaded.store.query(
        f"SELECT ?a ?lat ?long WHERE {{ GRAPH <{loaded.data_graph}> {{ ?a <{CGO}seat> ?s . "
        f"?s <{GEO}lat> ?lat ; <{GEO}long> ?long }} }}")
    where = {row["a"].value[len(ID):]: (float(row["lat"].value), float(row["long"].value)) for row in seats}
    for point in points:
        assert (point["lat"], point["long"]) == where["authority/" + point["href"].rsplit("/", 1)[1]]
    assert sum(p["lead"] for p in points) == sum(1 for row in reference if has_lead(row))
    # Source and licence.
    assert "journaldunet.com/economie/services/1176221-smart-city-france" in text
    assert "etalab-2.0" in text and "https://www.etalab.gouv.fr/licence-ouverte-open-licence/" in text
    dataset = json.loads(jsonld_blocks(text)[0])
    assert dataset["@type"] == "Dataset" and dataset["license"].startswith("https://www.etalab.gouv.fr/")


def test_home_table_says_why_an_authority_has_no_lead(client: httpx.Client,
                                                     reference: list[dict[str, str]]) -> None:
    """The four without a lead show their status (Béthune: appointment in progress), not a bare «none»."""
    text = client.get("/").text
    table = text[text.index("<table", text.index('data-count="triples"')):]
    row_pattern = r'href="/page/authority/([^"?]+)[^"]*">[^<]*</a></td>(.*?)</tr>'
    rows = {m.group(1): m.group(2) for m in re.finditer(row_pattern, table, flags=re.S)}
    without = [row["key"] for row in reference if not has_lead(row)]
    assert len(without) == 4
    for key in without:
        expected = "En cours de nomination" if key == "bethune" else "Pas de responsable"
        assert expected in rows[key], key


# ---------------------------------------------------------------- resource pages


def test_authority_pages_link_lead_insee_wikidata_and_twins(client: httpx.Client,
                                                            reference: list[dict[str, str]], loaded) -> None:  # type: ignore[no-untyped-def]
    owl_same_as = "http://www.w3.org/2002/07/owl#sameAs"
    same_as = loaded.store.query(
        f"SELECT ?s ?o WHERE {{ GRAPH <{loaded.data_graph}> {{ ?s <{owl_same_as}> ?o }} }}")
    confirmed = {row["s"].value[len(ID):]: row["o"].value for row in same_as}
    for row in reference:
        key = row["key"]
        response = client.get(f"/page/authority/{key}")
        assert response.status_code == 200, key
        text = html.unescape(response.text)
        if has_lead(row):
            assert row["lead_name"] in text, key
        assert f"https://www.insee.fr/fr/metadonnees/cog/commune/COM{row['insee_code']}-" in text, key
        for twin in ("ttl", "jsonld"):
            assert f'href="/data/authority/{key}.{twin}"' in response.text, key
        if f"authority/{key}" in confirmed:
            assert f'href="{confirmed[f"authority/{key}"]}"' in response.text, key
        data = json.loads(jsonld_blocks(response.text)[0])
        assert data["@type"] == "GovernmentOrganization" and data["@id"] == f"{ID}authority/{key}"
        assert data["identifier"]["value"] == row["siren"]
    # A seat's confirmed Wikidata item shows on the intercommunality's page (Nantes Métropole → Nantes).
    nantes = client.get("/page/authority/nantes-metropole").text
    assert f'href="{confirmed["commune/nantes"]}"' in nantes


def test_lead_page_shows_post_and_authority(client: httpx.Client) -> None:
    response = client.get("/page/person/constance-nebbula")
    assert response.status_code == 200
    text = html.unescape(response.text)
    assert "Constance Nebbula" in text
    assert 'href="/page/post/angers-loire-metropole/smart-city-lead/2017-02"' in response.text
    # Her post is in the city of Angers («conseillère municipale»), not in Angers Loire Métropole (issue 12).
    assert 'href="/page/commune/angers"' in response.text
    assert json.loads(jsonld_blocks(response.text)[0])["@type"] == "Person"


@pytest.mark.parametrize("path", ["initiative/chartres-parking-management", "theme/smart-grid",
                                  "claim/with-lead", "kind/metropole",
                                  "post/nantes-metropole/smart-city-lead/2017-02"])
def test_other_pages_link_each_other(client: httpx.Client, path: str) -> None:
    response = client.get(f"/page/{path}")
    assert response.status_code == 200
    assert f"{ID}{path}" in response.text
    assert re.search(r'href="/page/[a-z]', response.text)
    assert f'href="/data/{path}.ttl"' in response.text


def test_kind_page_lists_its_authorities(client: httpx.Client, reference: list[dict[str, str]]) -> None:
    text = client.get("/page/kind/metropole").text
    linked = set(re.findall(r'href="/page/authority/([a-z0-9-]+)"', text))
    metropoles = {row["key"] for row in reference if row["kind_2017"] == "métropole"}
    assert len(metropoles) == 10  # the survey's 10 métropoles (the Métropole de Lyon is a kind of its own)
    assert metropoles == linked


# ---------------------------------------------------------------- languages


def test_french_by_default_and_english_on_request(client: httpx.Client) -> None:
    fr = client.get("/")
    assert '<html lang="fr">' in fr.text and "Les villes intelligentes" in fr.text
    en = client.get("/", params={"lang": "en"})
    assert '<html lang="en">' in en.text and "French smart cities" in en.text
    assert 'href="/queries?lang=en"' in en.text  # the choice is kept in the site's links
    accepted = client.get("/", headers={"Accept-Language": "de-DE, en-GB;q=0.8, fr;q=0.3"})
    assert '<html lang="en">' in accepted.text
    assert '<html lang="fr">' in client.get("/", headers={"Accept-Language": "fr-FR, en;q=0.5"}).text
    assert '<html lang="fr">' in client.get("/", headers={"Accept-Language": "de, it"}).text
    # A visible toggle to the other language, on every page.
    page = client.get("/page/authority/paris")
    toggle = r'<a lang="en" hreflang="en" href="/page/authority/paris\?lang=en" title="anglais">en</a>'
    assert re.search(toggle, page.text)
    english = client.get("/page/authority/paris", params={"lang": "en"}).text
    assert "What the graph says" in english and "Ce que dit le graphe" in page.text


# ---------------------------------------------------------------- escaping


def test_a_label_with_script_never_reaches_the_page_as_markup(start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil_file = tmp_path / "evil.ttl"
    evil_file.write_text(EVIL_TTL, encoding="utf-8")
    server = start_server(graphs=[("urn:x-test:evil", evil_file)])
    with httpx.Client(base_url=server.url, timeout=30.0, headers={"Accept": "text/html"}) as http:
        for path in ("/page/authority/evil", "/page/authority/paris", "/", "/page/commune/angers",
                     "/page/commune/angers?lang=en"):
            response = http.get(path)
            assert response.status_code == 200, path
            text = response.text
            assert "<script>alert" not in text and "<img src=x" not in text, path
            assert "&lt;script&gt;alert" in text or "&lt;/script&gt;" in text, path
            scripts = re.findall(r"<script\b[^>]*>", text)
            assert all('type="application/ld+json"' in tag or 'type="application/json"' in tag
                       or re.fullmatch(r'<script src="/static/[a-z/._-]+" defer>', tag)
                       for tag in scripts), (path, scripts)
            for block in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', text, flags=re.S):
                assert "<" not in block and ">" not in block, path
                json.loads(block)
            for block in jsonld_blocks(text):
                assert "<" not in block and ">" not in block, path
                json.loads(block)  # still valid JSON
        data = json.loads(jsonld_blocks(http.get("/page/authority/evil").text)[0])
        assert data["name"] == EVIL  # the JSON escapes decode back to the label itself
        assert "default-src 'self'" in http.get("/page/authority/evil").headers["content-security-policy"]


# ---------------------------------------------------------------- named queries


# Values for the required parameters: a theme of the survey, and Nantes's INSEE code (reference table).
REQUIRED_VALUES: dict[str, dict[str, str]] = {
    "authorities-by-theme": {"theme": "smart-grid"},
    "authority-by-insee": {"code": "44109"},
    "programme-communes": {"programme": "nantes-metropole"},
    "programme-by-commune": {"code": "44162"},
}


def _rows_of_csv(text: str) -> tuple[list[str], list[tuple[str, ...]]]:
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], sorted(tuple(row) for row in rows[1:])


def _bindings(payload: str) -> tuple[list[str], list[str]]:
    data = json.loads(payload)
    return data["head"]["vars"], sorted(json.dumps(b, sort_keys=True) for b in data["results"]["bindings"])


@pytest.mark.parametrize("named", list_queries(), ids=lambda q: q.name)
def test_named_query_formats_match_the_query_results(client: httpx.Client, loaded, named) -> None:  # type: ignore[no-untyped-def]
    params = {p.name: p.default for p in named.parameters if p.default is not None}
    params.update(REQUIRED_VALUES.get(named.name, {}))
    assert all(p.name in params for p in named.parameters), f"give {named.name} values in REQUIRED_VALUES"
    expected = run_named_query(loaded, named, params)
    as_json = client.get(f"/queries/{named.name}.json", params=params)
    assert as_json.status_code == 200
    assert as_json.headers["content-type"].startswith("application/sparql-results+json")
    assert _bindings(as_json.text) == _bindings(expected.to_json())
    as_csv = client.get(f"/queries/{named.name}.csv", params=params)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert _rows_of_csv(as_csv.text) == _rows_of_csv(expected.to_csv())
    page = client.get(f"/queries/{named.name}", params=params)
    assert page.status_code == 200
    assert page.text.count("<tr>") == len(expected.rows) + 1  # header row + one per result
    assert f'href="/queries/{named.name}.csv' in page.text
    assert ('<form class="params"' in page.text) == bool(named.parameters)


# Values other than the defaults for the parameters that are neither enums nor bounded integers (those take every
# choice and both bounds): each named query is also run with each parameter changed alone.
OTHER_VALUES: dict[str, dict[str, list[str]]] = {
    "authorities-by-theme": {"theme": ["open-data"]},
    "authorities-under-population": {"max": ["100000", "1000000"]},
    "authority-by-insee": {"code": ["75056", "49007"]},
    "programme-communes": {"programme": ["paris"]},
    "programme-by-commune": {"code": ["75056"]},
    "*": {"date": ["2017-01-01", "2026-12-01"]},
}
# Parameters changed together (where one alone could hide a wrong answer: Béthune, added by the survey's update,
# is the smallest authority on both bases).
COMBINED_VALUES: list[tuple[str, dict[str, str]]] = [
    ("smallest-authorities", {"limit": "3", "basis": "seat", "edition": "original"}),
    ("smallest-authorities", {"limit": "10", "basis": "authority", "edition": "original"}),
    ("smallest-authorities", {"limit": "24", "basis": "seat", "edition": "updated"}),
]


def _parameter_cases() -> list[tuple[str, dict[str, str]]]:
    """(query, parameters) for every named query with one parameter away from its default, then COMBINED_VALUES."""
    cases: list[tuple[str, dict[str, str]]] = []
    for named in list_queries():
        base = {p.name: p.default for p in named.parameters if p.default is not None}
        base.update(REQUIRED_VALUES.get(named.name, {}))
        for parameter in named.parameters:
            bounds = parameter.bounds
            values = list(parameter.choices or ()) or ([str(bounds[0]), str(bounds[1])] if bounds else [])
            values += OTHER_VALUES.get(named.name, {}).get(parameter.name, [])
            values += OTHER_VALUES["*"].get(parameter.name, [])
            cases += [(named.name, {**base, parameter.name: v}) for v in values if v != base.get(parameter.name)]
    cases += [(name, {**{p.name: p.default for p in get_query(name).parameters if p.default is not None}, **values})
              for name, values in COMBINED_VALUES]
    return cases


@pytest.mark.parametrize(("name", "params"), _parameter_cases(),
                         ids=lambda v: v if isinstance(v, str) else ",".join(f"{k}={x}" for k, x in v.items()))
def test_named_query_results_match_with_other_parameters(client: httpx.Client, loaded, name, params) -> None:  # type: ignore[no-untyped-def]
    """The server's answer (on a store: the store's) is the embedded engine's, for values other than the defaults."""
    expected = run_named_query(loaded, name, params)
    response = client.get(f"/queries/{name}.json", params=params)
    assert response.status_code == 200, response.text
    assert _bindings(response.text) == _bindings(expected.to_json())


def test_named_query_with_parameters(client: httpx.Client, loaded) -> None:  # type: ignore[no-untyped-def]
    params = {"max": "100000", "basis": "seat"}
    expected = run_named_query(loaded, "authorities-under-population", params)
    response = client.get("/queries/authorities-under-population.json", params=params)
    assert _bindings(response.text) == _bindings(expected.to_json())
    page = client.get("/queries/authorities-under-population", params=params)
    assert 'name="max" value="100000"' in page.text
    assert '<option value="seat" selected>' in page.text


def test_named_query_errors(client: httpx.Client) -> None:
    bad = client.get("/queries/authorities-under-population", params={"max": "many"})
    assert bad.status_code == 400 and '<header class="site">' in bad.text
    assert "many" in html.unescape(bad.text)
    machine = client.get("/queries/authorities-under-population.json", params={"max": "many"},
                         headers={"Accept": "application/json"})
    assert machine.status_code == 400 and machine.json()["error"]["status"] == 400
    missing = client.get("/queries/no-such-query")
    assert missing.status_code == 404 and '<header class="site">' in missing.text


def test_queries_list_links_every_query(client: httpx.Client) -> None:
    page = client.get("/queries").text
    english = client.get("/queries", params={"lang": "en"}).text
    text, english_text = html.unescape(page), html.unescape(english)  # a title may hold an apostrophe (&#39;)
    for named in list_queries():
        assert f'href="/queries/{named.name}"' in page
        assert named.title_fr in text  # French by default
        assert named.title in english_text


# ---------------------------------------------------------------- SPARQL page, errors, caching


def test_sparql_page_works_without_javascript(client: httpx.Client) -> None:
    """The plain form (no script) runs the query and shows its rows as a table in the page; or downloads."""
    page = client.get("/query")
    assert page.status_code == 200
    form = re.search(r'<form id="sparql-form" method="get" action="([^"]+)">', page.text)
    assert form is not None and form[1] == "/query"
    query = html.unescape(re.search(r'<textarea[^>]*name="query"[^>]*>(.*?)</textarea>', page.text, re.S)[1])
    assert not re.search(r'<(script|link)[^>]+(src|href)="https?://', page.text)  # YASGUI comes from here
    answer = client.get("/query", params={"query": query})
    assert answer.status_code == 200
    table = answer.text[answer.text.index('<table class="results"'):]
    table = table[:table.index("</table>")]
    assert table.count("<tr>") == 1 + 24
    assert 'href="/page/authority/nantes-metropole"' in table  # IRIs as links to their pages
    download = re.search(r'formaction="([^"]+)" formmethod="post"', page.text)
    assert download is not None
    as_csv = client.post(download[1], data={"query": query, "format": "csv"})
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert len(as_csv.text.strip().splitlines()) == 1 + 24
    bad = client.get("/query", params={"query": "SELECT nope"})
    assert bad.status_code == 400 and "Requête invalide" in bad.text


def test_sparql_page_offers_every_named_query_as_a_tab(client: httpx.Client) -> None:
    page = client.get("/query", params={"lang": "en"}).text
    config = json.loads(re.search(r'<script type="application/json" id="yasgui-config">(.*?)</script>', page,
                                  re.S)[1])
    assert [tab["name"] for tab in config["tabs"]] == [q.title for q in list_queries()]
    under = next(tab for tab in config["tabs"] if tab["name"] == get_query("authorities-under-population").title)
    integer = "<http://www.w3.org/2001/XMLSchema#integer>"
    assert f'VALUES (?max ?basis) {{ ("250000"^^{integer} "authority") }}' in under["query"]  # the defaults
    assert under["query"].startswith("BASE <") and "# title" not in under["query"]
    assert '<script src="/static/yasgui/yasgui.min.js" defer></script>' in page
    assert "default-src 'self'" in client.get("/query").headers["content-security-policy"]
    assert "unsafe-eval" not in client.get("/query").headers["content-security-policy"]


def test_error_page_in_the_sites_layout(client: httpx.Client) -> None:
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert '<header class="site">' in response.text and "/no/such/page" in response.text
    machine = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert machine.status_code == 404 and machine.json()["error"]["status"] == 404


@pytest.mark.parametrize("path", ["/", "/page/authority/paris", "/queries/authorities-with-lead", "/ontology",
                                  "/static/site.css", "/static/leaflet/leaflet.js", "/static/map/france.geojson",
                                  "/queries/authorities-with-lead.csv"])
def test_pages_answer_304_when_unchanged(client: httpx.Client, path: str) -> None:
    first = client.get(path)
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(path, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(path, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"stale"'}).status_code == 200
    other = client.get(path, params={"lang": "en"}) if not path.startswith("/static/") and not path.endswith(
        ".csv") else None
    if other is not None:
        assert other.headers["etag"] != etag  # another representation, another tag


def test_behind_a_proxy_pages_name_the_public_url_and_iris_stay(start_server) -> None:  # type: ignore[no-untyped-def]
    server = start_server("--base-url", "https://data.example.org/citygraph")
    with httpx.Client(base_url=server.url, timeout=30.0, headers={"Accept": "text/html"}) as http:
        page = http.get("/page/authority/paris")
        data = json.loads(jsonld_blocks(page.text)[0])
        assert data["url"] == "https://data.example.org/citygraph/page/authority/paris"
        assert data["@id"] == f"{ID}authority/paris"  # the IRI keeps the configured base
        assert 'href="/page/kind/commune"' in page.text  # links stay on whatever host serves the page
        turtle = http.get("/data/authority/paris.ttl").text
        parsed = rdflib.Graph().parse(data=turtle, format="turtle")
        assert list(parsed.triples((rdflib.URIRef(f"{ID}authority/paris"), None, None)))
        assert "data.example.org" not in turtle


# ---------------------------------------------------------------- named queries for people


def _results_table(text: str) -> str:
    start = text.index('<table class="results"')
    return text[start:text.index("</table>", start)]


def test_named_query_page_shows_labels_and_numbers_the_readers_way(client: httpx.Client, loaded) -> None:  # type: ignore[no-untyped-def]
    expected = run_named_query(loaded, "authorities-under-population", {})
    fr = client.get("/queries/authorities-under-population").text
    table = html.unescape(_results_table(fr))
    headers = re.findall(r'<th scope="col">([^<]*)</th>', table)
    assert headers[:2] == ["Collectivité", "Habitants"]  # the header's French labels, not label_en / inhabitants
    assert "label_en" not in table and "officialTotal" not in html.unescape(table)
    for row in expected.dicts():
        slug = row["authority"].value[len(ID):]
        assert f'<a href="/page/{slug}">{row["label"].value}</a>' in table  # the label, linked; never the bare slug
        assert f">{slug}<" not in table
        figure = f"{int(row['inhabitants'].value):,}"
        assert figure.replace(",", "\u202f") in table  # «25 413»
    english = _results_table(client.get("/queries/authorities-under-population", params={"lang": "en"}).text)
    assert re.findall(r'<th scope="col">([^<]*)</th>', english)[:2] == ["Authority", "Inhabitants"]
    assert "25,413" in english and "Official total" in english
    dated = _results_table(client.get("/queries/authorities-with-lead").text)
    assert "6 février 2017" in dated and "2017-02-06" not in dated


def test_theme_parameter_is_a_list_from_the_graph_and_a_wrong_value_says_so(client: httpx.Client, loaded) -> None:  # type: ignore[no-untyped-def]
    themes = loaded.store.query(
        f"SELECT ?t ?label WHERE {{ GRAPH <{loaded.data_graph}> {{ ?t <{SKOS}inScheme> <{ID}scheme/themes> ; "
        f"<{SKOS}prefLabel> ?label FILTER(lang(?label) = 'fr') }} }}")
    expected = {row["t"].value[len(ID) + len("theme/"):]: row["label"].value for row in themes}
    assert len(expected) >= 8
    page = client.get("/queries/authorities-by-theme").text
    select = re.search(r'<select id="param-theme" name="theme" required>(.*?)</select>', page, re.S)
    assert select is not None
    options = dict(re.findall(r'<option value="([^"]+)"[^>]*>([^<]*)</option>', select[1]))
    assert {slug: html.unescape(label) for slug, label in options.items()} == expected
    assert "Choisissez les valeurs" in page and '<table class="results"' not in page  # nothing run yet
    nope = client.get("/queries/authorities-by-theme", params={"theme": "nope"})
    assert nope.status_code == 200
    assert "« nope » ne désigne rien dans le graphe pour le paramètre « theme »" in html.unescape(nope.text)
    basis = client.get("/queries/smallest-authorities").text
    assert '<option value="seat">sa commune chef-lieu</option>' in basis


def test_named_query_api_errors_name_url_parameters(client: httpx.Client) -> None:
    missing = client.get("/queries/authorities-by-theme.json", headers={"Accept": "application/json"})
    assert missing.status_code == 400
    detail = missing.json()["error"]["detail"]
    assert "URL parameter “theme” (?theme=…)" in detail and "--param" not in detail


def test_home_says_which_initiative_count_is_which(client: httpx.Client, loaded) -> None:  # type: ignore[no-untyped-def]
    rows = loaded.store.query(
        f"SELECT ?i ?t WHERE {{ GRAPH <{loaded.data_graph}> {{ ?i a <{CGO}Initiative> ; <{CGO}theme> ?t }} }}")
    pairs = {(row["i"].value, row["t"].value) for row in rows}
    initiatives = len({i for i, _ in pairs})
    text = html.unescape(client.get("/").text)
    assert re.search(rf'data-count="initiatives">{initiatives}<', text)
    assert f"Le graphe nomme {initiatives} initiatives" in text and f"en compte {len(pairs)}" in text
    triples = len(list(loaded.store.query(f"SELECT * WHERE {{ GRAPH <{loaded.data_graph}> {{ ?s ?p ?o }} }}")))
    assert f'data-count="triples">{triples:,}<'.replace(",", "\u202f") in text  # «1 798 triplets»
