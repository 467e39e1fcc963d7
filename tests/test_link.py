"""`citygraph link wikidata` against a real local Oxigraph server loaded with a Wikidata-shaped fixture."""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import rdflib
from rdflib import OWL, RDF, URIRef
from support import WIKIDATA_ITEMS, OxigraphServer, cli_error, free_port

CGO = rdflib.Namespace("https://w3id.org/citygraph/ontology#")
WDT = rdflib.Namespace("http://www.wikidata.org/prop/direct/")
ID = "https://w3id.org/citygraph/id/"
SECTION = re.compile(r"^(confirmed|missing in our data|conflicting|not found on Wikidata)\b.*: (\d+)$")
SECTION_KEYS = {"confirmed": "confirmed", "missing in our data": "missing", "conflicting": "conflicting",
                "not found on Wikidata": "not-found"}


def expected_outcomes(repo_root: Path) -> dict[str, tuple[str, set[str], set[str]]]:
    """resource → (outcome, ours, theirs), worked out from the data files and the fixture independently."""
    data = rdflib.Graph()
    for path in sorted((repo_root / "data").glob("*.ttl")):
        data.parse(path, format="turtle")
    fixture = rdflib.Graph()
    fixture.parse(WIKIDATA_ITEMS, format="turtle")
    by_insee: dict[str, set[str]] = {}
    by_siren: dict[str, set[str]] = {}
    for item, code in fixture.subject_objects(WDT.P374):
        by_insee.setdefault(str(code), set()).add(str(item))
    for item, code in fixture.subject_objects(WDT.P1616):
        by_siren.setdefault(str(code), set()).add(str(item))
    expected = {}
    subjects = set(data.subjects(RDF.type, CGO.LocalAuthority)) | set(data.subjects(RDF.type, CGO.Commune))
    for s in subjects:
        if (s, RDF.type, CGO.Commune) in data:
            theirs = by_insee.get(str(data.value(s, CGO.inseeCode)), set())
        else:
            theirs = by_siren.get(str(data.value(s, CGO.siren)), set())
        ours = {str(o) for o in data.objects(s, OWL.sameAs)}
        if not theirs:
            outcome = "not-found"
        elif not ours:
            outcome = "missing"
        elif ours <= theirs:
            outcome = "confirmed"
        else:
            outcome = "conflicting"
        expected[str(s)] = (outcome, ours, theirs)
    return expected


def parse_report(stdout: str) -> dict[str, tuple[str, str]]:
    """resource IRI → (outcome, its report line)."""
    found: dict[str, tuple[str, str]] = {}
    outcome = None
    for line in stdout.splitlines():
        if match := SECTION.match(line):
            outcome = SECTION_KEYS[match.group(1)]
        elif line.startswith("  <") and outcome:
            name = line.split()[0][1:-1]
            found[ID + name] = (outcome, line)
    return found


def test_dry_run_reports_all_four_outcomes(run_cli: Any, wikidata: OxigraphServer, repo_root: Path) -> None:
    links_before = (repo_root / "data" / "wikidata-links.ttl").read_bytes()
    done = run_cli("link", "wikidata", "--endpoint", wikidata.query_endpoint, "--dry-run")
    assert done.returncode == 1, done.stderr  # a conflict needs review
    assert "Traceback" not in done.stderr
    report = parse_report(done.stdout)
    expected = expected_outcomes(repo_root)
    assert {iri: outcome for iri, (outcome, _) in report.items()} == {
        iri: outcome for iri, (outcome, _, _) in expected.items()}
    assert {o for o, _, _ in expected.values()} == {"confirmed", "missing", "conflicting", "not-found"}
    for iri, (outcome, ours, theirs) in expected.items():
        line = report[iri][1]
        if outcome in ("conflicting", "confirmed"):
            for item in ours:
                assert "wd:" + item.rsplit("/", 1)[1] in line
        if outcome in ("conflicting", "missing"):
            for item in theirs:
                assert "wd:" + item.rsplit("/", 1)[1] in line
    lines = {iri: line for iri, (_, line) in report.items()}
    assert "candidate wd:Q7003 confirmed" in lines[ID + "commune/dijon"]
    assert "candidate wd:Q42716 contradicted" in lines[ID + "commune/saint-etienne"]
    assert "dry run: nothing written" in done.stdout
    assert (repo_root / "data" / "wikidata-links.ttl").read_bytes() == links_before


