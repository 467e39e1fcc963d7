"""citygraph.validate and `citygraph validate`: the report, its renderings, the file:line locator, the CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from subprocess import CompletedProcess

import pyoxigraph
import pytest
import rdflib
from rdflib.namespace import RDF, SH

from citygraph import settings
from citygraph.errors import InputError
from citygraph.load import load_graph
from citygraph.validate import ValidationReport, Violation, locate_subjects, validate_graph

RunCli = Callable[..., CompletedProcess[str]]
FIXTURES = Path(__file__).parent / "shapes"
CGSH = "https://w3id.org/citygraph/shapes#"
CGO = "https://w3id.org/citygraph/ontology#"


def _shape_messages(shape: str) -> dict[str, str]:
    """The messages of a shape, read from the bundled shapes file (never copied into the tests)."""
    triples = pyoxigraph.parse(path=str(settings.shapes_file()), format=pyoxigraph.RdfFormat.TURTLE)
    return {
        q.object.language: q.object.value
        for q in triples
        if q.subject == pyoxigraph.NamedNode(CGSH + shape) and q.predicate.value == str(SH.message)
    }


# A user's file in every Turtle style the locator must follow; "# subject: NAME" marks the line where each
# subject's first statement starts, and the test derives the expected lines from those marks.
USER_FILE = '''\
# A user's own file: prefixed names, full IRIs, relative IRIs, SPARQL-style directives.
@prefix ex: <http://example.org/town/> .
PREFIX cgo: <https://w3id.org/citygraph/ontology#>
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

ex:alpha a cgo:Source ;  # subject: alpha
    rdfs:label """Un libellé
sur plusieurs lignes. Avec <des chevrons> et un # dièse et "guillemets" ."""@fr .

<http://example.org/town/beta>  # subject: beta
    a cgo:Source ;
    rdfs:label "Bêta ; avec . des , ponctuations [ ] ( )"@fr ;
    rdfs:comment [ rdfs:label "a nested blank node"@en ; rdfs:seeAlso ex:not-a-subject ] ,
        ( ex:also-not-a-subject "in a list" ) .

[] rdfs:seeAlso ex:still-not-a-subject .

@base <http://example.org/town/> .
<gamma> a cgo:Source ; rdfs:label "Gamma"@fr .  # subject: gamma
ex:alpha rdfs:comment "a second statement about alpha: the first one counts" .
ex:delta\\.x a cgo:Source ;  # subject: delta.x
    rdfs:label "Delta"@fr .
