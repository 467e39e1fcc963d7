"""The shared SPARQL lexer: every terminal of the grammar, and a property test against pyoxigraph's parser.

The property: on queries made by mutating valid ones with tricky fragments, whatever the lexer refuses
pyoxigraph refuses too, and when both accept, the tokens joined by single spaces (comments dropped) give
pyoxigraph the same query (the same answer on a small graph).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pyoxigraph
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from citygraph.sparql_lexer import (
    SparqlLexError,
    iri_value,
    pname_parts,
    string_value,
    tokens,
    unescape_codepoints,
)


def kinds(text: str) -> list[tuple[str, str]]:
    return [(kind, value) for kind, value, _ in tokens(text)]


# One example (or more) per terminal: text → the single token it must be.
TERMINALS = [
    ("<http://example.org/a>", "IRIREF"),
    ("<>", "IRIREF"),
    ("<relative#frag>", "IRIREF"),
    ("<http://example.org/\\u00E9\\U0001F600>", "IRIREF"),
    ("ex:", "PNAME_NS"),
    (":", "PNAME_NS"),
    ("e.f:", "PNAME_NS"),
    ("é:", "PNAME_NS"),
    ("ex:a", "PNAME_LN"),
    (":a", "PNAME_LN"),
    ("ex:a..b", "PNAME_LN"),
    ("ex:a.b", "PNAME_LN"),
    ("ex:1a", "PNAME_LN"),
    ("ex:a:b", "PNAME_LN"),
    ("ex:a-", "PNAME_LN"),
    ("ex:%41b", "PNAME_LN"),
    ("ex:\\~x\\.y", "PNAME_LN"),
    ("ex:_a·b", "PNAME_LN"),
    ("SELECT:x", "PNAME_LN"),
    ("_:b", "BLANK_NODE_LABEL"),
    ("_:b.c", "BLANK_NODE_LABEL"),
    ("_:1", "BLANK_NODE_LABEL"),
    ("?x", "VAR"),
    ("$x", "VAR"),
    ("?1x", "VAR"),
    ("?é_·", "VAR"),
    ("@en", "LANGTAG"),
    ("@en-GB", "LANGTAG"),
    ("@zh-Hant-TW", "LANGTAG"),
    ("@ar--rtl", "LANGTAG"),
    ("1", "INTEGER"),
    ("007", "INTEGER"),
    ("1.5", "DECIMAL"),
    (".5", "DECIMAL"),
    ("1e5", "DOUBLE"),
    ("1.E-5", "DOUBLE"),
    (".5e+3", "DOUBLE"),
    ("+1", "INTEGER_POSITIVE"),
    ("+1.5", "DECIMAL_POSITIVE"),
    ("+1e5", "DOUBLE_POSITIVE"),
    ("-1", "INTEGER_NEGATIVE"),
    ("-.5", "DECIMAL_NEGATIVE"),
    ("-1.5E5", "DOUBLE_NEGATIVE"),
    ("'a'", "STRING_LITERAL1"),
    ("'a\\'\\n\\u0041'", "STRING_LITERAL1"),
    ('"a"', "STRING_LITERAL2"),
    ('"a\\"\\t\\\\"', "STRING_LITERAL2"),
    ("'''a''b'\n'''", "STRING_LITERAL_LONG1"),
    ('"""a""b"\r\n"""', "STRING_LITERAL_LONG2"),
    ('"""a\\""""', "STRING_LITERAL_LONG2"),
    ("()", "NIL"),
    ("( \t\r\n)", "NIL"),
    ("[]", "ANON"),
    ("[ \r]", "ANON"),
    ("SELECT", "KEYWORD"),
    ("select", "KEYWORD"),
    ("a", "KEYWORD"),
    ("GROUP_CONCAT", "KEYWORD"),
    *[(p, p) for p in ("{", "}", "(", ")", "[", "]", ".", ",", ";", "*", "/", "|", "^", "^^", "?", "+", "-")],
    *[(p, p) for p in ("!", "=", "!=", ">", ">=", "&&", "||", "<<", ">>", "{|", "|}", "~")],
]


