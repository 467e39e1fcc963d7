"""Named queries: every survey figure the graph can derive, parameter binding, headers, result formats.

Expected values come from the survey text and the reference table in ../shared/, read at test time.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pyoxigraph
import pytest

from citygraph.errors import InputError, ParseError
from citygraph.load import LoadedGraph, load_graph
from citygraph.query import (
    QueryResult,
    get_query,
    list_queries,
    parse_header,
    run_named_query,
    where_group_offset,
    with_values,
)

ID = "https://w3id.org/citygraph/id/"
KIND_SLUGS = {  # the reference table's wording of the legal kind on 1 Jan 2017 -> the kind scheme's slug
    "commune": "commune",
    "métropole": "metropole",
    "communauté urbaine": "communaute-urbaine",
    "communauté d'agglomération": "communaute-d-agglomeration",
    "établissement public territorial": "etablissement-public-territorial",
    "Métropole de Lyon": "metropole-de-lyon",
}
# The figures as the issue states them (8 communes, 10 métropoles, 3 CU, 1 CA, 1 EPT, the Métropole de Lyon).
ISSUE_KIND_COUNTS = {
    "commune": 8,
    "metropole": 10,
    "communaute-urbaine": 3,
    "communaute-d-agglomeration": 1,
    "etablissement-public-territorial": 1,
    "metropole-de-lyon": 1,
}
# Parameters for the queries that have required ones, so every query can be run.
REQUIRED_PARAMS = {
    "authorities-by-theme": {"theme": "smart-grid"},
    "authority-by-insee": {"code": "44109"},
    "programme-communes": {"programme": "nantes-metropole"},
    "programme-by-commune": {"code": "44162"},
}


@pytest.fixture(scope="module")
def graph() -> LoadedGraph:
    return load_graph()


@pytest.fixture(scope="module")
def reference(shared_dir: Path) -> list[dict[str, str]]:
    with (shared_dir / "reference" / "authorities-2017.tsv").open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.fixture(scope="module")
def survey(shared_dir: Path) -> str:
    """The survey's text, whitespace collapsed (the table cells wrap over lines)."""
    text = (shared_dir / "sources" / "jdn-smart-cities-2017-02.txt").read_text(encoding="utf-8")
    return re.sub(r"\s+", " ", text)


def authority(key: str) -> str:
    return f"{ID}authority/{key}"


def kind_slug(kind_2017: str) -> str:
    for wording, slug in sorted(KIND_SLUGS.items(), key=lambda item: -len(item[0])):
        if kind_2017.startswith(wording):
            return slug
    raise AssertionError(f"unknown kind wording {kind_2017!r}")


def has_lead(row: dict[str, str]) -> bool:
    return not row["lead_name"].startswith("(")  # "(none — JDN: …)" when the survey names no lead


def authorities_of(result: QueryResult) -> set[str]:
    return {a for a in result.values("authority") if a}


# ---------------------------------------------------------------- the survey's figures


def test_authorities_by_kind_match_the_reference(graph: LoadedGraph, reference: list[dict[str, str]]) -> None:
    result = run_named_query(graph, "authorities-by-kind")
    assert len(result) == len(reference) == 24
    assert authorities_of(result) == {authority(row["key"]) for row in reference}
    derived = Counter(kind.rsplit("/", 1)[-1] for kind in result.values("kind") if kind)
    expected = Counter(kind_slug(row["kind_2017"]) for row in reference)
    assert derived == expected
    assert dict(derived) == ISSUE_KIND_COUNTS
    sirens = dict(zip(result.values("authority"), result.values("siren"), strict=True))
    codes = dict(zip(result.values("authority"), result.values("inseeCode"), strict=True))
    for row in reference:
        assert sirens[authority(row["key"])] == row["siren"]
        assert codes[authority(row["key"])] == row["insee_code"].zfill(5)


def test_lead_share(graph: LoadedGraph, reference: list[dict[str, str]]) -> None:
    result = run_named_query(graph, "lead-share")
    (row,) = result.dicts()
    with_lead = sum(1 for r in reference if has_lead(r))
    assert (with_lead, len(reference)) == (20, 24)
    assert int(row["withLead"].value) == with_lead
    assert int(row["total"].value) == len(reference)
    assert float(row["percent"].value) == round(100 * with_lead / len(reference)) == 83


