"""Generated graphs and basic-graph-pattern queries for the fast path's differential tests (Hypothesis).

Graphs: a few IRIs, blank nodes and literals shared across the default and two named graphs. Queries: bounded
basic graph patterns over them (or over the bundled graph's terms) with variables repeated inside one pattern,
every spelling of each constant, invalid terms the engine refuses, projections, DISTINCT, LIMIT / OFFSET, ASK.
"""

from __future__ import annotations

from typing import Any

import pyoxigraph
from hypothesis import strategies as st

EX = "http://example.org/"
XSD = "http://www.w3.org/2001/XMLSchema#"
CGO = "https://w3id.org/citygraph/ontology#"

# ---------------------------------------------------------------- generated graphs

NODES = [pyoxigraph.NamedNode(EX + name) for name in ("a", "b", "c")]
BLANKS = [pyoxigraph.BlankNode(f"b{i}") for i in range(2)]
PREDICATES = [pyoxigraph.NamedNode(EX + name) for name in ("p", "q")]
RDF_TYPE = pyoxigraph.NamedNode("http://www.w3.org/1999/02/22-rdf-syntax-ns#type")
LITERALS = [
    pyoxigraph.Literal("x"),
    pyoxigraph.Literal("x", language="en"),
    pyoxigraph.Literal("x", language="fr"),
    pyoxigraph.Literal("1", datatype=pyoxigraph.NamedNode(XSD + "integer")),
    pyoxigraph.Literal("1.5", datatype=pyoxigraph.NamedNode(XSD + "decimal")),
    pyoxigraph.Literal("true", datatype=pyoxigraph.NamedNode(XSD + "boolean")),
    pyoxigraph.Literal('a"b\n'),
    pyoxigraph.Literal("Béthune"),
]
GRAPHS = [pyoxigraph.DefaultGraph(), pyoxigraph.NamedNode(EX + "g1"), pyoxigraph.NamedNode(EX + "g2")]
subjects = st.sampled_from([*NODES, *BLANKS, PREDICATES[0]])  # a predicate may be a subject too
objects = st.one_of(subjects, subjects, st.sampled_from(NODES + BLANKS + PREDICATES + LITERALS))  # loops, joins
quads = st.builds(
    pyoxigraph.Quad, subjects, st.sampled_from([*PREDICATES, *PREDICATES, RDF_TYPE]), objects, st.sampled_from(GRAPHS)
)
graphs = st.lists(quads, min_size=6, max_size=24)

# ---------------------------------------------------------------- generated queries

# Each constant with the spellings a query may use for it (all must mean the same term).
SPELLINGS: dict[Any, list[str]] = {
    NODES[0]: ["ex:a", f"<{EX}a>"],
    NODES[1]: ["ex:b", f"<{EX}b>"],
    NODES[2]: ["ex:c"],
    PREDICATES[0]: ["ex:p", f"<{EX}p>"],
    PREDICATES[1]: ["ex:q"],
    LITERALS[0]: ['"x"', "'x'", '"""x"""', "'''x'''", '"x"^^xsd:string'],
    LITERALS[1]: ['"x"@en', '"x"@EN', "'x' @en"],
    LITERALS[2]: ['"x"@fr'],
    LITERALS[3]: ["1", '"1"^^xsd:integer', "+1", "01"],
    LITERALS[4]: ["1.5", '"1.5"^^xsd:decimal', "+1.50"],
    LITERALS[5]: ["true", '"true"^^xsd:boolean'],
    LITERALS[6]: ['"a\\"b\\n"', "'a\"b\\n'", '"""a"b\n"""'],
    LITERALS[7]: ['"Béthune"', '"B\\u00e9thune"'],
}
OTHER = ["-1", "1.5e0", '"1"^^xsd:double', '"x"@en-GB', "false", "ex:zz", "ex:a.b", "<http://example.org/>"]
INVALID = ["ex:a..", "TRUE", "<http://[x>", "ex:.a", '"x"@', "ex:a\\", "1e", "nope:a"]  # the engine refuses these
VARIABLES = ["?x", "?y", "$x", "?z", "?w"]  # ?x and $x are the same variable


