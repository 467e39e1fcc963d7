"""In-process answers for the cheapest class of queries: one basic graph pattern, under a hard work budget.

Most ad-hoc queries an endpoint sees are lookups: ``SELECT ?a ?p ?o WHERE { ?s cgo:inseeCode "44109" . ?a
cgo:seat ?s ; ?p ?o }``. Sending them to a worker process costs more than running them. This module answers,
in the HTTP process, exactly the queries it can parse completely into this small algebra:

- ``SELECT [DISTINCT] (?v … | *) [WHERE] { BGP } [LIMIT n] [OFFSET n]`` (either order) or
  ``ASK [WHERE] { BGP }``, after ``PREFIX`` declarations only, read with the shared SPARQL lexer;
- a BGP of at most ``MAX_PATTERNS`` triple patterns whose terms are variables, absolute IRIs, prefixed names,
  ``a``, strings (short or long, with escapes; an optional language tag or datatype), numbers (integer,
  decimal, double, signed) and booleans.

Anything else — what the engine refuses (``LIMIT 18446744073709551616``, an invalid IRI), a blank node, a
property path, a FILTER, OPTIONAL, a relative IRI, BASE, ``\\u`` escapes, an unknown token —
is not this class: :func:`parse` returns None and the query goes to a killable worker as before.
The evaluation is a nested-loop join over the store's indexes (``quads_for_pattern``) in which
every quad read costs one unit of a fixed budget; when the budget runs out the work stops
(:class:`BudgetExceeded`) and the query goes to a worker. So the time spent here is bounded by the budget
whatever the data and the query (no planner, no recursion deeper than ``MAX_PATTERNS``, no outgoing request
possible: there is no SERVICE in this algebra), and the answers are those of the engine: the union of the
graphs as default graph, one solution per matching quad (duplicates across graphs kept, as Oxigraph does),
``SELECT *`` variables in name order, as Oxigraph lists them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias

from ..formats import RESULT_ALIASES
from ..sparql_lexer import (
    STRINGS,
    SparqlLexError,
    iri_value,
    is_keyword,
    pname_parts,
    string_value,
)
from ..sparql_lexer import tokens as lexer_tokens
from . import results
from .workers import Engine

if TYPE_CHECKING:
    import pyoxigraph

MAX_QUERY_CHARS = 4096  # longer queries are not lookups: leave them to the workers
MAX_PATTERNS = 16
DEFAULT_BUDGET = 5_000  # quads read per query (~2.5 µs each here: ~12 ms at worst, then the workers take over)
MAX_SLICE = 2**64 - 1  # LIMIT / OFFSET: Oxigraph refuses larger values

XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_ABSOLUTE_IRI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_NUMBER_TYPES = {
    f"{kind}{sign}": XSD + kind.lower()
    for kind in ("INTEGER", "DECIMAL", "DOUBLE")
    for sign in ("", "_POSITIVE", "_NEGATIVE")
}
_IRI_KINDS = ("IRIREF", "PNAME_LN", "PNAME_NS")


class NotFastPath(Exception):
    """The query is outside the class this module answers (internal: parse() returns None)."""


class BudgetExceeded(Exception):
    """The evaluation read more quads than its budget allows: the caller hands the query to a worker."""


class Var(NamedTuple):
    """A variable of the pattern (a tuple: cheaper to build than a dataclass)."""

    name: str


Slot: TypeAlias = "Var | pyoxigraph.NamedNode | pyoxigraph.Literal"


@dataclass(frozen=True)
class BgpQuery:
    """A parsed query of the fast-path class."""

    form: str  # "SELECT" or "ASK"
    variables: tuple[str, ...]  # projection, in order (SELECT)
    patterns: tuple[tuple[Slot, Slot, Slot], ...]  # in evaluation order (most bound first)
    distinct: bool = False
    limit: int | None = None
    offset: int = 0


@lru_cache(maxsize=8192)
def _named_node(text: str) -> pyoxigraph.NamedNode:
    import pyoxigraph

    return pyoxigraph.NamedNode(text)


def _iri(kind: str, value: str, prefixes: Mapping[str, str]) -> pyoxigraph.NamedNode:
    if kind == "IRIREF":
        text = iri_value(value)
        if not _ABSOLUTE_IRI.match(text):
            raise NotFastPath("relative IRI")  # base resolution is the engine's business
    elif kind == "PNAME_LN" or kind == "PNAME_NS":
        prefix, local = pname_parts(value)
        if prefix not in prefixes:
            raise NotFastPath(f"undeclared prefix {prefix}:")
        text = prefixes[prefix] + local
    else:
        raise NotFastPath("expected an IRI")
    try:
        return _named_node(text)
    except ValueError:
        raise NotFastPath("invalid IRI") from None


def _literal(text: str, kind: str, value: str, prefixes: Mapping[str, str]) -> pyoxigraph.Literal:
    """A string literal; ``kind``/``value``: the token after it when it is a language tag or a datatype."""
    import pyoxigraph

    try:
        if kind == "LANGTAG":
            if "--" in value:
                raise NotFastPath("base direction")
            return pyoxigraph.Literal(text, language=value[1:])
        if kind:
            datatype = _iri(kind, value, prefixes)
            if datatype.value == RDF_LANG_STRING:
                raise NotFastPath("rdf:langString without a language")
            return pyoxigraph.Literal(text, datatype=datatype)
    except ValueError:
        raise NotFastPath("invalid literal") from None
    return pyoxigraph.Literal(text)


def _slice_value(token: tuple[str, str, int]) -> int:
    if token[0] != "INTEGER" or int(token[1]) > MAX_SLICE:
        raise NotFastPath("bad LIMIT or OFFSET")  # Oxigraph refuses these: let it say so
    return int(token[1])


def _parse(query: str) -> BgpQuery:
    """Parse ``query`` into the fast-path algebra; NotFastPath for anything outside it."""
    try:
        tokens = lexer_tokens(query)
        tokens.append(("eof", "", len(query)))
    except SparqlLexError:
        raise NotFastPath("not SPARQL") from None
    prefixes: dict[str, str] = {}
    i = 0
    while is_keyword(tokens[i], "PREFIX"):
        (name_kind, name, _), (iri_kind, iri, _) = tokens[i + 1], tokens[i + 2]
        if name_kind != "PNAME_NS" or iri_kind != "IRIREF":
            raise NotFastPath("bad PREFIX")
        prefixes[name[:-1]] = _iri(iri_kind, iri, prefixes).value
        i += 3
    kind, value, _ = tokens[i]
    form = value.upper() if kind == "KEYWORD" else ""
    if form not in ("SELECT", "ASK"):
        raise NotFastPath("not SELECT or ASK")
    i += 1
    distinct = star = False
    variables: list[str] = []
    if form == "SELECT":
        if is_keyword(tokens[i], "DISTINCT"):
            distinct = True
            i += 1
        if tokens[i][0] == "*":
            star = True
            i += 1
        else:
            while tokens[i][0] == "VAR":
                variables.append(tokens[i][1][1:])
                i += 1
            if not variables or len(set(variables)) != len(variables):
                raise NotFastPath("unsupported projection")
    if is_keyword(tokens[i], "WHERE"):
        i += 1
    if tokens[i][0] != "{":
        raise NotFastPath("expected {")
    i += 1
    patterns: list[tuple[Slot, Slot, Slot]] = []
    # { s p o (, o)* (; p o …)* (. s p o …)* }: triples only
    while tokens[i][0] != "}":
        kind, value, _ = tokens[i]
        i += 1
        if kind == "VAR":
            subject: Slot = Var(value[1:])
        elif kind in _IRI_KINDS:
            subject = _iri(kind, value, prefixes)
        else:
            raise NotFastPath("unsupported subject")
        while True:
            kind, value, _ = tokens[i]
            i += 1
            if kind == "VAR":
                predicate: Slot = Var(value[1:])
            elif kind in _IRI_KINDS:
                predicate = _iri(kind, value, prefixes)
            elif kind == "KEYWORD" and value == "a":
                predicate = _named_node(RDF_TYPE)
            else:
                raise NotFastPath("unsupported predicate")
            while True:
                kind, value, _ = tokens[i]
                i += 1
                obj: Slot
                if kind == "VAR":
                    obj = Var(value[1:])
                elif kind in _IRI_KINDS:
                    obj = _iri(kind, value, prefixes)
                elif kind in STRINGS:
                    text = string_value(kind, value)
                    next_kind, next_value, _ = tokens[i]
                    if next_kind == "LANGTAG":
                        obj = _literal(text, next_kind, next_value, prefixes)
                        i += 1
                    elif next_kind == "^^":
                        obj = _literal(text, tokens[i + 1][0], tokens[i + 1][1], prefixes)
                        i += 2
                    else:
                        obj = _literal(text, "", "", prefixes)
                elif kind in _NUMBER_TYPES:
                    obj = _typed(value, _NUMBER_TYPES[kind])
                elif kind == "KEYWORD" and (value == "true" or value == "false"):
                    obj = _typed(value, XSD + "boolean")
                else:
                    raise NotFastPath("unsupported object")
                patterns.append((subject, predicate, obj))
                if len(patterns) > MAX_PATTERNS:
                    raise NotFastPath("too many patterns")
                if tokens[i][0] != ",":
                    break
                i += 1
            if tokens[i][0] != ";":
                break
            while tokens[i][0] == ";":  # ';' may repeat, and may end the list
                i += 1
            if tokens[i][0] == "." or tokens[i][0] == "}":
                break
        if tokens[i][0] == ".":
            i += 1
        elif tokens[i][0] != "}":
            raise NotFastPath("expected . or }")
    i += 1
    limit: int | None = None
    offset: int | None = None
    while form == "SELECT" and tokens[i][0] == "KEYWORD":  # LIMIT and OFFSET, once each, in either order
        word = tokens[i][1].upper()
        if word == "LIMIT" and limit is None:
            limit = _slice_value(tokens[i + 1])
        elif word == "OFFSET" and offset is None:
            offset = _slice_value(tokens[i + 1])
        else:
            break
        i += 2
    if tokens[i][0] != "eof":
        raise NotFastPath("trailing clauses")
    if star:
        variables = sorted({slot.name for pattern in patterns for slot in pattern if isinstance(slot, Var)})
    return BgpQuery(form, tuple(variables), tuple(plan(patterns)), distinct, limit, offset or 0)


def _typed(lexical: str, datatype: str) -> pyoxigraph.Literal:
    import pyoxigraph

    return pyoxigraph.Literal(lexical, datatype=_named_node(datatype))


def plan(patterns: Sequence[tuple[Slot, Slot, Slot]]) -> list[tuple[Slot, Slot, Slot]]:
    """Evaluation order: at each step the pattern with the most positions already bound (subject and
    object count double: the indexes make them selective), earliest first on ties."""
    remaining = list(patterns)
    bound: set[str] = set()
    ordered: list[tuple[Slot, Slot, Slot]] = []
    while remaining:
        best, best_score = remaining[0], -1
        for pattern in remaining:
            s, p, o = pattern
            score = (
                (2 if type(s) is not Var or s.name in bound else 0)
                + (1 if type(p) is not Var or p.name in bound else 0)
                + (2 if type(o) is not Var or o.name in bound else 0)
            )
            if score > best_score:
                best, best_score = pattern, score
        remaining.remove(best)
        ordered.append(best)
        bound.update(slot.name for slot in best if type(slot) is Var)
    return ordered


def parse(query: str) -> BgpQuery | None:
    """The query in the fast-path algebra, or None when it is anything else (then a worker runs it)."""
    if len(query) > MAX_QUERY_CHARS or "\\u" in query or "\\U" in query:
        return None
    try:
        return _parse(query)
    except NotFastPath:
        return None


def evaluate(
    store: Any, query: BgpQuery, *, max_rows: int, budget: int = DEFAULT_BUDGET
) -> tuple[list[tuple[Any, ...]], bool] | bool:
    """SELECT: (rows in projection order, truncated by ``max_rows``); ASK: the answer.

    A nested-loop join in the planned order; each quad read costs one unit of ``budget``. Raises
    BudgetExceeded when the budget runs out first (nothing is returned then).
    """
    import pyoxigraph

    subject_types = (pyoxigraph.NamedNode, pyoxigraph.BlankNode)
    named_node = pyoxigraph.NamedNode
    slots: dict[str, int] = {}
    for pattern in query.patterns:
        for slot in pattern:
            if isinstance(slot, Var):
                slots.setdefault(slot.name, len(slots))
    # Per level (pattern), decided once: the constants, the variables bound by earlier levels (looked up),
    # the variables this level binds (first occurrence in the pattern), and the repeated occurrences of a
    # variable this level binds (``?x ?p ?x``: the quad must hold the same term at both positions).
    levels: list[tuple[list[Any], list[tuple[int, int]], list[tuple[int, int]], list[tuple[int, int]]]] = []
    bound: set[int] = set()
    for pattern in query.patterns:
        constants: list[Any] = [None if isinstance(slot, Var) else slot for slot in pattern]
        lookups: list[tuple[int, int]] = []
        binds: list[tuple[int, int]] = []
        repeats: list[tuple[int, int]] = []
        first_at: dict[int, int] = {}
        for position, slot in enumerate(pattern):
            if not isinstance(slot, Var):
                continue
            index = slots[slot.name]
            if index in bound:
                lookups.append((position, index))
            elif index in first_at:
                repeats.append((position, first_at[index]))
            else:
                first_at[index] = position
                binds.append((position, index))
        bound.update(first_at)
        levels.append((constants, lookups, binds, repeats))
    env: list[Any] = [None] * (len(slots) + 1)  # the last slot stays None: a projected variable no pattern binds
    projection = [slots.get(name, len(slots)) for name in query.variables]
    ask = query.form == "ASK"
    distinct = query.distinct
    cap = max_rows if query.limit is None else min(max_rows, query.limit)
    skip = query.offset
    rows: list[tuple[Any, ...]] = []
    seen: set[tuple[Any, ...]] = set()
    remaining = budget
    done = truncated = False
    depth = len(levels)
    plain_rows = not ask and not distinct  # every solution is a row (until OFFSET and LIMIT)

    def emit() -> None:
        nonlocal done, truncated, skip
        if ask:
            done = True
            return
        row = tuple([env[index] for index in projection])
        if distinct:
            if row in seen:
                return
            seen.add(row)
        if skip:
            skip -= 1
            return
        if len(rows) >= cap:
            truncated = query.limit is None or query.limit > max_rows
            done = True
            return
        rows.append(row)

    def solve(level: int) -> None:
        nonlocal remaining, skip, done, truncated
        constants, lookups, binds, repeats = levels[level]
        if lookups:
            terms = list(constants)
            for position, index in lookups:
                terms[position] = env[index]
            s, p, o = terms
            if (s is not None and not isinstance(s, subject_types)) or (
                p is not None and not isinstance(p, named_node)
            ):
                return  # a literal bound where the store can hold none: no match
        else:
            s, p, o = constants
        last = level + 1 == depth
        if repeats:
            for quad in store.quads_for_pattern(s, p, o, None):
                remaining -= 1
                if remaining < 0:
                    raise BudgetExceeded
                found = (quad.subject, quad.predicate, quad.object)
                if any(found[position] != found[first] for position, first in repeats):
                    continue
                for position, index in binds:
                    env[index] = found[position]
                if last:
                    emit()
                else:
                    solve(level + 1)
                if done:
                    return
            return
        inline = last and plain_rows  # the innermost level of a plain SELECT: rows taken here, no call per row
        # No repeated variable: read only the positions this level binds.
        for quad in store.quads_for_pattern(s, p, o, None):
            remaining -= 1
            if remaining < 0:
                raise BudgetExceeded
            for position, index in binds:
                env[index] = quad.subject if position == 0 else quad.predicate if position == 1 else quad.object
            if inline:
                if skip:
                    skip -= 1
                elif len(rows) < cap:
                    rows.append(tuple([env[index] for index in projection]))
                else:
                    truncated = query.limit is None or query.limit > max_rows
                    done = True
                    return
            elif last:
                emit()
            else:
                solve(level + 1)
            if done:
                return

    if depth:
        solve(0)
    else:
        emit()
    if ask:
        return done
    return rows, truncated


def answer(
    store: Any, query: BgpQuery, accept: Sequence[str], *, max_rows: int, budget: int = DEFAULT_BUDGET
) -> tuple[str, bytes, Mapping[str, Any]]:
    """(media type, body, header) for the endpoint, serialized as the workers do; BudgetExceeded, or the
    workers' Refusal (406) when no accepted type fits."""
    fmt, media = Engine.pick(accept, RESULT_ALIASES, "json", "execute")
    outcome = evaluate(store, query, max_rows=max_rows, budget=budget)
    if isinstance(outcome, bool):
        return media, results.boolean(fmt, outcome), {}
    rows, truncated = outcome
    return media, results.solutions(fmt, query.variables, rows), {"truncated": truncated}