def test_authorities_with_lead_name_the_reference_leads(
    graph: LoadedGraph, reference: list[dict[str, str]]
) -> None:
    result = run_named_query(graph, "authorities-with-lead")
    assert len(result) == 20
    names = dict(zip(result.values("authority"), result.values("name"), strict=True))
    assert names == {authority(r["key"]): r["lead_name"] for r in reference if has_lead(r)}


def test_the_four_without_a_lead(graph: LoadedGraph, reference: list[dict[str, str]], survey: str) -> None:
    result = run_named_query(graph, "authorities-without-lead")
    expected = {authority(r["key"]) for r in reference if not has_lead(r)}
    assert authorities_of(result) == expected
    assert len(expected) == 4
    labels = set(result.values("label"))
    assert labels == {"Béthune", "Brest Métropole", "Chartres", "Grand Dijon"}
    sentence = "pas de responsable smart city attitré : Béthune, Brest Métropole, Chartres et le Grand Dijon"
    assert sentence in survey
    status = dict(zip(result.values("label"), result.values("status"), strict=True))
    assert status["Béthune"] == ID + "lead-status/appointment-in-progress"  # «Béthune En cours de nomination»
    assert "Béthune En cours de nomination" in survey


def test_commune_scope_programmes(graph: LoadedGraph, reference: list[dict[str, str]], survey: str) -> None:
    result = run_named_query(graph, "commune-scope-programmes")
    assert "Seules huit se concentrent sur leur propre commune, dont notamment Marseille et Paris" in survey
    assert len(result) == 8
    communes = {authority(r["key"]) for r in reference if kind_slug(r["kind_2017"]) == "commune"}
    assert authorities_of(result) == communes
    assert {authority("marseille"), authority("paris")} <= authorities_of(result)


def test_central_city_steered(graph: LoadedGraph, survey: str) -> None:
    result = run_named_query(graph, "central-city-steered")
    assert authorities_of(result) == {
        authority(k)
        for k in (
            "nantes-metropole",
            "saint-etienne-metropole",
            "eurometropole-de-strasbourg",
            "angers-loire-metropole",
        )
    }
    assert (
        "Dans les métropoles de Nantes, Saint-Etienne et Strasbourg ainsi que dans l'agglomération d'Angers"
        in survey
    )
    for city in result.values("centralCityLabel"):
        assert city is not None
        assert city.replace("É", "E") in survey


@pytest.mark.parametrize("threshold", [250_000, 100_000, 500_000])
@pytest.mark.parametrize(
    ("basis", "column"), [("authority", "population_2014"), ("seat", "seat_population_2014")]
)
def test_authorities_under_population(
    graph: LoadedGraph, reference: list[dict[str, str]], threshold: int, basis: str, column: str
) -> None:
    result = run_named_query(graph, "authorities-under-population", {"max": str(threshold), "basis": basis})
    expected = {authority(r["key"]) for r in reference if int(r[column]) < threshold}
    assert authorities_of(result) == expected
    assert set(result.values("censusYear")) <= {"2014"}
    assert set(result.values("basis")) <= {basis}


def test_under_250000_gives_9_by_authority_and_16_by_seat(
    graph: LoadedGraph, reference: list[dict[str, str]]
) -> None:
    """The reference README's note: neither reading gives the survey's 13."""
    own = run_named_query(graph, "authorities-under-population", {"max": "250000", "basis": "authority"})
    seat = run_named_query(graph, "authorities-under-population", {"max": "250000", "basis": "seat"})
    assert len(own) == sum(1 for r in reference if int(r["population_2014"]) < 250_000) == 9
    assert len(seat) == sum(1 for r in reference if int(r["seat_population_2014"]) < 250_000) == 16


def test_plaine_commune_population_is_not_an_official_total(graph: LoadedGraph) -> None:
    result = run_named_query(graph, "authorities-under-population", {"max": "10000000"})
    official = dict(zip(result.values("authority"), result.values("officialTotal"), strict=True))
    assert official[authority("plaine-commune")] == "false"
    assert {v for a, v in official.items() if a != authority("plaine-commune")} == {"true"}


@pytest.mark.parametrize("limit", [1, 3, 24])
def test_smallest_authorities(graph: LoadedGraph, reference: list[dict[str, str]], limit: int) -> None:
    result = run_named_query(graph, "smallest-authorities", {"limit": limit})
    by_size = sorted(reference, key=lambda r: int(r["population_2014"]))
    assert result.values("authority") == [authority(r["key"]) for r in by_size[:limit]]
    assert result.values("rank") == [str(i + 1) for i in range(limit)]


