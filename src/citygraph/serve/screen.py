"""The screen for untrusted SPARQL, run in the HTTP process before any engine sees the query.

It never parses (an engine's parser is what overflows its stack on hostile input): it reads the query's
tokens with the shared lexer (``sparql_lexer``), keeps the stack of brackets, and counts what costs an
engine memory, time or stack. It refuses, before any engine sees the query:

- a query over the size limit (413), a character no SPARQL token can start (400);
- ``SERVICE`` (the endpoint never makes outgoing requests) and any update keyword (400), in Oxigraph's
  reading of ``\\u`` escapes and in SPARQL 1.1's codepoint pre-pass, which other stores apply;
- more *pattern units* than allowed: each triple pattern (a collection item counts four: the two triples
  it stands for are slow to plan), each property-path step, group, BIND and sub-query;
- nesting deeper than allowed: brackets of every kind plus chains of unary operators (``!!!…!true``);
- more expression operators and function calls, or more VALUES cells, than allowed;
- OPTIONALs nested deeper than :data:`MAX_OPTIONAL_DEPTH` (each one can multiply the rows a worker holds);
- an OPTIONAL joining patterns made of variables only that share no variable (a cross product of the
  whole graph, which the engine holds in memory to join it);
- string-building functions whose combined growth passes :data:`MAX_STRING_GROWTH`
  (``BIND(CONCAT(?a, ?a) AS ?b)`` chained: each doubles the string).

What passes still runs in a killable worker under the time and memory limits.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from functools import lru_cache

from ..sparql_lexer import NUMBERS, STRINGS, SparqlLexError, Token, scan, unescape_codepoints
from .errors import QueryRefused

MAX_OPTIONAL_DEPTH = 6  # OPTIONAL inside OPTIONAL …: 30 of them held 3.4 GB on the bundled graph
MAX_STRING_GROWTH = 256  # product of the growth factors of CONCAT / REPLACE / ENCODE_FOR_URI calls
EXPRESSION_FACTOR = 4  # operators and calls allowed: this many times the pattern limit
VALUES_FACTOR = 40  # VALUES cells allowed: this many times the pattern limit
COLLECTION_ITEM = 4  # pattern units per collection item: 2 triples, and 128 items already cost a second
_CACHED_CHARS = 4096  # the shapes of queries up to this size are remembered (lookups repeat; ≤ 8 MB)

UPDATE_KEYWORDS = frozenset(
    ("INSERT", "DELETE", "LOAD", "CLEAR", "DROP", "CREATE", "ADD", "MOVE", "COPY", "WITH", "USING")
)
_FORMS = ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")
_TERMS = NUMBERS | STRINGS | {"IRIREF", "PNAME_LN", "PNAME_NS", "VAR", "BLANK_NODE_LABEL", "ANON", "NIL"}
_OPERAND_END = NUMBERS | STRINGS | {"IRIREF", "PNAME_LN", "PNAME_NS", "VAR", "LANGTAG", "NIL", ")", "}"}
_OPERATORS = frozenset(("||", "&&", "=", "!=", "<", ">", "<=", ">=", "+", "-", "*", "/", "!"))
_UNARY = frozenset(("!", "+", "-"))
_PATH_OPERATORS = frozenset(("/", "|", "^", "*", "+", "?"))
_GROWING = {"CONCAT": 0, "REPLACE": 0, "ENCODE_FOR_URI": 3}  # 0: as many times as variables it reads


@dataclass(frozen=True)
class QueryShape:
    """What the screen learnt about a query (the larger figure of the two readings of ``\\u`` escapes)."""

    form: str  # SELECT, ASK, CONSTRUCT, DESCRIBE, or "" if not recognized
    has_dataset_clause: bool  # FROM / FROM NAMED in the query
    patterns: int = 0  # pattern units: triples (collection items: 2), path steps, groups, BINDs, sub-queries
    depth: int = 0  # deepest nesting of brackets and unary operators
    expressions: int = 0  # operators and function calls
    values: int = 0  # VALUES cells
    optional_depth: int = 0  # deepest OPTIONAL inside OPTIONAL
    growth: int = 1  # how many times string functions may multiply a string's length
    cross_products: int = 0  # OPTIONAL groups joining unconnected patterns made of variables only

    def larger(self, other: QueryShape) -> QueryShape:
        return QueryShape(
            self.form or other.form,
            self.has_dataset_clause or other.has_dataset_clause,
            max(self.patterns, other.patterns),
            max(self.depth, other.depth),
            max(self.expressions, other.expressions),
            max(self.values, other.values),
            max(self.optional_depth, other.optional_depth),
            max(self.growth, other.growth),
            max(self.cross_products, other.cross_products),
        )


def _refuse_service() -> QueryRefused:
    return QueryRefused(
        400,
        "SERVICE is not allowed: this endpoint never makes outgoing requests",
        title="Bad Request: federated query refused",
    )


def _refuse_update(word: str) -> QueryRefused:
    return QueryRefused(
        400,
        f"{word} is a SPARQL Update keyword: this endpoint is read-only and answers queries only",
        title="Bad Request: updates refused",
    )


class _Frame:
    """One open bracket: its kind and what is being counted inside it."""

    __slots__ = ("chain", "growing", "kind", "optional", "pos", "predicate", "reads", "scans", "subject")

    def __init__(self, kind: str, *, pos: int = 0, optional: bool = False, growing: int = -1) -> None:
        self.kind = kind  # "top", "{", "[", "c" collection, "p" path group, "e" expression, "v" VALUES, "x" inert
        self.pos = pos  # in "{" / "[": 0 subject expected, 1 predicate, 2 object
        self.optional = optional
        self.growing = growing  # -1, or the growth factor of a string function call (0: count variables)
        self.reads = 0  # variables read inside a string function call
        self.chain = 0  # unary operators waiting for their operand
        self.subject = self.predicate = ""  # the current triple's subject and predicate when variables
        self.scans: list[set[str]] = []  # in "{": the variables of each triple pattern made of variables only


def measure(text: str) -> QueryShape:
    """Count what costs in ``text``; QueryRefused for SERVICE or an update, SparqlLexError for a non-token."""
    form = ""
    dataset = False
    triples = items = steps = groups = binds = subqueries = 0
    expressions = cells = 0
    depth = optional_depth = optionals = unary = 0
    growth = 1
    cross_products = 0
    stack = [_Frame("top")]
    frame = stack[0]
    previous = before = ""
    previous_word = ""
    values_next = optional_next = False

    def term_in(frame: _Frame, kind: str = "", value: str = "") -> None:
        """A term (or a blank node, collection) at the current position of a triples frame."""
        nonlocal triples, steps, items
        if frame.kind in ("{", "["):
            variable = value if kind == "VAR" else ""
            if frame.pos == 0:
                frame.subject = variable
                frame.pos = 1
            elif frame.pos == 1:
                frame.predicate = variable
                frame.pos = 2
            else:
                triples += 1
                if variable and frame.subject and frame.predicate and frame.kind == "{":
                    frame.scans.append({frame.subject, frame.predicate, variable})
        elif frame.kind == "c":
            items += 1
        elif frame.kind == "p":
            steps += 1

    token: Token
    for token in scan(text):
        kind, value = token[0], token[1]
        fkind = frame.kind
        if kind == "KEYWORD":
            word = value.upper()
            if word == "SERVICE":
                raise _refuse_service()
            if word in UPDATE_KEYWORDS:
                raise _refuse_update(word)
            if word in _FORMS:
                if not form:
                    form = word
                elif word == "SELECT":
                    subqueries += 1
            elif word == "FROM":
                dataset = True
            elif word == "BIND":
                binds += 1
            elif word == "VALUES":
                values_next = True
            elif word == "OPTIONAL":
                optional_next = True
            if value == "a" or value in ("true", "false") or word == "UNDEF":
                if fkind == "v":
                    cells += 1
                elif fkind == "e":
                    unary -= frame.chain
                    frame.chain = 0
                else:
                    term_in(frame)
            elif fkind == "{":
                frame.pos = 0
            elif fkind == "e":
                expressions += 1
        elif kind in _TERMS:
            if previous == "^^":
                pass  # a literal's datatype
            elif fkind == "v":
                cells += 1
            elif fkind == "e":
                if frame.chain:
                    unary -= frame.chain
                    frame.chain = 0
                if kind == "VAR" and frame.growing >= 0:
                    frame.reads += 1
                if kind in NUMBERS and value[0] in "+-" and previous in _OPERAND_END:
                    expressions += 1  # ``?x -1`` is a subtraction
            else:
                term_in(frame, kind, value)
        elif kind == "{":
            groups += 1
            if values_next:
                child = _Frame("v")
            else:
                child = _Frame("{", optional=optional_next)
                if optional_next:
                    optionals += 1
                    optional_depth = max(optional_depth, optionals)
            values_next = optional_next = False
            stack.append(child)
            frame = child
        elif kind == "[":
            term_in(frame)
            frame = _Frame("[", pos=1)
            stack.append(frame)
        elif kind == "(" or kind == "<<(":
            if values_next or fkind in ("v", "x"):
                child = _Frame("v" if fkind == "v" else "x")
            elif fkind in ("top", "e"):
                expressions += fkind == "e"
                grow = _GROWING.get(previous_word, -1) if previous == "KEYWORD" else -1
                child = _Frame("e", growing=grow)
            elif previous == "KEYWORD" and previous_word not in ("A", "VALUES"):
                child = _Frame("e", growing=_GROWING.get(previous_word, -1))
            elif previous in ("IRIREF", "PNAME_LN", "PNAME_NS") and before == "KEYWORD":
                child = _Frame("e")  # FILTER <fn>(…)
            elif fkind in ("{", "[") and frame.pos == 1:
                child = _Frame("p")  # a path group
            else:
                term_in(frame)
                child = _Frame("c")
            stack.append(child)
            frame = child
        elif kind in ("}", "]", ")", ")>>"):
            if len(stack) > 1:
                closed = stack.pop()
                frame = stack[-1]
                if closed.optional:
                    optionals -= 1
                    if _components(closed.scans) > 1:
                        cross_products += 1
                if closed.scans:
                    holder = next((f for f in reversed(stack) if f.kind == "{"), None)
                    if holder is not None:
                        holder.scans += closed.scans
                unary -= closed.chain
                if closed.growing >= 0:
                    factor = closed.growing or closed.reads
                    growth = min(growth * max(factor, 1), 1 << 40)
                    if frame.growing >= 0:
                        frame.reads += closed.reads
                if frame.kind == "{" and closed.kind in ("{", "e", "v"):
                    frame.pos = 0
                elif closed.kind == "p":
                    frame.pos = 2
                if frame.kind == "e" and frame.chain:
                    unary -= frame.chain
                    frame.chain = 0
        elif fkind == "e":
            if kind in _OPERATORS:
                expressions += 1
                if kind in _UNARY and previous not in _OPERAND_END:
                    frame.chain += 1
                    unary += 1
        elif kind in _PATH_OPERATORS and fkind in ("{", "[", "p"):
            steps += 1
            if kind in ("/", "|") and fkind != "p":
                frame.pos = 1
        elif kind == "," and fkind in ("{", "["):
            frame.pos = 2
        elif kind == ";" and fkind in ("{", "["):
            frame.pos = 1
        elif kind == "." and fkind == "{":
            frame.pos = 0
        depth = max(depth, len(stack) - 1 + unary)
        before, previous = previous, kind
        previous_word = value.upper() if kind == "KEYWORD" else ""
    patterns = triples + COLLECTION_ITEM * items + steps + groups + binds + subqueries
    return QueryShape(form, dataset, patterns, depth, expressions, cells, optional_depth, growth, cross_products)


def _components(scans: list[set[str]]) -> int:
    """How many groups of patterns share no variable with each other (more than one: a cross product)."""
    groups: list[set[str]] = []
    for variables in scans:
        joined = [g for g in groups if g & variables]
        merged = set(variables).union(*joined)
        groups = [g for g in groups if not g & variables] + [merged]
    return len(groups)


def _analyze(query: str) -> QueryShape:
    other = None
    prepass = unescape_codepoints(query)
    if prepass is not query:  # a store applying SPARQL 1.1's pre-pass reads another query: screen it too
        with contextlib.suppress(SparqlLexError):  # if it does not lex, such a store rejects it
            other = measure(prepass)
    try:
        shape = measure(query)
    except SparqlLexError as exc:
        raise QueryRefused(400, f"syntax error: {exc}", title="Bad Request: SPARQL syntax error") from None
    return shape if other is None else shape.larger(other)


_analyze_cached = lru_cache(maxsize=2048)(_analyze)


def analyze(query: str) -> QueryShape:
    """Tokenize ``query`` and describe it; QueryRefused if it uses SERVICE, an update, or is not SPARQL."""
    return _analyze_cached(query) if len(query) <= _CACHED_CHARS else _analyze(query)


def screen(query: str, *, max_bytes: int, max_patterns: int, max_nesting: int) -> QueryShape:
    """Refuse what no worker should even parse; the shape of what passes."""
    size = len(query.encode("utf-8")) if len(query) * 4 > max_bytes else len(query)
    if size > max_bytes:
        raise QueryRefused(
            413, f"the query is {size:,} bytes; the limit is {max_bytes:,} bytes", title="Query too large"
        )
    shape = analyze(query)
    refusals = (
        (shape.depth > max_nesting, f"the query nests {shape.depth} levels deep; the limit is {max_nesting}"),
        (
            shape.patterns > max_patterns,
            f"the query has about {shape.patterns} triple patterns, path steps, groups and BINDs "
            f"(a collection item counts {COLLECTION_ITEM}); the limit is {max_patterns}",
        ),
        (
            shape.expressions > EXPRESSION_FACTOR * max_patterns,
            f"the query has {shape.expressions} operators and function calls; "
            f"the limit is {EXPRESSION_FACTOR * max_patterns}",
        ),
        (
            shape.values > VALUES_FACTOR * max_patterns,
            f"the query has {shape.values} VALUES cells; the limit is {VALUES_FACTOR * max_patterns}",
        ),
        (
            shape.optional_depth > MAX_OPTIONAL_DEPTH,
            f"the query nests {shape.optional_depth} OPTIONALs; the limit is {MAX_OPTIONAL_DEPTH}",
        ),
        (
            shape.growth > MAX_STRING_GROWTH,
            f"the query's string functions can multiply a string's length {shape.growth:,} times; "
            f"the limit is {MAX_STRING_GROWTH:,}",
        ),
        (
            shape.cross_products > 0,
            "an OPTIONAL joins patterns made of variables only that share no variable: a cross product of "
            "the whole graph that a worker would hold in memory",
        ),
    )
    for refused, detail in refusals:
        if refused:
            raise QueryRefused(400, detail, title="Bad Request: query too complex")
    return shape
