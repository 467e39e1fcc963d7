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


def test_gzip_files_load_like_the_plain_ones_even_under_another_base(tmp_path: Path, repo_root: Path) -> None:
    import gzip

    from citygraph.load import rdf_suffix

    plain = repo_root / "data" / "authorities.ttl"
    packed = tmp_path / "authorities.ttl.gz"
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert rdf_suffix(packed) == ".ttl" and rdf_suffix(Path("x.NT.GZ")) == ".nt" and rdf_suffix(Path("x.gz")) == ""
    for base in (None, OTHER_BASE):
        assert load_graph([packed], base=base).triple_count() == load_graph([plain], base=base).triple_count() > 0


def test_no_triples_and_directories_are_input_errors(tmp_path: Path) -> None:
    only_prefixes = tmp_path / "only-prefixes.ttl"
    only_prefixes.write_text("@prefix ex: <http://example.org/> .\n# to do\n", encoding="utf-8")
    with pytest.raises(InputError, match="no triples"):
        load_graph([only_prefixes])
    with pytest.raises(InputError, match="is a directory"):
        load_graph([tmp_path])