def constant(position: int) -> st.SearchStrategy[str]:
    """A spelled constant for a subject (0), predicate (1) or object (2)."""
    if position == 0:
        terms = [t for t in SPELLINGS if isinstance(t, pyoxigraph.NamedNode) and t not in PREDICATES]
    elif position == 1:
        terms = PREDICATES
    else:  # as many chances for a node as for a literal
        terms = [*NODES, *NODES, *PREDICATES, *PREDICATES, *LITERALS]
    spelled = st.sampled_from(terms).flatmap(lambda term: st.sampled_from(SPELLINGS[term]))
    if position == 1:
        return st.one_of(spelled, spelled, spelled, st.sampled_from(["a"] * 7 + ["A"]))
    if position == 2:
        return st.one_of(spelled, spelled, spelled, st.sampled_from(OTHER), st.sampled_from(OTHER + INVALID))
    return spelled


def slot(position: int) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(VARIABLES), constant(position))




@st.composite
def pattern(draw: st.DrawFn) -> tuple[str, str, str]:
    """A triple pattern; one in three repeats a variable inside itself (``?x ?p ?x``, ``?x ?x ?o``…)."""
    parts = [draw(slot(0)), draw(slot(1)), draw(slot(2))]
    if draw(st.integers(0, 2)) == 0:
        variable = draw(st.sampled_from([*VARIABLES, "?r", "?r", "?r", "?s", "?s"]))  # ?r, ?s: only here
        for position in draw(st.sampled_from([(0, 2), (0, 2), (0, 2), (0, 1), (1, 2), (0, 1, 2)])):
            parts[position] = variable
    return parts[0], parts[1], parts[2]


# ``?a ex:p ?b``: many solutions, so the patterns after it are evaluated many times (stale bindings show)
wide = st.tuples(st.sampled_from(VARIABLES), constant(1), st.sampled_from(VARIABLES))
# ``?r ex:q ?r`` beside such a pattern, in either order: the planner evaluates it later, once per solution
loop = st.builds(
    lambda v, p: (v, p, v), st.sampled_from(["?r", "?s", "?x"]), st.one_of(constant(1), st.sampled_from(VARIABLES))
)
patterns = st.one_of(
    st.sampled_from([1, 2, 2, 3, 3]).flatmap(lambda n: st.lists(st.one_of(pattern(), wide), min_size=n, max_size=n)),
    st.lists(st.one_of(wide, loop, pattern()), min_size=2, max_size=3),
)


@st.composite
def queries(draw: st.DrawFn, bundled: bool = False) -> str:
    triples = list(draw(patterns))
    if bundled:  # terms of the bundled graph
        triples = [
            tuple(
                part.replace("ex:p", "dct:title").replace("ex:q", "cgo:seat").replace("ex:a", "cgo:SmartCityProgramme")
                for part in triple
            )
            for triple in triples
        ]
    body = " . ".join(" ".join(triple) for triple in triples)
    if len(triples) > 1 and draw(st.integers(0, 3)) == 0:  # the ; and , abbreviations (same subject)
        (s, p, o), (_, p2, o2) = triples[0], triples[1]
        triples[1] = (s, p2, o2)
        rest = "".join(" . " + " ".join(triple) for triple in triples[2:])
        body = f"{s} {p} {o} ; {p2} {o2}{rest}" if p2 != p else f"{s} {p} {o} , {o2}{rest}"
    used = sorted({part.replace("$", "?") for triple in triples for part in triple if part[0] in "?$"})
    if draw(st.integers(0, 7)) == 0:
        return f"ASK {{ {body} }}"
    if not used or draw(st.booleans()):
        projection = "*"
    else:
        projection = " ".join(draw(st.lists(st.sampled_from(used), min_size=1, max_size=len(used), unique=True)))
    distinct = "DISTINCT " if draw(st.integers(0, 3)) == 0 else ""
    where = draw(st.sampled_from(["WHERE ", ""]))
    modifiers = ""
    # mostly no slice (the answer is then compared row for row), sometimes one, once in a while a huge one
    limit = draw(st.sampled_from([None] * 6 + [0, 1, 2, 3, 2**64 - 1, 2**64]))
    offset = draw(st.sampled_from([None] * 6 + [0, 1, 2, 3]))
    if limit is not None:
        modifiers += f" LIMIT {limit}"
    if offset is not None:
        modifiers += f" OFFSET {offset}"
    return f"SELECT {distinct}{projection} {where}{{ {body} }}{modifiers}"