BASE <http://example.org/other/>
<epsilon> a cgo:Source .  # subject: ../other/epsilon
'''


def _marked_lines(text: str, base: str) -> dict[str, int]:
    marks: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.search(r"# subject: (\S+)$", line)
        if match:
            iri = (
                base + match.group(1)
                if not match.group(1).startswith("..")
                else "http://example.org/other/epsilon"
            )
            marks[iri] = number
    return marks


def test_locator_follows_prefixes_bases_and_statement_boundaries(tmp_path: Path) -> None:
    user_file = tmp_path / "mine.ttl"
    user_file.write_text(USER_FILE, encoding="utf-8")
    # The file is valid Turtle, and the locator finds exactly the subjects a parser finds.
    parsed = {
        str(q.subject.value)
        for q in pyoxigraph.parse(path=str(user_file), format=pyoxigraph.RdfFormat.TURTLE)
        if isinstance(q.subject, pyoxigraph.NamedNode)
    }
    located = locate_subjects([user_file])
    assert set(located) == parsed
    expected = _marked_lines(USER_FILE, "http://example.org/town/")
    assert set(expected) == parsed
    assert located == {iri: f"{user_file}:{line}" for iri, line in expected.items()}


def test_locator_first_file_wins_and_skips_trig_graph_names(tmp_path: Path) -> None:
    first = tmp_path / "a.nt"
    first.write_text('<http://ex.org/s> <http://ex.org/p> "1" .\n', encoding="utf-8")
    second = tmp_path / "b.trig"
    second.write_text(
        "@prefix ex: <http://ex.org/> .\n"
        "ex:g {\n"
        "  ex:s ex:p 2 .\n"
        "  ex:t ex:p 3 .\n"
        "}\n"
        "GRAPH ex:h { ex:u ex:p 4 }\n",
        encoding="utf-8",
    )
    located = locate_subjects([first, second])
    assert located == {
        "http://ex.org/s": f"{first}:1",
        "http://ex.org/t": f"{second}:4",
        "http://ex.org/u": f"{second}:6",
    }


def test_locator_reads_n_triples_line_by_line_as_the_tokenizer_would(tmp_path: Path) -> None:
    """The N-Triples fast path finds what the Turtle tokenizer finds in the same text (N-Triples is Turtle)."""
    text = (
        '<http://ex.org/a> <http://ex.org/p> "x > y" .\n'
        "# a comment <http://ex.org/not-a-subject> \n"
        "\t <http://ex.org/b> <http://ex.org/p> _:n .\n"
        '_:n <http://ex.org/p> "blank subjects are skipped" .\n'
        '<http://ex.org/caf\\u00E9> <http://ex.org/p> "\\u00E9" .\n'
        '<http://ex.org/a> <http://ex.org/p> "again" .\n'
    )
    nt = tmp_path / "d.nt"
    nt.write_text(text, encoding="utf-8")
    ttl = tmp_path / "d.ttl"
    ttl.write_text(text, encoding="utf-8")
    by_lines, by_tokens = locate_subjects([nt]), locate_subjects([ttl])
    assert by_lines == {"http://ex.org/a": f"{nt}:1", "http://ex.org/b": f"{nt}:3", "http://ex.org/café": f"{nt}:5"}
    assert {iri: loc.rsplit(":", 1)[1] for iri, loc in by_lines.items()} == {
        iri: loc.rsplit(":", 1)[1] for iri, loc in by_tokens.items()
    }


def test_locator_moves_iris_to_the_configured_base(tmp_path: Path) -> None:
    data = tmp_path / "d.ttl"
    data.write_text(
        "@base <https://w3id.org/citygraph/id/> .\n<authority/x> a <http://ex.org/C> .\n", encoding="utf-8"
    )
    located = locate_subjects([data], base="http://example.org/cg/")
    assert located == {"http://example.org/cg/id/authority/x": f"{data}:2"}


def test_bundled_graph_locations_point_at_definitions() -> None:
    """Every subject of the bundled data is located, on a line that names it (relative or prefixed)."""
    graph = load_graph()
    located = locate_subjects(graph.data_files)
    subjects = {
        q.subject.value
        for q in graph.store.quads_for_pattern(None, None, None, None)
        if isinstance(q.subject, pyoxigraph.NamedNode) and str(q.graph_name.value) == graph.data_graph
    }
    assert subjects <= set(located)
    for iri in subjects:
        file, _, line = located[iri].rpartition(":")
        text = Path(file).read_text(encoding="utf-8").splitlines()[int(line) - 1]
        relative = iri.removeprefix(graph.base + "id/")
        assert f"<{relative}>" in text or text.startswith("jdn:"), (iri, located[iri], text)


def _report_for(fixture: str) -> ValidationReport:
    return validate_graph(load_graph([*settings.data_files(), FIXTURES / fixture]))


def test_report_renderings_agree() -> None:
    report = _report_for("unique-siren.ttl")  # a complex path (cgo:siren/^cgo:siren) and two resources
    assert not report.conforms and len(report.violations) == 2
    # JSON: every field of every violation.
    payload = json.loads(report.to_json())
    assert payload["conforms"] is False and payload["engine"] == "pyshacl"
    assert [Violation(**v) for v in payload["violations"]] == report.violations
    # Turtle: a sh:ValidationReport with one sh:result per violation, paths in SHACL syntax.
    graph = rdflib.Graph().parse(data=report.to_turtle(), format="turtle")
    (node,) = graph.subjects(RDF.type, SH.ValidationReport)
    assert graph.value(node, SH.conforms).toPython() is False
    results = list(graph.objects(node, SH.result))
    assert len(results) == len(report.violations)
    for result in results:
        path = graph.value(result, SH.resultPath)
        first, rest = graph.value(path, RDF.first), graph.value(path, RDF.rest)
        assert str(first) == CGO + "siren"
        assert str(graph.value(graph.value(rest, RDF.first), SH.inversePath)) == CGO + "siren"
        messages = {m.language: str(m) for m in graph.objects(result, SH.resultMessage)}
        assert messages == _shape_messages("LocalAuthority-uniqueSiren")
    # Text: grouped by resource, each once, with its location and the message in the chosen language.
    for lang in ("en", "fr"):
        text = report.to_text(lang)
        for violation in report.violations:
            assert text.count(f"<{violation.focus}>  ({violation.location})") == 1
        assert _shape_messages("LocalAuthority-uniqueSiren")[lang] in text


def test_violation_message_falls_back_to_english() -> None:
    violation = Violation("http://ex.org/s", None, None, {"en": "in English"}, "Violation", "x", "MinCount")
    assert violation.message("fr") == "in English"


def test_unknown_engine_is_an_input_error() -> None:
    with pytest.raises(InputError, match="unknown validation engine"):
        validate_graph(load_graph(), engine="no-such-engine")


# ---------------------------------------------------------------- the command, as a user runs it

STANDALONE_BAD = """\
@prefix cgo: <https://w3id.org/citygraph/ontology#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .

<http://example.org/my-source>
    a cgo:Source ;
    rdfs:label "My source"@en .
"""


def test_cli_bundled_graph_conforms(run_cli: RunCli) -> None:
    result = run_cli("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("Conforms")


def test_cli_syntax_error_exits_2_with_file_and_line(run_cli: RunCli, tmp_path: Path) -> None:
    text = "@prefix ex: <http://ex.org/> .\nex:a ex:b ex:c .\nex:d ex:e ex:f ex:g .\n"
    broken = tmp_path / "broken.ttl"
    broken.write_text(text, encoding="utf-8")
    bad_line = text.splitlines().index("ex:d ex:e ex:f ex:g .") + 1
    result = run_cli("validate", str(broken))
    assert result.returncode == 2
    assert f"{broken}:{bad_line}:" in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_cli_missing_file_exits_2(run_cli: RunCli, tmp_path: Path) -> None:
    result = run_cli("validate", str(tmp_path / "absent.ttl"))
    assert result.returncode == 2 and "absent.ttl" in result.stderr and "Traceback" not in result.stderr


def test_cli_violating_file_exits_1_with_the_shape_message(run_cli: RunCli, tmp_path: Path) -> None:
    mine = tmp_path / "mine.ttl"
    mine.write_text(STANDALONE_BAD, encoding="utf-8")
    subject_line = STANDALONE_BAD.splitlines().index("<http://example.org/my-source>") + 1
    result = run_cli("validate", "mine.ttl", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert _shape_messages("FrenchLabel")["en"] in result.stdout
    assert f"(mine.ttl:{subject_line})" in result.stdout
    french = run_cli("validate", "--lang", "fr", "mine.ttl", cwd=tmp_path)
    assert french.returncode == 1 and _shape_messages("FrenchLabel")["fr"] in french.stdout


def test_cli_json_and_turtle_formats_parse(run_cli: RunCli, tmp_path: Path) -> None:
    mine = tmp_path / "mine.ttl"
    mine.write_text(STANDALONE_BAD, encoding="utf-8")
    as_json = run_cli("validate", "--format", "json", str(mine))
    assert as_json.returncode == 1
    payload = json.loads(as_json.stdout)
    assert payload["conforms"] is False and payload["files"] == [str(mine)]
    assert {v["source_shape"] for v in payload["violations"]} == {CGSH + "FrenchLabel"}
    as_turtle = run_cli("validate", "--format", "turtle", str(mine))
    assert as_turtle.returncode == 1
    graph = rdflib.Graph().parse(data=as_turtle.stdout, format="turtle")
    (report,) = graph.subjects(RDF.type, SH.ValidationReport)
    assert len(list(graph.objects(report, SH.result))) == len(payload["violations"])


def test_cli_with_bundled_checks_a_file_added_to_the_graph(run_cli: RunCli) -> None:
    fixture = FIXTURES / "lead-or-status-both.ttl"
    alone = run_cli("validate", "--with-bundled", str(fixture))
    assert alone.returncode == 1
    assert _shape_messages("LeadOrStatusShape")["en"] in alone.stdout


def test_cli_help_documents_exit_codes(run_cli: RunCli) -> None:
    result = run_cli("validate", "--help")
    assert result.returncode == 0
    for word in ("exit codes", "--format", "--lang", "--engine", "--with-bundled", "examples"):
        assert word in result.stdout
