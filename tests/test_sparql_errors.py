"""SPARQL syntax errors located in the user's text, checked against pyoxigraph itself on generated broken queries.

The mapping back from the text the engine was sent (``BASE <…> `` + the file) is differential: pyoxigraph given
the file alone with the same base (its ``base_iri`` argument) must report what the mapping computes. The
relocation to the construct that cannot be parsed must never point past the planted error, nor outside the file.
"""

from __future__ import annotations

import re

import pyoxigraph
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citygraph import sparql_lexer
from citygraph.errors import ParseError
from citygraph.load import load_graph
from citygraph.query import id_base, list_queries, read_query, run_named_query
from citygraph.sparql_errors import locate_syntax_error, offset_of, position_of, to_user_position

QUERIES = [q.text for q in list_queries()]
# The same queries on one line (comments dropped): errors on the prologue's own line, where columns shift.
ONE_LINE = [" ".join(line for line in text.splitlines() if not line.lstrip().startswith("#")) for text in QUERIES]
BASE = id_base()
PROLOGUE = f"BASE <{BASE}> "
# Tokens that are wrong wherever they stand outside comments, strings and IRIs (a planted "}" or "." may be
# right where it lands and move the error elsewhere: not what these tests are about).
JUNK = ("§", "FOO", "@@", "%%", "¤x")
ERROR_AT = re.compile(r"error at (\d+):(\d+)")


def pyoxigraph_position(text: str, **kwargs: str) -> tuple[int, int] | None:
    try:
        pyoxigraph.Store().query(text, **kwargs)
    except SyntaxError as exc:
        found = ERROR_AT.search(str(exc))
        return (int(found[1]), int(found[2])) if found else None
    return None


def token_boundaries(text: str) -> list[int]:
    """Offsets after a token and before white space (outside comments, strings and IRIs), where a stray token
    can be planted without splitting a token in two (``&&``)."""
    ends = (start + len(token) for _, token, start in sparql_lexer.tokens(text))
    return [end for end in ends if end < len(text) and text[end].isspace()]


@st.composite
def broken_queries(draw: st.DrawFn) -> tuple[str, int]:
    """A named query with a junk token planted at a token boundary; the text and the junk's offset."""
    text = draw(st.sampled_from(QUERIES + ONE_LINE))
    cut = draw(st.sampled_from(token_boundaries(text)))
    junk = draw(st.sampled_from(JUNK))
    return f"{text[:cut]} {junk} {text[cut:]}", cut + 1


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(broken_queries())
def test_the_prologue_never_shifts_a_position(case: tuple[str, int]) -> None:
    text, _ = case
    sent = pyoxigraph_position(PROLOGUE + text)
    alone = pyoxigraph_position(text, base_iri=BASE)
    if sent is None or alone is None:  # the planted token happened to fit, or the error has no position
        assert (sent is None) == (alone is None)
        return
    assert to_user_position(PROLOGUE, *sent) == alone


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(broken_queries())
def test_the_located_error_is_in_the_file_and_not_past_the_planted_token(case: tuple[str, int]) -> None:
    text, planted = case
    reported = pyoxigraph_position(PROLOGUE + text)
    if reported is None:
        return
    line, column, cause = locate_syntax_error(text, PROLOGUE, f"error at {reported[0]}:{reported[1]}: expected x")
    assert line is not None and column is not None and cause
    lines = text.split("\n")
    assert 1 <= line <= len(lines) and 1 <= column <= len(lines[line - 1]) + 1
    assert offset_of(text, line, column) <= planted + 8  # the junk token itself, at most (its length)


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(QUERIES + ONE_LINE), st.data())
def test_a_stray_word_is_pointed_at_exactly(text: str, data: st.DataObject) -> None:
    cut = data.draw(st.sampled_from(token_boundaries(text)))
    broken = f"{text[:cut]} FOO {text[cut:]}"
    reported = pyoxigraph_position(PROLOGUE + broken)
    if reported is None:  # planted inside a comment
        return
    line, column, _ = locate_syntax_error(broken, PROLOGUE, f"error at {reported[0]}:{reported[1]}: expected x")
    assert (line, column) == position_of(broken, cut + 1)


def test_the_named_queries_hold_no_stray_word() -> None:
    """The keyword list misses none that the project's own queries use (they all parse)."""
    from citygraph.sparql_errors import first_stray_word

    for text in QUERIES:
        assert first_stray_word(text, 0, len(text)) is None


def test_positions_round_trip() -> None:
    text = "ab\n\ncd\n"
    for offset in range(len(text) + 1):
        assert offset_of(text, *position_of(text, offset)) == offset


def test_to_user_position_on_a_prologue_of_several_lines() -> None:
    prologue = "PREFIX a: <http://a/>\nBASE <http://b/> "
    assert to_user_position(prologue, 2, 20) == (1, 3)
    assert to_user_position(prologue, 1, 5) == (1, 1)  # inside the prologue
    assert to_user_position(prologue, 4, 7) == (3, 7)


@pytest.fixture(scope="module")
def graph():  # type: ignore[no-untyped-def]
    return load_graph()


def test_run_named_query_reports_the_file_s_position(graph, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "col.rq"
    path.write_text("# title: broken\nSELECT * WHERE { ?s ?p ?o } FOO\n", encoding="utf-8")
    with pytest.raises(ParseError) as caught:
        run_named_query(graph, read_query(path))
    assert (caught.value.file, caught.value.line, caught.value.column) == (str(path), 2, 29)
