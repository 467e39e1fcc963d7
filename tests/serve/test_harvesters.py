"""The catalogue as the portals' own software harvests it from a live `citygraph serve` (loopback only).

- udata 17.18 (data.gouv.fr), its DCAT backend end to end, in its own venv (``.venv-udata``): MongoDB is
  mongomock, the licence list is data.gouv.fr's (``../shared/reference/datagouv-licenses.json``). Driver:
  ``tests/harvest/run_udata.py``.
- CKAN's parser (ckanext-dcat 2.4.4, ``euro_dcat_ap_3`` profile) in its own venv (``.venv-ckan``). Driver:
  ``tests/harvest/run_ckan.py``.

``.ci/run`` makes both venvs; without them the tests are skipped, except in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import rdflib

from citygraph.namespaces import DEFAULT_BASE

if TYPE_CHECKING:
    from conftest import LiveServer

REPO_ROOT = Path(__file__).resolve().parents[2]
HARVEST_DIR = REPO_ROOT / "tests" / "harvest"
LICENCES = REPO_ROOT.parent / "shared" / "reference" / "datagouv-licenses.json"
DATA_DIR = REPO_ROOT / "data"
BASE = DEFAULT_BASE
CATALOG_URLS = ("/catalog", "/catalog.ttl", "/catalog.jsonld", "/catalog-udata.ttl")


def venv_python(name: str) -> Path:
    python = REPO_ROOT / name / "bin" / "python"
    if not python.is_file():
        message = f"{python} is missing: .ci/run makes it (see README, «Publishing on data.gouv.fr»)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return python


def run_driver(venv: str, script: str, *args: str) -> dict[str, Any]:
    completed = subprocess.run([str(venv_python(venv)), str(HARVEST_DIR / script), *args], capture_output=True,
                               text=True, timeout=600, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout)  # type: ignore[no-any-return]


@cache
def expected_box() -> list[list[float]]:
    """The closed ring of the bounding box of every geo:lat/geo:long point in the bundled data."""
    geo = rdflib.Namespace("http://www.w3.org/2003/01/geo/wgs84_pos#")
    graph = rdflib.Graph()
    for path in DATA_DIR.glob("*.ttl"):
        graph.parse(path, format="turtle", publicID=BASE)
    points = [(float(graph.value(s, geo.long)), float(lat)) for s, lat in graph.subject_objects(geo.lat)]
    assert len(points) >= 24
    w, e = min(p[0] for p in points), max(p[0] for p in points)
    s, n = min(p[1] for p in points), max(p[1] for p in points)
    return [[w, s], [e, s], [e, n], [w, n], [w, s]]


def dump_listing(server: LiveServer) -> dict[str, dict[str, Any]]:
    files = httpx.get(server.url + "/dumps.json", timeout=60).json()["files"]
    return {f["name"]: f for f in files}


def lov2() -> dict[str, Any]:
    entries = json.loads(LICENCES.read_text(encoding="utf-8"))
    return next(e for e in entries if e["id"] == "lov2")


# ---------------------------------------------------------------- serving


@pytest.mark.parametrize("path", CATALOG_URLS)
def test_catalogue_urls_answer_without_redirect_in_utf_8_for_get_and_head(live_server: LiveServer,
                                                                           path: str) -> None:
    with httpx.Client(follow_redirects=False, timeout=60) as client:
        got = client.get(live_server.url + path)
        head = client.head(live_server.url + path)
    for response in (got, head):
        assert response.status_code == 200, (path, response.status_code, response.headers.get("location"))
        media, _, parameters = response.headers["content-type"].partition(";")
        assert media.strip() in ("text/turtle", "application/ld+json")
        assert parameters.replace(" ", "").lower() == "charset=utf-8"
    assert head.content == b"" and head.headers["content-length"] == str(len(got.content))
    assert "février 2017" in got.content.decode("utf-8")


def test_rdf_downloads_say_utf_8(live_server: LiveServer) -> None:
    for name in ("citygraph-data.jsonld", "citygraph-data.ttl", "citygraph-data.nt", "citygraph-data.nq",
                 "void.ttl"):
        response = httpx.head(f"{live_server.url}/dumps/{name}", timeout=60)
        assert response.status_code == 200
        assert response.headers["content-type"].replace(" ", "").endswith(";charset=utf-8"), name


# ---------------------------------------------------------------- udata (data.gouv.fr)


@pytest.fixture(scope="module")
def udata_harvest(live_server: LiveServer) -> dict[str, Any]:
    """Two harvests, one after the other, of the source data.gouv.fr registers (``/catalog-udata.ttl``)."""
    return run_driver(".venv-udata", "run_udata.py", live_server.url + "/catalog-udata.ttl", str(LICENCES))


def test_udata_harvest_reaches_nothing_but_the_server(udata_harvest: dict[str, Any]) -> None:
    assert udata_harvest["refused_connections"] == []


def test_udata_harvest_saves_the_dataset_and_the_service(udata_harvest: dict[str, Any]) -> None:
    for run in udata_harvest["runs"]:
        assert run["status"] == "done" and run["errors"] == []
        assert sorted((i["kind"], i["status"], i["remote_id"]) for i in run["items"]) == [
            ("dataservice", "done", BASE + "catalog#sparql-service"),
            ("dataset", "done", BASE + "catalog#dataset")]


def test_udata_dataset_fields(udata_harvest: dict[str, Any]) -> None:
    [dataset] = udata_harvest["runs"][0]["datasets"]
    assert dataset["title"] == "Villes intelligentes de France (février 2017)"  # French first, UTF-8 read
    assert dataset["license"] == "lov2"
    assert dataset["temporal_coverage"] == {"start": "2017-02-01", "end": "2017-02-28"}
    assert dataset["frequency"] == "irregular"
    assert dataset["spatial_geom"] == {"type": "MultiPolygon", "coordinates": [[expected_box()]]}
    contacts = [c for c in dataset["contact_points"] if c["role"] == "contact"]
    assert contacts == [{"name": "citygraph contributors", "email": None, "contact_form": BASE, "role": "contact"}]
    assert dataset["remote_url"] == BASE and dataset["dct_identifier"] == BASE + "catalog#dataset"


def test_udata_quality_score_is_the_best(udata_harvest: dict[str, Any]) -> None:
    [dataset] = udata_harvest["runs"][0]["datasets"]
    quality = dataset["quality"]
    assert quality["score"] == 1.0, quality
    assert all(quality[key] for key in ("license", "temporal_coverage", "spatial", "update_frequency",
                                        "dataset_description_quality", "resources_documentation"))


def test_udata_resources_match_the_files(udata_harvest: dict[str, Any], live_server: LiveServer) -> None:
    listing = dump_listing(live_server)
    [dataset] = udata_harvest["runs"][0]["datasets"]
    resources = {r["url"].removeprefix(BASE + "dumps/"): r for r in dataset["resources"]}
    expected = {name for name in listing if name.startswith(("citygraph-data.", "authorities.", "leads.",
                                                             "initiatives."))}
    assert set(resources) == expected and len(resources) == 14
    for name, resource in resources.items():
        plain = name.removesuffix(".gz")
        assert resource["filesize"] == listing[name]["size"], name
        assert resource["checksum"] == {"type": "sha256", "value": listing[name]["sha256"]}, name
        assert resource["mime"] == listing[plain]["media_type"].split(";")[0], name  # plain, not a URI
        assert resource["format"] == {"jsonld": "json_ld", "ttl": "rdf_turtle", "nt": "rdf_n_triples",
                                      "nq": "rdf_n_quads", "csv": "csv"}[plain.rpartition(".")[2]], name
        assert resource["description"] and resource["description"] != resource["title"], name
    assert len({r["description"] for r in resources.values()}) == 14


def test_udata_data_service_is_linked_to_the_dataset(udata_harvest: dict[str, Any]) -> None:
    run = udata_harvest["runs"][0]
    [dataset], [service] = run["datasets"], run["dataservices"]
    assert service["datasets"] == [dataset["id"]]
    assert service["base_api_url"] == BASE + "sparql"
    assert service["machine_documentation_url"] == BASE + "sparql"  # the Service Description
    assert service["remote_url"] == BASE + "query"
    assert service["license"] == "lov2"


def test_a_second_udata_harvest_changes_nothing(udata_harvest: dict[str, Any]) -> None:
    first, second = udata_harvest["runs"]
    assert len(second["datasets"]) == 1 and len(second["dataservices"]) == 1
    [before], [after] = first["datasets"], second["datasets"]
    assert after == before  # same id, same resources (ids included), no duplicates
    assert second["dataservices"] == first["dataservices"]


def test_udata_17_18_refuses_the_hexbinary_checksums_dcat_ap_asks_for(live_server: LiveServer) -> None:
    """Why ``/catalog-udata.ttl`` exists: the DCAT-AP catalogue itself loses the dataset in udata 17.18.
    If this fails, udata stores such checksums now: register ``/catalog.ttl`` and drop the profile."""
    result = run_driver(".venv-udata", "run_udata.py", live_server.url + "/catalog.ttl", str(LICENCES),
                        "--runs", "1")
    [run] = result["runs"]
    [item] = [i for i in run["items"] if i["remote_id"] == BASE + "catalog#dataset"]
    assert item["status"] == "failed" and "checksum.value" in item["errors"][0]
    assert run["datasets"] == [] and result["refused_connections"] == []


# ---------------------------------------------------------------- CKAN (ckanext-dcat)


@pytest.fixture(scope="module")
def ckan_default(live_server: LiveServer) -> dict[str, Any]:
    return run_driver(".venv-ckan", "run_ckan.py", live_server.url + "/catalog.ttl")


def test_ckan_reads_one_dataset_with_period_coverage_and_hashes(ckan_default: dict[str, Any],
                                                                live_server: LiveServer) -> None:
    [dataset] = ckan_default["datasets"]
    extras = {e["key"]: e["value"] for e in dataset["extras"]}
    assert extras["temporal_start"] == "2017-02-01" and extras["temporal_end"] == "2017-02-28"
    assert extras["spatial_uri"] == "http://publications.europa.eu/resource/authority/country/FRA"
    assert json.loads(extras["spatial_bbox"]) == {"type": "Polygon", "coordinates": [expected_box()]}
    assert extras["frequency"] == "http://publications.europa.eu/resource/authority/frequency/IRREG"
    assert extras["contact_url"] == BASE
    listing = dump_listing(live_server)
    resources = {r["url"].removeprefix(BASE + "dumps/"): r for r in dataset["resources"]}
    assert len(resources) == 14
    for name, resource in resources.items():
        assert resource["hash"] == listing[name]["sha256"], name
        assert resource["hash_algorithm"] == "http://spdx.org/rdf/terms#checksumAlgorithm_sha256"
        assert resource["size"] == listing[name]["size"]
        assert resource["description"], name


def test_ckan_keeps_a_licence_data_gouv_fr_knows(ckan_default: dict[str, Any]) -> None:
    """CKAN's default register has no Etalab entry: each resource keeps the licence by its title, which is
    data.gouv.fr's title of ``lov2``."""
    [dataset] = ckan_default["datasets"]
    entry = lov2()
    known = {entry["title"], *entry["alternate_titles"]}
    assert {r["license"] for r in dataset["resources"]} <= known
    assert len({r["license"] for r in dataset["resources"]}) == 1


def test_ckan_with_data_gouv_fr_licences_resolves_lov2(live_server: LiveServer) -> None:
    result = run_driver(".venv-ckan", "run_ckan.py", live_server.url + "/catalog.ttl", "--licences", str(LICENCES))
    [dataset] = result["datasets"]
    assert dataset["license_id"] == "lov2"
