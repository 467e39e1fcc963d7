"""Downloads on a live server: dumps and checksums, the DCAT catalogue, VoID, the JSON-LD context, 304."""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator

import httpx
import pytest
import rdflib

from citygraph.export import dump_filename, known_filenames
from citygraph.load import load_graph

DCAT = rdflib.Namespace("http://www.w3.org/ns/dcat#")
VOID = rdflib.Namespace("http://rdfs.org/ns/void#")


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=60.0) as http:
        yield http


@pytest.fixture(scope="module")
def listing(client: httpx.Client) -> list[dict[str, object]]:
    response = client.get("/dumps.json")
    assert response.status_code == 200
    files: list[dict[str, object]] = response.json()["files"]
    return files


def test_every_export_file_is_listed(listing: list[dict[str, object]]) -> None:
    names = {entry["name"] for entry in listing}
    assert set(known_filenames()) | {"SHA256SUMS"} == names


def test_files_match_their_checksums(client: httpx.Client, listing: list[dict[str, object]]) -> None:
    sums = dict(line.split("  ")[::-1] for line in client.get("/dumps/SHA256SUMS").text.splitlines())
    for entry in listing:
        if entry["name"] == "SHA256SUMS":
            continue
        response = client.get(str(entry["url"]))
        assert response.status_code == 200, entry["name"]
        digest = hashlib.sha256(response.content).hexdigest()
        assert digest == entry["sha256"] == sums[str(entry["name"])], entry["name"]
        assert len(response.content) == entry["size"]
        assert response.headers["content-type"].startswith(str(entry["media_type"]).split(";")[0])


def test_the_turtle_dump_is_the_graph(client: httpx.Client) -> None:
    expected = load_graph().to_rdflib()
    name = dump_filename("ttl")
    dumped = rdflib.Graph().parse(data=client.get(f"/dumps/{name}").text, format="turtle")
    assert len(dumped) == len(expected)
    unzipped = gzip.decompress(client.get(f"/dumps/{name}.gz").content).decode("utf-8")
    assert len(rdflib.Graph().parse(data=unzipped, format="turtle")) == len(expected)


def test_listing_page(client: httpx.Client, listing: list[dict[str, object]]) -> None:
    page = client.get("/dumps/", headers={"Accept": "text/html"})
    assert page.status_code == 200 and '<header class="site">' in page.text
    for entry in listing:
        assert f'href="/dumps/{entry["name"]}"' in page.text
    assert client.get("/dumps/nothing.ttl").status_code == 404
    assert client.get("/dumps/../pyproject.toml").status_code == 404


def test_dump_files_answer_304(client: httpx.Client) -> None:
    url = "/dumps/" + dump_filename("nt")
    first = client.get(url)
    assert first.status_code == 200
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert client.get(url, headers={"If-Modified-Since": modified}).status_code == 304
    assert client.get(url, headers={"If-None-Match": '"x"'}).status_code == 200


@pytest.mark.parametrize(("accept", "media", "fmt"), [
    ("text/turtle", "text/turtle", "turtle"),
    ("application/ld+json", "application/ld+json", "json-ld"),
    ("application/ld+json;q=0.2, text/turtle;q=0.9", "text/turtle", "turtle"),
])
def test_catalog_by_content_negotiation(client: httpx.Client, accept: str, media: str, fmt: str) -> None:
    response = client.get("/catalog", headers={"Accept": accept})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media)
    catalog = rdflib.Graph().parse(data=response.content, format=fmt)
    assert list(catalog.subjects(rdflib.RDF.type, DCAT.Catalog))
    assert list(catalog.subjects(rdflib.RDF.type, DCAT.Distribution))
    for ext in ("ttl", "jsonld"):
        assert client.get(f"/catalog.{ext}").status_code == 200


def test_void(client: httpx.Client) -> None:
    response = client.get("/.well-known/void")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/turtle")
    void = rdflib.Graph().parse(data=response.text, format="turtle")
    triples = [int(o) for o in void.objects(None, VOID.triples)]
    assert len(load_graph().to_rdflib()) in triples


def test_context(client: httpx.Client) -> None:
    first = client.get("/context.jsonld")
    assert first.status_code == 200 and "@context" in first.json()
    assert client.get("/context.jsonld", headers={"If-None-Match": first.headers["etag"]}).status_code == 304


def test_store_mode_dumps_hold_what_the_store_holds(start_server) -> None:  # type: ignore[no-untyped-def]
    """`serve --store`: the dumps are written from the store's graphs, not from the bundled files."""
    from citygraph.namespaces import DEFAULT_BASE, data_graph_iri
    from citygraph.stores import current_versions

    server = start_server(mode="store")
    store = server.args[server.args.index("--store") + 1]
    data = current_versions(store + "/query", DEFAULT_BASE, [data_graph_iri(DEFAULT_BASE)]).popitem()[1]
    marker = ('<https://w3id.org/citygraph/id/test/marker> <http://www.w3.org/2000/01/rdf-schema#comment> '
              '"only in the store"')
    inserted = httpx.post(store + "/update", data={"update": f"INSERT DATA {{ GRAPH <{data}> {{ {marker} }} }}"})
    assert inserted.status_code in (200, 204), inserted.text
    dump = httpx.get(server.url + "/dumps/citygraph-data.nt", timeout=60.0)
    assert dump.status_code == 200
    assert marker + " .\n" in dump.text
    assert len(dump.text.splitlines()) == load_graph().triple_count() + 1


def test_store_mode_dumps_follow_the_store_across_restarts(start_server) -> None:  # type: ignore[no-untyped-def]
    """Generated dumps are kept on disk for the next server; one started after the store changed makes new ones,
    one started on the same content reuses them (same ETags)."""
    from citygraph.namespaces import DEFAULT_BASE, data_graph_iri
    from citygraph.stores import current_versions

    first = start_server(mode="store")
    store = first.args[first.args.index("--store") + 1]
    before = httpx.get(first.url + "/dumps/citygraph-data.nt", timeout=60.0)
    assert before.status_code == 200
    same = httpx.get(start_server("--store", store).url + "/dumps/citygraph-data.nt", timeout=60.0)
    assert same.headers["etag"] == before.headers["etag"]
    marker = (f"<{DEFAULT_BASE}id/authority/chartres> <http://www.w3.org/2000/01/rdf-schema#comment> "
              '"changed in the store"')
    data = current_versions(store + "/query", DEFAULT_BASE, [data_graph_iri(DEFAULT_BASE)]).popitem()[1]
    update = f"INSERT DATA {{ GRAPH <{data}> {{ {marker} }} }}"
    assert httpx.post(store + "/update", data={"update": update}).status_code in (200, 204)
    after = httpx.get(start_server("--store", store).url + "/dumps/citygraph-data.nt", timeout=60.0)
    assert after.headers["etag"] != before.headers["etag"]
    assert marker + " .\n" in after.text