def test_leads_and_posts_titles_are_the_survey_s(graph: LoadedGraph, survey: str) -> None:
    result = run_named_query(graph, "leads-and-posts")
    assert len(result) == 20
    for row in result.dicts():
        assert row["title"].language == "fr"
        # The survey's table reads «Name Post»: the title must follow the name verbatim.
        assert f"{row['name'].value} {row['title'].value}" in survey
        assert row["asOf"].value == "2017-02-06"
    assert len(set(result.values("authority"))) == 20


def test_authority_by_insee_finds_every_authority(
    graph: LoadedGraph, reference: list[dict[str, str]]
) -> None:
    query = get_query("authority-by-insee")
    for row in reference:
        result = run_named_query(graph, query, {"code": row["insee_code"].zfill(5)})
        assert result.values("authority") == [authority(row["key"])]
        assert result.values("inhabitants") == [row["population_2014"]]


def test_theme_queries(graph: LoadedGraph) -> None:
    smart_grid = run_named_query(graph, "authorities-by-theme", {"theme": "smart-grid"})
    assert authorities_of(smart_grid) == {authority("chartres")}
    assert len(run_named_query(graph, "authorities-by-theme", {"theme": "open-data"})) == 0
    initiatives = run_named_query(graph, "initiatives-by-theme")
    assert {t for t in initiatives.values("theme") if t} == {
        ID + "theme/" + slug
        for slug in (
            "open-data",
            "participatory-platform",
            "smart-grid",
            "public-wifi",
            "smart-street-lighting",
            "smart-parking",
            "smart-waste-collection",
            "connected-public-space-management",
        )
    }
    assert {a for a in initiatives.values("authority") if a} == {
        authority("chartres"),
        authority("grand-dijon"),
    }


def test_leadership_follows_the_date(graph: LoadedGraph) -> None:
    """Before the survey's records there is no leadership to count."""
    assert len(run_named_query(graph, "authorities-with-lead", {"date": "2016-12-31"})) == 0
    assert len(run_named_query(graph, "authorities-with-lead", {"date": "2030-01-01"})) == 20


# ---------------------------------------------------------------- every named query


def test_every_query_has_a_header_and_runs(graph: LoadedGraph) -> None:
    queries = list_queries()
    assert {q.name for q in queries} >= {
        "authorities-by-kind",
        "lead-share",
        "authorities-with-lead",
        "authorities-without-lead",
        "commune-scope-programmes",
        "central-city-steered",
        "authorities-under-population",
        "smallest-authorities",
        "leads-and-posts",
        "authorities-by-theme",
        "initiatives-by-theme",
        "authority-by-insee",
    }
    for query in queries:
        assert query.title and query.title != query.name, query.name
        assert query.description, query.name
        assert "GRAPH" not in re.sub(r"#[^\n]*", "", query.text).upper().split(), query.name
        result = run_named_query(graph, query, REQUIRED_PARAMS.get(query.name, {}))
        assert result.variables
        for parameter in query.parameters:
            assert parameter.name in result.variables, (query.name, parameter.name)


def test_population_queries_say_which_population(graph: LoadedGraph) -> None:
    for name in ("authorities-under-population", "smallest-authorities"):
        description = get_query(name).description
        assert "2014" in description and "1 January 2017" in description


def test_values_binding_means_the_same_as_substitutions(graph: LoadedGraph) -> None:
    """The remote binding (VALUES in the WHERE group) gives the rows the local one (substitutions) gives."""
    cases = [(q, REQUIRED_PARAMS.get(q.name, {})) for q in list_queries()]
    cases += [
        (get_query("authorities-under-population"), {"basis": "seat", "max": "200000"}),
        (get_query("smallest-authorities"), {"limit": "2", "basis": "seat"}),
        (get_query("lead-share"), {"date": "2016-01-01"}),
    ]
    for query, params in cases:
        local = run_named_query(graph, query, params)
        text = with_values(query.sparql(graph.base), query.bind(params, base=graph.base))
        answer = graph.store.query(text, default_graph=pyoxigraph.NamedNode(graph.data_graph))
        variables = [v.value for v in answer.variables]
        rows = [tuple(solution[v] for v in variables) for solution in answer]
        assert (variables, rows) == (local.variables, local.rows), query.name


