"""A lexical screen for untrusted SPARQL, run in the HTTP process before any engine sees the query.

It never parses (the engine's parser is what overflows its stack on hostile input); it tokenizes — skipping
comments, strings and IRIs — after the codepoint unescaping SPARQL applies before parsing, and refuses:
queries over the size limit (413), ``SERVICE`` (the endpoint must not make outgoing requests), more triple
patterns or deeper nesting than allowed (pyoxigraph spends 16 s planning 1,000 patterns and crashes past
~5,000). What passes still runs in a killable worker under the time limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from .errors import QueryRefused

_UNESCAPE = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")
_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'''(?:[^'\\]|\\.|'(?!''))*'''
               |"(?:[^"\\\n\r]|\\.)*"|'(?:[^'\\\n\r]|\\.)*')
  | (?P<iri><[^<>"{}|^`\\\x00-\x20]*>)
  | (?P<var>[?$][A-Za-z0-9_\u00b7\u00c0-\uffff]+)
  | (?P<lang>@[A-Za-z]+(?:-[A-Za-z0-9]+)*)
  | (?P<num>[+-]?(?:\d+\.\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|\d+(?:[eE][+-]?\d+)?))
  | (?P<pname>(?:[A-Za-z\u00c0-\uffff][\w.\-\u00b7\u00c0-\uffff]*)?:
              (?:[\w:%\-\u00b7\u00c0-\uffff]|\\.|\.(?=[\w:%\-]))*)
  | (?P<word>[A-Za-z_][\w\-]*)
  | (?P<open>[{(\[])
  | (?P<close>[})\]])
  | (?P<sep>[.;,])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass(frozen=True)
class QueryShape:
    """What the screen learnt about a query."""

    form: str  # SELECT, ASK, CONSTRUCT, DESCRIBE, or "" if not recognized
    has_dataset_clause: bool  # FROM / FROM NAMED in the query
    patterns: int  # approximate number of triple patterns (separators + groups)
    depth: int  # deepest nesting of { ( [


def unescape_codepoints(query: str) -> str:
    """Apply SPARQL's \\uXXXX / \\UXXXXXXXX escapes, as the parser does before reading keywords."""
    if "\\u" not in query and "\\U" not in query:
        return query

    def sub(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code < 0x110000 else match.group(0)

    return _UNESCAPE.sub(sub, query)


@lru_cache(maxsize=4096)
def analyze(query: str) -> QueryShape:
    """Tokenize ``query`` and describe it; QueryRefused if it uses SERVICE."""
    text = unescape_codepoints(query)
    form = ""
    dataset = False
    patterns = 0
    depth = max_depth = 0
    previous = ""
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind in ("ws", "comment"):
            continue
        value = match.group()
        if kind == "word":
            upper = value.upper()
            if upper == "SERVICE":
                raise QueryRefused(
                    400,
                    "SERVICE is not allowed: this endpoint never makes outgoing requests",
                    title="Bad Request: federated query refused",
                )
            if not form and upper in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE"):
                form = upper
            elif upper == "FROM":
                dataset = True
        elif kind == "open":
            depth += 1
            max_depth = max(max_depth, depth)
            if value == "{":
                patterns += 1
        elif kind == "close":
            depth = max(depth - 1, 0)
        elif kind == "sep" and previous not in ("open", "sep"):
            patterns += 1
        previous = kind or ""
    return QueryShape(form, dataset, patterns, max_depth)


def screen(query: str, *, max_bytes: int, max_patterns: int, max_nesting: int) -> QueryShape:
    """Refuse what no worker should even parse; the shape of what passes."""
    size = len(query.encode("utf-8")) if len(query) * 4 > max_bytes else len(query)
    if size > max_bytes:
        raise QueryRefused(
            413, f"the query is {size:,} bytes; the limit is {max_bytes:,} bytes", title="Query too large"
        )
    shape = analyze(query)
    if shape.depth > max_nesting:
        raise QueryRefused(
            400,
            f"the query nests {shape.depth} levels deep; the limit is {max_nesting}",
            title="Bad Request: query too complex",
        )
    if shape.patterns > max_patterns:
        raise QueryRefused(
            400,
            f"the query has about {shape.patterns} triple patterns or groups; the limit is {max_patterns}",
            title="Bad Request: query too complex",
        )
    return shape
