"""Dereferenceable IRIs on a live server: 303 by content negotiation, Link headers, every IRI resolves.

Expectations come from the graph as the test loads it itself (``load_graph``), never from the server.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import rdflib

from citygraph.load import load_graph
from citygraph.namespaces import DEFAULT_BASE

ID = DEFAULT_BASE + "id/"
CGO = DEFAULT_BASE + "ontology#"
TWINS = {"ttl": "text/turtle", "jsonld": "application/ld+json", "nt": "application/n-triples",
         "rdf": "application/rdf+xml"}
RDFLIB_FORMATS = {"ttl": "turtle", "jsonld": "json-ld", "nt": "nt", "rdf": "xml"}


@pytest.fixture(scope="module")
def graph() -> rdflib.Graph:
    return load_graph().to_rdflib(include_ontology=True)


@pytest.fixture(scope="module")
def resource_paths() -> list[str]:
    """Every subject of the data graph under the base's ``id/``, as a path after it."""
    loaded = load_graph()
    data = loaded.to_rdflib()
    subjects = {str(s) for s in data.subjects() if isinstance(s, rdflib.URIRef)}
    return sorted(s[len(ID):] for s in subjects if s.startswith(ID))


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30.0) as http:
        yield http


def parse_links(header: str) -> dict[str, str]:
    """``Link: <href>; rel="alternate"; type="…"`` entries as {media type: href}."""
    links: dict[str, str] = {}
    for part in header.split(","):
        href, _, params = part.strip().partition(";")
        attrs = dict(p.strip().split("=", 1) for p in params.split(";") if "=" in p)
        if attrs.get("rel", "").strip('"') == "alternate":
            links[attrs["type"].strip('"')] = href.strip().strip("<>")
    return links


def test_the_graph_has_many_resources(resource_paths: list[str]) -> None:
    # 24 authorities, their programmes, leadership records … : far more than the authorities alone.
    assert sum(p.startswith("authority/") and p.count("/") == 1 for p in resource_paths) == 24
    assert len(resource_paths) > 100


@pytest.mark.parametrize(("accept", "expected"), [
    ("text/html", "/page/authority/paris"),
    ("application/xhtml+xml", "/page/authority/paris"),
    ("text/turtle", "/data/authority/paris.ttl"),
    ("application/ld+json", "/data/authority/paris.jsonld"),
    ("application/n-triples", "/data/authority/paris.nt"),
    ("application/rdf+xml", "/data/authority/paris.rdf"),
    ("text/html;q=0.5, text/turtle", "/data/authority/paris.ttl"),
    ("application/ld+json;q=0.9, text/html;q=0.1", "/data/authority/paris.jsonld"),
    ("text/*;q=0.3, application/rdf+xml;q=0.8", "/data/authority/paris.rdf"),
    ("*/*", "/page/authority/paris"),
    (None, "/page/authority/paris"),
])
def test_id_answers_303_by_content_negotiation(client: httpx.Client, accept: str | None,
                                               expected: str) -> None:
    headers = {"Accept": accept} if accept is not None else {}
    response = client.get("/id/authority/paris", headers=headers)
    assert response.status_code == 303
    assert response.headers["location"] == expected
    assert "accept" in response.headers["vary"].lower()


def test_303_carries_link_alternates_that_resolve(client: httpx.Client) -> None:
    response = client.get("/id/authority/nantes-metropole", headers={"Accept": "text/turtle"})
    assert response.status_code == 303
    links = parse_links(response.headers["link"])
    assert set(links) == {"text/html", *TWINS.values()}
    for media, href in links.items():
        target = client.get(href)
        assert target.status_code == 200, href
        assert target.headers["content-type"].split(";")[0] == media, href


def test_unacceptable_and_unknown(client: httpx.Client) -> None:
    assert client.get("/id/authority/paris", headers={"Accept": "image/png"}).status_code == 406
    assert client.get("/id/authority/no-such-place", headers={"Accept": "text/turtle"}).status_code == 404
    assert client.get("/data/authority/no-such-place.ttl").status_code == 404
    assert client.get("/page/authority/no-such-place").status_code == 404


def test_every_iri_under_the_base_resolves(client: httpx.Client, resource_paths: list[str]) -> None:
    """Each subject: 303 to a 200 HTML page, and to 200 Turtle that parses and says something about it."""
    for path in resource_paths:
        iri = rdflib.URIRef(ID + path)
        page = client.get("/id/" + path, headers={"Accept": "text/html"}, follow_redirects=True)
        assert page.status_code == 200, path
        assert page.headers["content-type"].startswith("text/html"), path
        assert str(iri) in page.text, path
        data = client.get("/id/" + path, headers={"Accept": "text/turtle"}, follow_redirects=True)
        assert data.status_code == 200, path
        parsed = rdflib.Graph().parse(data=data.text, format="turtle")
        assert len(list(parsed.triples((iri, None, None)))) > 0, path


@pytest.mark.parametrize("ext", sorted(TWINS))
def test_twins_hold_the_resources_triples_with_the_real_iris(client: httpx.Client, graph: rdflib.Graph,
                                                             ext: str) -> None:
    iri = rdflib.URIRef(ID + "authority/nantes-metropole")
    response = client.get(f"/data/authority/nantes-metropole.{ext}")
    assert response.status_code == 200
    assert response.headers["content-type"].split(";")[0] == TWINS[ext]
    parsed = rdflib.Graph().parse(data=response.content, format=RDFLIB_FORMATS[ext])
    expected = set(graph.triples((iri, None, None)))
    assert expected <= set(parsed)  # every statement the graph makes about it, IRIs unchanged (not localhost)
    assert not any("127.0.0.1" in str(term) for triple in parsed for term in triple)


def test_data_without_extension_negotiates(client: httpx.Client) -> None:
    response = client.get("/data/authority/paris", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")


def test_ontology_terms_resolve(client: httpx.Client, graph: rdflib.Graph) -> None:
    terms = sorted({str(s) for s in graph.subjects() if str(s).startswith(CGO)})
    assert terms, "the ontology defines terms"
    page = client.get("/ontology", headers={"Accept": "text/html"})
    assert page.status_code == 200
    for term in terms:
        assert f'id="{term[len(CGO):]}"' in page.text, term  # {base}ontology#Term → /ontology#Term
    turtle = client.get("/ontology", headers={"Accept": "text/turtle"})
    assert turtle.status_code == 200 and turtle.headers["content-type"].startswith("text/turtle")
    parsed = rdflib.Graph().parse(data=turtle.text, format="turtle")
    for term in terms:
        assert list(parsed.triples((rdflib.URIRef(term), None, None))), term
    for ext, media in TWINS.items():
        twin = client.get(f"/ontology.{ext}")
        assert twin.status_code == 200 and twin.headers["content-type"].split(";")[0] == media


def test_context_resolves(client: httpx.Client) -> None:
    response = client.get("/context.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    assert response.json()["@context"]["cgo"] == CGO


def test_resource_answers_are_cacheable(client: httpx.Client) -> None:
    first = client.get("/data/authority/paris.ttl")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get("/data/authority/paris.ttl", headers={"If-None-Match": etag}).status_code == 304
    assert client.get("/data/authority/paris.ttl", headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get("/data/authority/paris.ttl", headers={"If-None-Match": '"other"'}).status_code == 200
    old = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get("/data/authority/paris.ttl", headers={"If-Modified-Since": old}).status_code == 200