# ---------------------------------------------------------------- parameters


def test_an_injection_attempt_is_a_plain_value(graph: LoadedGraph) -> None:
    attempt = 'x" } ; DROP ALL ; SELECT * WHERE { ?s ?p ?o '
    result = run_named_query(graph, "authority-by-insee", {"code": attempt})
    assert len(result) == 0
    assert result.values("code") == []
    bound = get_query("authority-by-insee").bind({"code": attempt})["code"]
    assert isinstance(bound, pyoxigraph.Literal) and bound.value == attempt
    text = with_values(get_query("authority-by-insee").text, {"code": bound})
    assert text.count("DROP ALL") == 1  # once, inside an escaped string literal
    with pytest.raises(InputError, match="theme"):
        run_named_query(graph, "authorities-by-theme", {"theme": 'x" } ; DROP ALL'})
    assert len(graph.store) > 0


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("authorities-under-population", {"max": "abc"}, "max='abc': not an integer"),
        ("authorities-under-population", {"basis": "region"}, "expected one of authority, seat"),
        ("authorities-under-population", {"min": "1"}, "has no parameter 'min'"),
        ("authorities-with-lead", {"date": "6 Feb 2017"}, "not a date"),
        ("authority-by-insee", {}, "needs --param code"),
        ("authorities-by-theme", {"theme": "a/b"}, "not a slug"),
    ],
)
def test_bad_parameters_are_input_errors(
    graph: LoadedGraph, name: str, params: dict[str, str], message: str
) -> None:
    with pytest.raises(InputError) as caught:
        run_named_query(graph, name, params)
    assert message in str(caught.value)
    assert caught.value.exit_code == 2


def test_typed_terms() -> None:
    max_ = get_query("authorities-under-population").parameter("max")
    term = max_.term("+0250000")
    assert isinstance(term, pyoxigraph.Literal)
    assert (term.value, term.datatype.value) == ("250000", "http://www.w3.org/2001/XMLSchema#integer")
    theme = get_query("authorities-by-theme").parameter("theme")
    assert theme.term("smart-grid", base="https://example.org/cg/") == pyoxigraph.NamedNode(
        "https://example.org/cg/id/theme/smart-grid"
    )


# ---------------------------------------------------------------- headers and files


def test_header_parsing(tmp_path: Path) -> None:
    text = """# title: Things
# description: First line
#   continued here.
# a free comment
# param: n integer 3 How many
#   at most
# param: who iri - Someone
PREFIX ex: <http://example.org/>
SELECT ?n ?who WHERE { }
"""
    header = parse_header(text, tmp_path / "x.rq")
    assert header.title == "Things"
    assert header.description == "First line continued here."
    assert [(p.name, p.datatype, p.default, p.description) for p in header.parameters] == [
        ("n", "integer", "3", "How many at most"),
        ("who", "iri", None, "Someone"),
    ]


def test_header_in_two_languages(tmp_path: Path) -> None:
    text = """# title: Things
# title@fr: Des choses
# description: English text
# description@fr: Texte en
#   français.
# column n: Number of things | Nombre de choses
# column label_en: English name | Nom anglais
# param: n integer 3 How many | Combien
SELECT ?n ?label_en WHERE { }
"""
    path = tmp_path / "x.rq"
    path.write_text(text, encoding="utf-8")
    query = get_query(path)
    assert query.wording("fr") == ("Des choses", "Texte en français.")
    assert query.wording("en") == ("Things", "English text")
    assert query.column_label("n", "fr") == "Nombre de choses"
    assert query.column_label("label_en", "en") == "English name"
    assert query.column_label("other", "fr") == "other"  # no label: the variable's name
    assert (query.parameters[0].description, query.parameters[0].description_fr) == ("How many", "Combien")


