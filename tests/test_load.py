"""Loading: parse errors name file, line, column; another base moves the resources, not the vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest

from citygraph.errors import InputError, ParseError
from citygraph.load import load_graph
from citygraph.query import run_named_query

OTHER_BASE = "https://data.example.org/smart-cities/"


def test_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ttl"
    bad.write_text('@prefix ex: <http://example.org/> .\nex:a ex:b "fine" .\nex:c ex:d "never closed .\n')
    with pytest.raises(ParseError) as caught:
        load_graph([bad])
    assert caught.value.file == str(bad)
    assert caught.value.line == 3
    assert str(bad) + ":3:" in str(caught.value)


def test_missing_file_and_unknown_extension_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_graph([tmp_path / "absent.ttl"])
    odd = tmp_path / "data.xyz"
    odd.write_text("")
    with pytest.raises(InputError, match="unknown RDF format"):
        load_graph([odd])


def test_another_base_moves_resources_and_keeps_the_vocabulary() -> None:
    default = load_graph()
    moved = load_graph(base=OTHER_BASE)
    assert moved.triple_count() == default.triple_count()
    rows = run_named_query(moved, "authorities-by-kind", {})
    assert len(rows) == 24
    assert all(str(iri).startswith(OTHER_BASE + "id/authority/") for iri in rows.values("authority"))
    vocabulary = "https://w3id.org/citygraph/ontology#LocalAuthority"
    ask = f"ASK {{ GRAPH <{moved.data_graph}> {{ ?a a <{vocabulary}> }} }}"
    assert bool(moved.store.query(ask))
    assert moved.data_graph == OTHER_BASE + "graph/data"