@pytest.mark.parametrize(("text", "kind"), TERMINALS)
def test_each_terminal_is_one_token(text: str, kind: str) -> None:
    assert kinds(text) == [(kind, text)]
    assert kinds(f" #c\r{text}\n#d") == [(kind, text)], "comments and white space around it are skipped"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ex:a.", [("PNAME_LN", "ex:a"), (".", ".")]),  # PN_LOCAL never ends with a dot
        ("ex:a..", [("PNAME_LN", "ex:a"), (".", "."), (".", ".")]),
        ("ex:.a", [("PNAME_NS", "ex:"), (".", "."), ("KEYWORD", "a")]),
        ("ex:-a", [("PNAME_NS", "ex:"), ("-", "-"), ("KEYWORD", "a")]),
        ("<a b>", [("<", "<"), ("KEYWORD", "a"), ("KEYWORD", "b"), (">", ">")]),  # no IRI holds a space
        ("_:b.", [("BLANK_NODE_LABEL", "_:b"), (".", ".")]),
        ("1.", [("INTEGER", "1"), (".", ".")]),
        ("1.e", [("INTEGER", "1"), (".", "."), ("KEYWORD", "e")]),
        ("?x-1", [("VAR", "?x"), ("INTEGER_NEGATIVE", "-1")]),
        ('"a"@en', [("STRING_LITERAL2", '"a"'), ("LANGTAG", "@en")]),
        ('"1"^^xsd:int', [("STRING_LITERAL2", '"1"'), ("^^", "^^"), ("PNAME_LN", "xsd:int")]),
        ("#x\rSERVICE", [("KEYWORD", "SERVICE")]),  # a comment ends at CR as at LF
        ("#x\u2028SERVICE", []),  # … and at nothing else
        ("# <http://x/> { SERVICE }", []),
        ('"#" SERVICE', [("STRING_LITERAL2", '"#"'), ("KEYWORD", "SERVICE")]),
        ("<#> SERVICE", [("IRIREF", "<#>"), ("KEYWORD", "SERVICE")]),
        ("'''#'''SERVICE", [("STRING_LITERAL_LONG1", "'''#'''"), ("KEYWORD", "SERVICE")]),
        ("{ ?a ?b <c> }", [("{", "{"), ("VAR", "?a"), ("VAR", "?b"), ("IRIREF", "<c>"), ("}", "}")]),
        # inside an expression, ``<`` after an operand compares; elsewhere it opens an IRI
        ("FILTER(?a<?b||?b>?c)", [("KEYWORD", "FILTER"), ("(", "("), ("VAR", "?a"), ("<", "<"), ("VAR", "?b"),
                                  ("||", "||"), ("VAR", "?b"), (">", ">"), ("VAR", "?c"), (")", ")")]),
        ("FILTER(1<=!<x>)", [("KEYWORD", "FILTER"), ("(", "("), ("INTEGER", "1"), ("<=", "<="), ("!", "!"),
                             ("IRIREF", "<x>"), (")", ")")]),
        ("{ ?s ?p (?o<x>) }", [("{", "{"), ("VAR", "?s"), ("VAR", "?p"), ("(", "("), ("VAR", "?o"),
                               ("IRIREF", "<x>"), (")", ")"), ("}", "}")]),
        ("SELECT (?a<?b AS ?c)", [("KEYWORD", "SELECT"), ("(", "("), ("VAR", "?a"), ("<", "<"), ("VAR", "?b"),
                                  ("KEYWORD", "AS"), ("VAR", "?c"), (")", ")")]),
        ("ORDER BY ?x <f>(?y)", [("KEYWORD", "ORDER"), ("KEYWORD", "BY"), ("VAR", "?x"), ("IRIREF", "<f>"),
                                 ("(", "("), ("VAR", "?y"), (")", ")")]),
    ],
)
def test_token_boundaries(text: str, expected: list[tuple[str, str]]) -> None:
    assert kinds(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        '"unterminated',
        '"a\nb"',  # a short string cannot hold a raw line break
        '"\\u00ZZ"',  # not a UCHAR
        '"\\uD800"',  # a surrogate is no character
        '"\\U00110000"',  # past U+10FFFF
        '"\\x"',  # not an ECHAR
        "<a\\u00ZZ>",
        "\\u0053ERVICE",  # Oxigraph applies no codepoint pre-pass: a backslash outside strings and IRIs
        "SELECT\u00a0*",  # no-break space is not SPARQL white space
        "SELECT\f*",
        "ex:a%4",
        "_:",
        "@1",
        "`",
    ],
)
def test_what_no_terminal_starts_is_an_error(text: str) -> None:
    with pytest.raises(SparqlLexError):
        tokens(text)


def test_error_says_where() -> None:
    with pytest.raises(SparqlLexError) as caught:
        tokens('SELECT * {\n  ?s ?p "oops\n}')
    assert (caught.value.line, caught.value.column) == (2, 9)