def test_every_bundled_query_speaks_both_languages() -> None:
    """Each named query has French and English wording and a label for each column it selects."""
    for query in list_queries():
        assert query.title_fr and query.description_fr, query.name
        projection = query.text.split("SELECT", 1)[1].split("WHERE", 1)[0]
        projection = re.sub(r"\(.*?AS\s+\?(\w+)\)", r"?\1", projection, flags=re.S)
        for variable in re.findall(r"\?(\w+)", projection):
            assert variable in query.columns, (query.name, variable)
        for parameter in query.parameters:
            assert parameter.description_fr, (query.name, parameter.name)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("# param: n", "expected 'NAME TYPE DEFAULT DESCRIPTION'"),
        ("# param: n float 1 x", "unknown parameter type 'float'"),
        ("# param: n integer abc x", "bad default"),
        ("# param: ?n integer 1 x", "bad parameter name"),
        ("# column n: only English", "expected 'English | Français'"),
    ],
)
def test_bad_headers_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.rq"
    path.write_text(f"# title: Bad\n{line}\nSELECT * WHERE {{ }}\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        get_query(str(path))
    assert f"{path}:2:" in str(caught.value) and message in str(caught.value)


def test_a_query_file_by_path(graph: LoadedGraph, tmp_path: Path) -> None:
    path = tmp_path / "count.rq"
    path.write_text(
        "# param: k id:kind/ commune The kind\n"
        "PREFIX cgo: <https://w3id.org/citygraph/ontology#>\n"
        "SELECT (COUNT(?a) AS ?n) ?k WHERE { ?a cgo:authorityKind ?k } GROUP BY ?k\n",
        encoding="utf-8",
    )
    result = run_named_query(graph, str(path), {"k": "metropole"})
    assert result.values("n") == ["10"]
    assert get_query(path).title == "count"


def test_query_errors(graph: LoadedGraph, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown query 'nope'"):
        get_query("nope")
    with pytest.raises(InputError, match="no such file"):
        get_query(str(tmp_path / "missing.rq"))
    broken = tmp_path / "broken.rq"
    broken.write_text("# title: Broken\nSELEKT ?x WHERE { ?x ?y ?z }\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        run_named_query(graph, str(broken))
    assert caught.value.file == str(broken) and caught.value.line == 2
    unprojected = tmp_path / "unprojected.rq"
    unprojected.write_text(
        "# param: n integer 1 x\nSELECT ?s WHERE { ?s ?p ?o FILTER(?o = ?n) }\n", encoding="utf-8"
    )
    with pytest.raises(InputError, match="must be a variable of the SELECT clause"):
        run_named_query(graph, str(unprojected))


def test_where_group_offset_skips_comments_strings_and_iris() -> None:
    text = (
        "# a { in a comment\nPREFIX ex: <http://ex.org/{x}>\nSELECT (EXISTS { ?a ?b ?c } AS ?e) ?x\n"
        'WHERE { ?x ex:p "{" }'
    )
    assert text[where_group_offset(text) - 1 :].startswith('{ ?x ex:p "{" }')
    construct = "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }"
    assert construct[where_group_offset(construct) :] == " ?s ?p ?o }"
    ask = "ASK { ?s ?p '''}''' }"
    assert ask[where_group_offset(ask) :] == " ?s ?p '''}''' }"
    with pytest.raises(InputError):
        where_group_offset("CONSTRUCT WHERE { ?s ?p ?o }")


# ---------------------------------------------------------------- results and the Python API


def test_result_formats(graph: LoadedGraph) -> None:
    result = run_named_query(graph, "authorities-without-lead")
    payload = json.loads(result.to_json())
    assert payload["head"]["vars"] == result.variables
    assert len(payload["results"]["bindings"]) == 4
    first = payload["results"]["bindings"][0]
    assert first["authority"]["type"] == "uri"
    assert first["label"] == {"type": "literal", "value": first["label"]["value"], "xml:lang": "fr"}
    rows = list(csv.reader(result.to_csv().splitlines()))
    assert rows[0] == result.variables and len(rows) == 5
    tsv = result.to_tsv().splitlines()
    assert tsv[0].split("\t") == ["?" + v for v in result.variables]
    assert tsv[1].split("\t")[0].startswith("<https://w3id.org/citygraph/id/authority/")
    table = result.to_table().splitlines()
    assert table[0].split()[0] == "authority" and len(table) == 6
    assert "<authority/bethune>" in result.to_table()


def test_python_api(graph: LoadedGraph) -> None:
    import citygraph.query  # the submodule import must not break the package-level function

    result = citygraph.run_query(graph, "authorities-under-population", max=250000, basis="seat")
    assert len(result) == 16
    assert citygraph.run_query(graph, "lead-share").values("withLead") == ["20"]