def test_write_adds_confirmed_links_and_keeps_every_existing_one(
    run_cli: Any, wikidata: OxigraphServer, repo_root: Path, tmp_path: Path
) -> None:
    bundled = repo_root / "data" / "wikidata-links.ttl"
    bundled_before = bundled.read_bytes()
    links_file = tmp_path / "wikidata-links.ttl"
    shutil.copy(bundled, links_file)
    before = rdflib.Graph().parse(links_file, format="turtle")
    done = run_cli("link", "wikidata", "--endpoint", wikidata.query_endpoint, "--links-file", str(links_file),
                   "--batch-size", "3")
    assert done.returncode == 1, done.stderr
    after = rdflib.Graph().parse(links_file, format="turtle")
    assert set(before) <= set(after), "an existing link was dropped"
    added = set(after) - set(before)
    expected = expected_outcomes(repo_root)
    data = rdflib.Graph()
    data.parse(repo_root / "data" / "authorities.ttl", format="turtle")
    should_add = set()
    for iri, (outcome, _, theirs) in expected.items():
        candidate = data.value(URIRef(iri), CGO.wikidataCandidate)
        if outcome == "missing" and len(theirs) == 1 and (candidate is None or str(candidate) in theirs):
            should_add.add((URIRef(iri), OWL.sameAs, URIRef(next(iter(theirs)))))
    assert added == should_add and added
    assert (URIRef(ID + "commune/saint-etienne"), None, None) not in after  # contradicted candidate
    lyon = {str(o) for o in after.objects(URIRef(ID + "commune/lyon"), OWL.sameAs)}
    assert lyon == expected[ID + "commune/lyon"][1]  # the conflict is reported, ours kept, theirs not added
    assert f"{links_file}: {len(added)} link(s) added" in done.stdout
    assert bundled.read_bytes() == bundled_before
    text = links_file.read_text(encoding="utf-8")
    assert text.startswith(bundled_before.decode("utf-8").split("<authority/")[0])  # header kept

    endpoint = wikidata.query_endpoint
    again = run_cli("link", "wikidata", "--endpoint", endpoint, "--links-file", str(links_file))
    assert again.returncode == 1
    assert links_file.read_text(encoding="utf-8") == text  # idempotent
    assert "0 link(s) added" in again.stdout
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unreachable_endpoint_is_a_remote_error(run_cli: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/query"
    done = run_cli("link", "wikidata", "--endpoint", url, "--dry-run", timeout=60)
    assert done.returncode == 3
    assert url in cli_error(done.stderr)
    assert "Traceback" not in done.stderr


def test_links_file_with_other_facts_is_refused(
    run_cli: Any, wikidata: OxigraphServer, tmp_path: Path
) -> None:
    links_file = tmp_path / "links.ttl"
    links_file.write_text(
        "@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
        "<https://w3id.org/citygraph/id/commune/lyon> rdfs:label \"Lyon\"@fr .\n", encoding="utf-8")
    before = links_file.read_bytes()
    done = run_cli("link", "wikidata", "--endpoint", wikidata.query_endpoint, "--links-file", str(links_file))
    assert done.returncode == 2
    assert str(links_file) in done.stderr and "Traceback" not in done.stderr
    assert links_file.read_bytes() == before


def test_a_full_disk_leaves_the_links_file_as_it_was(
    run_cli: Any, wikidata: OxigraphServer, repo_root: Path, tmp_path: Path
) -> None:
    import subprocess

    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(disk)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        links_file = disk / "wikidata-links.ttl"
        shutil.copy(repo_root / "data" / "wikidata-links.ttl", links_file)
        before = links_file.read_bytes()
        filler = disk / "filler"
        with filler.open("wb", buffering=0) as out, contextlib.suppress(OSError):
            while True:  # fill the disk to the last block
                out.write(b"x" * 512)
        done = run_cli("link", "wikidata", "--endpoint", wikidata.query_endpoint, "--links-file", str(links_file))
        assert done.returncode == 2, done.stderr
        assert cli_error(done.stderr) == (f"citygraph: error: {links_file}: cannot write (No space left on "
                                          "device): the links file is unchanged")
        assert links_file.read_bytes() == before
        assert sorted(p.name for p in disk.iterdir()) == ["filler", "wikidata-links.ttl"]
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