def test_values() -> None:
    assert string_value("STRING_LITERAL2", '"a\\"\\n\\u00e9\\U0001F600"') == 'a"\né😀'
    assert string_value("STRING_LITERAL_LONG1", "'''x\\t'''") == "x\t"
    assert iri_value("<http://e/\\u00E9>") == "http://e/é"
    assert pname_parts("ex:a\\.b%20") == ("ex", "a.b%20")
    assert unescape_codepoints("\\u0053ERVICE \\U0000003F") == "SERVICE ?"
    assert unescape_codepoints("\\uD800") == "\\uD800"


# ---------------------------------------------------------------- against pyoxigraph's parser

SEEDS = [
    "SELECT * WHERE { ?s ?p ?o }",
    'PREFIX ex: <http://example.org/> SELECT ?s WHERE { ?s ex:p "a"@en , 1.5 ; ex:q ex:b.c } LIMIT 5',
    "SELECT ?s (COUNT(*) AS ?n) { ?s ?p ?o FILTER(?o<3||?o>=2 && !BOUND(?x)) } GROUP BY ?s ORDER BY DESC(?n)",
    "ASK { ?s ?p '''long ''string''' OPTIONAL { ?s ?q ?r } }",
    "CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o . BIND(STR(?o) AS ?x) } OFFSET 1",
    "SELECT * { VALUES (?a ?b) { (1 2) (UNDEF <x:y>) } ?a ?b ( 1 2 ) . _:b1 ?p [ ?q ?a ] }",
    "SELECT * { ?s <http://example.org/p>/^<http://example.org/q>* ?o } # comment",
]
FRAGMENTS = [
    " ", "\r", "\n", "\t", "#", "#x\r", "<", ">", "<=", "(", ")", "{", "}", "[", "]", ".", "..", ";", ",",
    '"', "'", '"""', "'''", "\\", "\\u0041", "\\u00", "?", "$", "?x", "@en", "@", "^^", "^", "_:", "_:b",
    ":", "ex:", "a", "A", "1", "1.", ".5", "-1", "+", "-", "e5", "%41", "%4", "!", "!=", "&&", "||", "*",
    "/", "|", "SERVICE", "FILTER", "é", "·", "\u00a0", "`", "~", "<<", ">>",
]  # fmt: skip

STORE = pyoxigraph.Store()
for i in range(3):
    STORE.add(
        pyoxigraph.Quad(
            pyoxigraph.NamedNode(f"http://example.org/s{i}"),
            pyoxigraph.NamedNode("http://example.org/p"),
            pyoxigraph.Literal(str(i), datatype=pyoxigraph.NamedNode("http://www.w3.org/2001/XMLSchema#integer")),
        )
    )


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.sampled_from([1, 1, 1, 2, 3]))):
        at = draw(st.integers(0, len(text)))
        cut = draw(st.integers(0, 2))
        text = text[:at] + draw(st.sampled_from(FRAGMENTS)) + text[at + cut :]
    return text


def answer(query: str) -> Any:
    """What pyoxigraph makes of a query: "syntax" for a syntax error, else its answer (as a comparable value)."""
    try:
        result = STORE.query(query)
    except SyntaxError:
        return "syntax"
    except (OSError, RuntimeError, ValueError) as exc:  # evaluation errors (e.g. SERVICE): compare the kind
        return type(exc).__name__
    if isinstance(result, pyoxigraph.QueryBoolean):
        return bool(result)
    if isinstance(result, pyoxigraph.QuerySolutions):
        variables = [v.value for v in result.variables]
        return variables, Counter(tuple(_blank(s[v]) for v in variables) for s in result)
    return Counter(_blank(t) for t in result)


def _blank(term: Any) -> str:
    """A term as text, blank node labels erased (an engine makes new ones for each query)."""
    return re.sub(r"_:[A-Za-z0-9]+", "_:", str(term))


@settings(
    max_examples=1500, derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(query=mutated())
def test_lexer_agrees_with_pyoxigraph(query: str) -> None:
    if "SERVICE" in query.upper():  # never send a request anywhere: the screen's own tests cover SERVICE
        query = query.replace("SERVICE", "OPTIONAL").replace("service", "optional")
    expected = answer(query)
    try:
        found = tokens(query)
    except SparqlLexError:
        event("refused by the lexer")
        assert expected == "syntax", "the lexer refuses a query pyoxigraph accepts"
        return
    if expected == "syntax":
        event("refused by pyoxigraph only")
        return  # lexically fine, grammatically wrong: the parser's business
    event("accepted by both")
    rebuilt = " ".join(value for _, value, _ in found)
    assert answer(rebuilt) == expected, rebuilt
