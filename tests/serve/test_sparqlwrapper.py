"""SPARQLWrapper, a real client over HTTP, in every result format it asks for.

Expected figures come from the survey: 24 programmes, 24 authorities of which 8 are communes.
"""

from __future__ import annotations

import csv
import io

import pytest
import rdflib
from SPARQLWrapper import CSV, JSON, JSONLD, POST, TSV, TURTLE, XML, SPARQLWrapper

PREFIX = "PREFIX cgo: <https://w3id.org/citygraph/ontology#> "
PROGRAMMES = PREFIX + "SELECT ?p ?a WHERE { ?p a cgo:SmartCityProgramme ; cgo:runBy ?a }"
CONSTRUCT = PREFIX + "CONSTRUCT { ?p cgo:runBy ?a } WHERE { ?p a cgo:SmartCityProgramme ; cgo:runBy ?a }"


def wrapper(server, query: str, fmt: str, method: str | None = None) -> SPARQLWrapper:  # type: ignore[no-untyped-def]
    client = SPARQLWrapper(server.sparql)
    client.setQuery(query)
    client.setReturnFormat(fmt)
    if method:
        client.setMethod(method)
    return client


@pytest.mark.parametrize("method", [None, POST])
def test_select_json(live_server, method: str | None) -> None:  # type: ignore[no-untyped-def]
    result = wrapper(live_server, PROGRAMMES, JSON, method).query().convert()
    assert result["head"]["vars"] == ["p", "a"]
    rows = result["results"]["bindings"]
    assert len(rows) == 24
    assert len({row["a"]["value"] for row in rows}) == 24


def test_select_xml(live_server) -> None:  # type: ignore[no-untyped-def]
    document = wrapper(live_server, PROGRAMMES, XML).query().convert()
    assert len(document.getElementsByTagName("result")) == 24


@pytest.mark.parametrize(("fmt", "delimiter"), [(CSV, ","), (TSV, "\t")])
def test_select_csv_tsv(live_server, fmt: str, delimiter: str) -> None:  # type: ignore[no-untyped-def]
    raw = wrapper(live_server, PROGRAMMES, fmt).query().convert()
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8")), delimiter=delimiter))
    assert [name.lstrip("?") for name in rows[0]] == ["p", "a"]
    assert len([row for row in rows[1:] if row]) == 24


def test_ask(live_server) -> None:  # type: ignore[no-untyped-def]
    yes = PREFIX + "ASK { ?a a cgo:Commune }"
    no = PREFIX + "ASK { ?a a cgo:NoSuchClass }"
    assert wrapper(live_server, yes, JSON).query().convert()["boolean"] is True
    assert wrapper(live_server, no, JSON).query().convert()["boolean"] is False
    xml = wrapper(live_server, yes, XML).query().convert()
    assert xml.getElementsByTagName("boolean")[0].firstChild.data == "true"


def test_construct_turtle(live_server) -> None:  # type: ignore[no-untyped-def]
    raw = wrapper(live_server, CONSTRUCT, TURTLE).query().convert()
    graph = rdflib.Graph().parse(data=raw, format="turtle")
    assert len(graph) == 24


def test_construct_jsonld(live_server) -> None:  # type: ignore[no-untyped-def]
    result = wrapper(live_server, CONSTRUCT, JSONLD).query().convert()
    graph = (
        result if isinstance(result, rdflib.Graph) else rdflib.Graph().parse(data=result, format="json-ld")
    )
    assert len(graph) == 24


def test_communes_by_kind(live_server) -> None:  # type: ignore[no-untyped-def]
    """8 of the 24 authorities are communes (survey)."""
    query = PREFIX + "SELECT (COUNT(DISTINCT ?a) AS ?n) WHERE { ?p cgo:runBy ?a . ?a a cgo:Commune }"
    result = wrapper(live_server, query, JSON).query().convert()
    assert result["results"]["bindings"][0]["n"]["value"] == "8"
