"""SHACL Core shapes compiled to SPARQL, run on pyoxigraph: the fast validation engine (``engine="sparql"``).

The shapes graph is read into a small model; each constraint of each (target shape, property shape) pair
becomes one SELECT over the data graph (data + ontology, as pyshacl sees them with ``ont_graph``), returning
the focus node and, for per-value constraints, the offending value. Nested shapes (``sh:node``, ``sh:not``,
``sh:or``, ``sh:and``, ``sh:xone``, ``sh:qualifiedValueShape``) become boolean SPARQL expressions. Results
use the term conventions of :mod:`citygraph.validate`, and tests check they equal pyshacl's on the bundled
graph, on every failing fixture and on a generated sample.

Supported: targets (class, subjectsOf, objectsOf, node), predicate/inverse/sequence/alternative paths,
class, datatype, nodeKind, minCount, maxCount, minExclusive/minInclusive/maxExclusive/maxInclusive,
minLength, maxLength, pattern (+flags), languageIn, uniqueLang, in, hasValue, node, not, and, or, xone,
qualifiedValueShape with qualifiedMinCount/qualifiedMaxCount, lessThan, lessThanOrEquals, equals, disjoint.
Anything else raises :class:`UnsupportedShapes` (``--engine auto`` then falls back to pyshacl).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .namespaces import RDF, RDFS, SH, XSD

if TYPE_CHECKING:
    import pyoxigraph

    from .load import LoadedGraph
    from .validate import Violation

# A pyoxigraph term of the shapes or data graph (NamedNode, BlankNode, Literal); Any: the stubs' unions are
# narrower than what quads_for_pattern and query solutions hand back.
Term = Any

# Components evaluated per value node: a boolean "the value is fine" expression.
_VALUE_PARAMS = (
    "class",
    "datatype",
    "nodeKind",
    "minExclusive",
    "minInclusive",
    "maxExclusive",
    "maxInclusive",
    "minLength",
    "maxLength",
    "pattern",
    "languageIn",
    "in",
    "node",
    "not",
    "and",
    "or",
    "xone",
)
_KNOWN_PARAMS = {
    *_VALUE_PARAMS,
    "minCount",
    "maxCount",
    "uniqueLang",
    "hasValue",
    "qualifiedValueShape",
    "qualifiedMinCount",
    "qualifiedMaxCount",
    "qualifiedValueShapesDisjoint",
    "lessThan",
    "lessThanOrEquals",
    "equals",
    "disjoint",
    "flags",
    "path",
    "property",
    "message",
    "severity",
    "name",
    "description",
    "order",
    "group",
    "targetClass",
    "targetSubjectsOf",
    "targetObjectsOf",
    "targetNode",
    "deactivated",
    "defaultValue",
}
_COMPONENT = {
    "class": "ClassConstraintComponent",
    "datatype": "DatatypeConstraintComponent",
    "nodeKind": "NodeKindConstraintComponent",
    "minExclusive": "MinExclusiveConstraintComponent",
    "minInclusive": "MinInclusiveConstraintComponent",
    "maxExclusive": "MaxExclusiveConstraintComponent",
    "maxInclusive": "MaxInclusiveConstraintComponent",
    "minLength": "MinLengthConstraintComponent",
    "maxLength": "MaxLengthConstraintComponent",
    "pattern": "PatternConstraintComponent",
    "languageIn": "LanguageInConstraintComponent",
    "in": "InConstraintComponent",
    "node": "NodeConstraintComponent",
    "not": "NotConstraintComponent",
    "and": "AndConstraintComponent",
    "or": "OrConstraintComponent",
    "xone": "XoneConstraintComponent",
    "minCount": "MinCountConstraintComponent",
    "maxCount": "MaxCountConstraintComponent",
    "uniqueLang": "UniqueLangConstraintComponent",
    "hasValue": "HasValueConstraintComponent",
    "qualifiedMinCount": "QualifiedMinCountConstraintComponent",
    "qualifiedMaxCount": "QualifiedMaxCountConstraintComponent",
    "lessThan": "LessThanConstraintComponent",
    "lessThanOrEquals": "LessThanOrEqualsConstraintComponent",
    "equals": "EqualsConstraintComponent",
    "disjoint": "DisjointConstraintComponent",
}
# Components the screen does not test (they compare a focus node's values with another property's):
# property shapes using them always run their detailed checks.
_UNSCREENED_PARAMS = ("lessThan", "lessThanOrEquals", "equals", "disjoint", "qualifiedValueShapesDisjoint")
_NONE = "<urn:x-citygraph:no-value>"  # the screen's stand-in for "no value" in distinct counts
# Above this many suspects a screened shape runs its checks on every focus node (a VALUES block that size
# costs more than it saves).
SUSPECTS_LIMIT = 2_000
# Datatypes whose lexical form is checked (ill-typed literals fail sh:datatype, as in pyshacl).
_CHECKED_DATATYPES = {
    XSD + name for name in ("integer", "decimal", "double", "float", "boolean", "date", "dateTime", "time")
}
_RDF_TYPE = f"<{RDF}type>"
_RDF_LANGSTRING = RDF + "langString"
_XSD_STRING = XSD + "string"


class UnsupportedShapes(InputError):
    """The shapes use a feature this engine does not compile (use the pyshacl engine)."""


@dataclass
class Shape:
    """One node or property shape, with its parameters as pyoxigraph terms (lists already unrolled)."""

    node: Term
    path: ShPath | None = None
    params: dict[str, list[Term]] = field(default_factory=dict)
    lists: dict[str, list[Term]] = field(default_factory=dict)
    properties: list[Shape] = field(default_factory=list)
    messages: dict[str, str] = field(default_factory=dict)
    severity: str = "Violation"
    targets: list[tuple[str, Term]] = field(default_factory=list)

    def one(self, name: str) -> Term | None:
        values = self.params.get(name, [])
        return values[0] if values else None


@dataclass(frozen=True)
class ShPath:
    """A SHACL path: a predicate, or ``^p``, ``p1/p2``, ``p1|p2``, ``p*``, ``p+``, ``p?``."""

    kind: str  # "pred", "inverse", "sequence", "alternative", "*", "+", "?"
    iri: str = ""
    parts: tuple[ShPath, ...] = ()

    def sparql(self) -> str:
        """SPARQL property-path syntax, IRIs bracketed, every compound part parenthesized."""
        if self.kind == "pred":
            return f"<{self.iri}>"
        inner = [p.sparql() if p.kind == "pred" else f"({p.sparql()})" for p in self.parts]
        if self.kind == "sequence":
            return "/".join(inner)
        if self.kind == "alternative":
            return "|".join(inner)
        return "^" + inner[0] if self.kind == "inverse" else inner[0] + self.kind

    def text(self, *, top: bool = True) -> str:
        """The report's text (the convention of :mod:`citygraph.validate`): a predicate bare at top level."""
        if self.kind == "pred":
            return self.iri if top else f"<{self.iri}>"
        if self.kind == "sequence":
            return "/".join(p.text(top=False) for p in self.parts)
        if self.kind == "alternative":
            return "(" + "|".join(p.text(top=False) for p in self.parts) + ")"
        inner = self.parts[0].text(top=False)
        wrapped = inner if inner.startswith("<") else f"({inner})"
        return "^" + wrapped if self.kind == "inverse" else wrapped + self.kind


# ---------------------------------------------------------------- reading the shapes graph


class ShapesGraph:
    """The shapes file parsed into :class:`Shape` values."""

    def __init__(self, store: pyoxigraph.Store) -> None:
        self.store = store
        self._cache: dict[str, Shape] = {}

    @classmethod
    def from_file(cls, path: Path, *, base: str | None = None) -> ShapesGraph:
        import pyoxigraph

        from .load import parse_file
        from .namespaces import DEFAULT_BASE

        store = pyoxigraph.Store()
        store.extend(
            pyoxigraph.Quad(t.subject, t.predicate, t.object) for t in parse_file(path, base=base or DEFAULT_BASE)
        )
        return cls(store)

    def _objects(self, subject: Term, predicate: str) -> list[Term]:
        import pyoxigraph

        return [q.object for q in self.store.quads_for_pattern(subject, pyoxigraph.NamedNode(predicate), None)]

    def _list(self, head: Term) -> list[Term]:
        items: list[Term] = []
        while not (hasattr(head, "value") and head.value == RDF + "nil"):
            first = self._objects(head, RDF + "first")
            rest = self._objects(head, RDF + "rest")
            if not first or not rest or len(items) > 10_000:
                raise UnsupportedShapes(f"malformed RDF list in the shapes at {head}")
            items.append(first[0])
            head = rest[0]
        return items

    def top_level(self) -> list[Shape]:
        """Shapes with at least one target, in a stable order."""
        import pyoxigraph

        found: dict[str, Term] = {}
        for name in ("targetClass", "targetSubjectsOf", "targetObjectsOf", "targetNode"):
            for quad in self.store.quads_for_pattern(None, pyoxigraph.NamedNode(SH + name), None):
                found.setdefault(str(quad.subject), quad.subject)
        node_shapes = {
            str(q.subject)
            for q in self.store.quads_for_pattern(
                None, pyoxigraph.NamedNode(RDF + "type"), pyoxigraph.NamedNode(SH + "NodeShape")
            )
        }
        classes = {
            str(q.subject)
            for q in self.store.quads_for_pattern(
                None, pyoxigraph.NamedNode(RDF + "type"), pyoxigraph.NamedNode(RDFS + "Class")
            )
        }
        if node_shapes & classes:
            raise UnsupportedShapes("implicit class targets (a node shape that is also an rdfs:Class)")
        return [self.shape(found[key]) for key in sorted(found)]

    def shape(self, node: Term) -> Shape:
        key = str(node)
        if key in self._cache:
            return self._cache[key]
        shape = Shape(node)
        self._cache[key] = shape
        for quad in self.store.quads_for_pattern(node, None, None):
            predicate = quad.predicate.value
            if not predicate.startswith(SH):
                continue
            name = predicate[len(SH) :]
            if name not in _KNOWN_PARAMS:
                raise UnsupportedShapes(f"sh:{name} (in shape {node}) is not supported by the sparql engine")
            shape.params.setdefault(name, []).append(quad.object)
        if shape.one("deactivated") is not None and getattr(shape.one("deactivated"), "value", "") == "true":
            shape.params = {}
            return shape
        path = shape.one("path")
        if path is not None:
            shape.path = self._path(path)
        for name in ("in", "languageIn", "and", "or", "xone"):
            if name in shape.params:
                shape.lists[name] = self._list(shape.params[name][0])
        shape.properties = [self.shape(p) for p in shape.params.get("property", [])]
        for message in shape.params.get("message", []):
            language = getattr(message, "language", None) or ""
            shape.messages.setdefault(language, message.value)
        severity = shape.one("severity")
        if severity is not None:
            shape.severity = severity.value.rsplit("#", 1)[-1]
        for name in ("targetClass", "targetSubjectsOf", "targetObjectsOf", "targetNode"):
            shape.targets += [(name, t) for t in shape.params.get(name, [])]
        return shape

    def _path(self, node: Term) -> ShPath:
        import pyoxigraph

        if isinstance(node, pyoxigraph.NamedNode):
            return ShPath("pred", node.value)
        if self._objects(node, RDF + "first"):
            return ShPath("sequence", parts=tuple(self._path(n) for n in self._list(node)))
        for name, kind in (
            ("inversePath", "inverse"),
            ("zeroOrMorePath", "*"),
            ("oneOrMorePath", "+"),
            ("zeroOrOnePath", "?"),
        ):
            inner = self._objects(node, SH + name)
            if inner:
                return ShPath(kind, parts=(self._path(inner[0]),))
        alternatives = self._objects(node, SH + "alternativePath")
        if alternatives:
            return ShPath("alternative", parts=tuple(self._path(n) for n in self._list(alternatives[0])))
        raise UnsupportedShapes(f"unreadable sh:path at {node}")


# ---------------------------------------------------------------- compiling to SPARQL


@dataclass(frozen=True)
class Check:
    """One compiled constraint: a SELECT binding ?this (and ?value when the result carries a value)."""

    query: str
    shape: Shape
    component: str
    has_value: bool
    flags: tuple[str, ...] = ()  # several constraints at once: ?_f0… true where the i-th one fails

    def failed(self, row: Any) -> list[str]:
        """The components a result row violates."""
        if not self.flags:
            return [self.component]
        return [c for i, c in enumerate(self.flags) if getattr(row[f"_f{i}"], "value", "") == "true"]


class Compiler:
    """Turns shapes into SPARQL; ``subclasses``: each class the shapes name → itself and its subclasses in the
    data graph (``rdf:type/rdfs:subClassOf*``)."""

    def __init__(self, shapes: ShapesGraph, subclasses: dict[str, list[str]]) -> None:
        self.shapes = shapes
        self.subclasses = subclasses
        self._vars = itertools.count()

    def fresh(self) -> str:
        return f"?_v{next(self._vars)}"

    # ---- the focus nodes of a top-level shape

    def focus(self, shape: Shape, restrict: Sequence[Term] = ()) -> str:
        """The focus nodes of a top-level shape as a group pattern binding ?this (only ``restrict`` if given)."""
        if restrict:
            return f"{{ VALUES ?this {{ {' '.join(map(str, restrict))} }} {self.focus(shape)} }}"
        branches = []
        for kind, target in shape.targets:
            if kind == "targetClass":
                values = " ".join(f"<{c}>" for c in self.subclasses[target.value])
                branches.append(f"{{ VALUES ?_cls {{ {values} }} ?this {_RDF_TYPE} ?_cls }}")
            elif kind == "targetSubjectsOf":
                branches.append(f"{{ ?this {target} ?_o }}")
            elif kind == "targetObjectsOf":
                branches.append(f"{{ ?_s {target} ?this }}")
            else:
                branches.append(f"{{ VALUES ?this {{ {target} }} }}")
        only = shape.targets[0] if len(shape.targets) == 1 else None
        if only and only[0] == "targetClass" and len(self.subclasses[only[1].value]) == 1:
            return f"{{ ?this {_RDF_TYPE} {only[1]} }}"  # one class, no subclass: no duplicate focus nodes
        return "{ SELECT DISTINCT ?this WHERE { " + " UNION ".join(branches) + " } }"

    # ---- checks of one shape on the focus nodes

    def checks(self, top: Shape, shape: Shape, restrict: Sequence[Term] = ()) -> Iterator[Check]:
        focus = self.focus(top, restrict)
        names = [name for name in _VALUE_PARAMS if name in shape.params]
        if shape.path is None:
            if names:
                binds, flags = self._flags(shape, names, "?this")
                query = f"SELECT DISTINCT ?this (?this AS ?value) {flags} WHERE {{ {focus} {binds} }}"
                yield Check(query, shape, "", True, tuple(_COMPONENT[n] for n in names))
            return
        path = shape.path.sparql()
        values = f"{{ SELECT DISTINCT ?this ?value WHERE {{ {focus} ?this {path} ?value }} }}"
        if names:  # every per-value constraint of the shape in one pass over its values
            binds, flags = self._flags(shape, names, "?value")
            query = f"SELECT ?this ?value {flags} WHERE {{ {values} {binds} }}"
            yield Check(query, shape, "", True, tuple(_COMPONENT[n] for n in names))
        min_count = _int(shape.one("minCount"))
        max_count = _int(shape.one("maxCount"))
        if min_count == 1 and max_count is None:
            query = f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this {path} ?_any }} }}"
            yield Check(query, shape, _COMPONENT["minCount"], False)
        elif min_count or max_count is not None:
            # Distinct values per focus node (foci without any value count 0 only when a minimum matters).
            tests = [(f"?_n < {min_count}", "minCount")] if min_count else []
            tests += [(f"?_n > {max_count}", "maxCount")] if max_count is not None else []
            optional = f"OPTIONAL {{ ?this {path} ?value }}" if min_count else f"?this {path} ?value"
            binds = " ".join(f"BIND({test} AS ?_f{i})" for i, (test, _) in enumerate(tests))
            query = (
                f"SELECT ?this {' '.join(f'?_f{i}' for i in range(len(tests)))} WHERE {{ "
                f"{{ SELECT ?this (COUNT(DISTINCT ?value) AS ?_n) WHERE {{ {focus} {optional} }} GROUP BY ?this }} "
                f"{binds} FILTER({' || '.join(f'?_f{i}' for i in range(len(tests)))}) }}"
            )
            yield Check(query, shape, "", False, tuple(_COMPONENT[name] for _, name in tests))
        unique = shape.one("uniqueLang")
        if unique is not None and unique.value == "true":
            query = (
                f"SELECT DISTINCT ?this WHERE {{ {{ SELECT ?this ?_lang (COUNT(?value) AS ?_n) WHERE {{ "
                f'{values} BIND(LCASE(LANG(?value)) AS ?_lang) FILTER(?_lang != "") }} '
                f"GROUP BY ?this ?_lang }} FILTER(?_n > 1) }}"
            )
            yield Check(query, shape, _COMPONENT["uniqueLang"], False)
        has_value = shape.one("hasValue")
        if has_value is not None:
            query = f"SELECT ?this WHERE {{ {focus} FILTER NOT EXISTS {{ ?this {path} {has_value} }} }}"
            yield Check(query, shape, _COMPONENT["hasValue"], False)
        if "qualifiedValueShape" in shape.params:
            disjoint = shape.one("qualifiedValueShapesDisjoint")
            if disjoint is not None and disjoint.value == "true":
                raise UnsupportedShapes("sh:qualifiedValueShapesDisjoint")
            qualified = self.conforms(self.shape_of(shape.params["qualifiedValueShape"][0]), "?value")
            counted = (
                f"{{ SELECT ?this (SUM(?_q) AS ?_n) WHERE {{ "
                f"{{ SELECT DISTINCT ?this ?value WHERE {{ {focus} OPTIONAL {{ ?this {path} ?value }} }} }} "
                f"BIND(IF(BOUND(?value) && ({qualified}), 1, 0) AS ?_q) }} GROUP BY ?this }}"
            )
            for name, op in (("qualifiedMinCount", "<"), ("qualifiedMaxCount", ">")):
                bound = _int(shape.one(name))
                if bound is not None:
                    yield Check(
                        f"SELECT ?this WHERE {{ {counted} FILTER(?_n {op} {bound}) }}",
                        shape,
                        _COMPONENT[name],
                        False,
                    )
        for name, test in (("lessThan", "?value < ?_other"), ("lessThanOrEquals", "?value <= ?_other")):
            for other in shape.params.get(name, []):
                query = (
                    f"SELECT DISTINCT ?this ?value WHERE {{ {values} ?this {other} ?_other "
                    f"FILTER(!COALESCE({test}, false)) }}"
                )
                yield Check(query, shape, _COMPONENT[name], True)
        for other in shape.params.get("equals", []):
            query = (
                f"SELECT DISTINCT ?this ?value WHERE {{ {{ {values} "
                f"FILTER NOT EXISTS {{ ?this {other} ?value }} }} UNION {{ {focus} ?this {other} ?value "
                f"FILTER NOT EXISTS {{ ?this {path} ?value }} }} }}"
            )
            yield Check(query, shape, _COMPONENT["equals"], True)
        for other in shape.params.get("disjoint", []):
            query = f"SELECT DISTINCT ?this ?value WHERE {{ {values} ?this {other} ?value }}"
            yield Check(query, shape, _COMPONENT["disjoint"], True)

    # ---- the screen: one pass over the focus nodes' triples for all the simple property shapes of a shape

    def screenable(self, shape: Shape) -> bool:
        """A property shape the screen covers: a predicate path and only per-focus components it can count."""
        if shape.path is None or shape.path.kind != "pred" or not shape.params:
            return False
        return not any(name in shape.params for name in _UNSCREENED_PARAMS)

    def screen(self, top: Shape, properties: Sequence[Shape]) -> str:
        """A SELECT of the focus nodes of ``top`` that may break one of ``properties`` (all screenable).

        It groups each focus node's outgoing triples once and tests every constraint with an aggregate.
        It may name a focus node that breaks nothing (a triple in both graphs counts twice; an expression
        error counts as a failure), never miss one that breaks something: the detailed checks decide.
        Distinct counts use a stand-in term for "no value" and subtract one (pyoxigraph turns a COUNT over
        an expression that errs on some row into an error): never above the true count.
        """
        tests: list[str] = []
        bad_rows: list[str] = []
        required: list[str] = []  # predicates with sh:minCount 1
        single: list[str] = []  # predicates with sh:maxCount 1
        for prop in properties:
            assert prop.path is not None
            is_p = f"sameTerm(?_p, <{prop.path.iri}>)"
            names = [name for name in _VALUE_PARAMS if name in prop.params]
            if names:
                ok = " && ".join(f"({self.value_ok(prop, name, '?_o')})" for name in names)
                bad_rows.append(f"({is_p} && !({ok}))")
            min_count = _int(prop.one("minCount")) or 0
            if min_count == 1:
                if is_p not in required:
                    required.append(is_p)
            elif min_count > 1:
                tests.append(f"COUNT(DISTINCT IF({is_p}, ?_o, {_NONE})) - 1 < {min_count}")
            max_count = _int(prop.one("maxCount"))
            if max_count == 1:
                if is_p not in single:
                    single.append(is_p)
            elif max_count is not None:
                tests.append(f"SUM(IF({is_p}, 1, 0)) > {max_count}")
            unique = prop.one("uniqueLang")
            if unique is not None and unique.value == "true":
                tagged = f'{is_p} && isLiteral(?_o) && LANG(?_o) != ""'
                tests.append(f"SUM(IF({tagged}, 1, 0)) > COUNT(DISTINCT IF({tagged}, LCASE(LANG(?_o)), {_NONE})) - 1")
            for value in prop.params.get("hasValue", []):
                tests.append(f"MAX(IF({is_p} && sameTerm(?_o, {value}), 1, 0)) < 1")
            if "qualifiedValueShape" in prop.params:
                qualified = self.conforms(self.shape_of(prop.params["qualifiedValueShape"][0]), "?_o")
                low = _int(prop.one("qualifiedMinCount"))
                if low:
                    counted = f"IF({is_p} && COALESCE({qualified}, false), ?_o, {_NONE})"
                    tests.append(f"COUNT(DISTINCT {counted}) - 1 < {low}")
                high = _int(prop.one("qualifiedMaxCount"))
                if high is not None:
                    tests.append(f"SUM(IF({is_p} && COALESCE({qualified}, true), 1, 0)) > {high}")
        if required:  # fewer distinct predicates than required
            tests.append(f"COUNT(DISTINCT IF({' || '.join(required)}, ?_p, {_NONE})) - 1 < {len(required)}")
        if single:  # more triples than distinct predicates: one of them has two values
            any_single = " || ".join(single)
            tests.append(f"SUM(IF({any_single}, 1, 0)) > COUNT(DISTINCT IF({any_single}, ?_p, {_NONE})) - 1")
        if bad_rows:
            tests.append(f"MAX(IF(COALESCE({' || '.join(bad_rows)}, true), 1, 0)) > 0")
        having = " || ".join(f"COALESCE({test}, true)" for test in tests) or "false"
        return (
            f"SELECT ?this WHERE {{ {self.focus(top)} OPTIONAL {{ ?this ?_p ?_o }} }} "
            f"GROUP BY ?this HAVING ({having})"
        )

    def shape_of(self, node: Term) -> Shape:
        return self.shapes.shape(node)

    def _flags(self, shape: Shape, names: list[str], var: str) -> tuple[str, str]:
        """BINDs of one failure flag per constraint (an error counts as no failure) and a FILTER on any."""
        binds = " ".join(
            f"BIND(COALESCE(!({self.value_ok(shape, name, var)}), false) AS ?_f{i})" for i, name in enumerate(names)
        )
        flags = " ".join(f"?_f{i}" for i in range(len(names)))
        return binds + f" FILTER({' || '.join(f'?_f{i}' for i in range(len(names)))})", flags

    # ---- "this value is fine" for one per-value parameter

    def value_ok(self, shape: Shape, name: str, var: str) -> str:
        parts = [
            self._value_ok(shape, name, value, var)
            for value in ([None] if name in shape.lists or name in ("flags",) else shape.params[name])
        ]
        return " && ".join(f"({p})" for p in parts)

    def _value_ok(self, shape: Shape, name: str, value: Term | None, var: str) -> str:
        if name == "class":
            assert value is not None
            classes = self.subclasses[value.value]
            if len(classes) == 1:
                return f"EXISTS {{ {var} {_RDF_TYPE} <{classes[0]}> }}"
            t = self.fresh()
            return f"EXISTS {{ VALUES {t} {{ {' '.join(f'<{c}>' for c in classes)} }} {var} {_RDF_TYPE} {t} }}"
        if name == "datatype":
            assert value is not None
            return _datatype_ok(value.value, var)
        if name == "nodeKind":
            assert value is not None
            return _node_kind_ok(value.value[len(SH) :], var)
        if name in ("minExclusive", "minInclusive", "maxExclusive", "maxInclusive"):
            op = {"minExclusive": ">", "minInclusive": ">=", "maxExclusive": "<", "maxInclusive": "<="}[name]
            return f"COALESCE({var} {op} {value}, false)"
        if name in ("minLength", "maxLength"):
            op = ">=" if name == "minLength" else "<="
            return f"!isBlank({var}) && STRLEN(STR({var})) {op} {_int(value)}"
        if name == "pattern":
            flags = shape.one("flags")
            flag_arg = f", {flags}" if flags is not None else ""
            return f"!isBlank({var}) && REGEX(STR({var}), {value}{flag_arg})"
        if name == "languageIn":
            tags = ", ".join(_string_literal(t.value.lower()) for t in shape.lists["languageIn"])
            if any(t.value == "*" for t in shape.lists["languageIn"]):
                return f'isLiteral({var}) && LANG({var}) != ""'
            return (
                f'isLiteral({var}) && LANG({var}) != "" && (LCASE(LANG({var})) IN ({tags}) || '
                f'LCASE(STRBEFORE(CONCAT(LANG({var}), "-"), "-")) IN ({tags}))'
            )
        if name == "in":
            members = shape.lists["in"]
            return " || ".join(f"sameTerm({var}, {m})" for m in members) or "false"
        if name == "node":
            assert value is not None
            return self.conforms(self.shape_of(value), var)
        if name == "not":
            assert value is not None
            return f"!({self.conforms(self.shape_of(value), var)})"
        members = [self.conforms(self.shape_of(m), var) for m in shape.lists[name]]
        if name == "and":
            return " && ".join(f"({m})" for m in members) or "true"
        if name == "or":
            return " || ".join(f"({m})" for m in members) or "false"
        if name == "xone":
            return "(" + " + ".join(f"IF({m}, 1, 0)" for m in members) + ") = 1" if members else "false"
        raise UnsupportedShapes(f"sh:{name}")

    # ---- "this node conforms to this (nested) shape"

    def conforms(self, shape: Shape, var: str, depth: int = 0) -> str:
        if depth > 16:
            raise UnsupportedShapes("shapes nested more than 16 levels (recursive shapes?)")
        parts: list[str] = []
        if shape.path is None:
            parts += [self.value_ok(shape, name, var) for name in _VALUE_PARAMS if name in shape.params]
            for prop in shape.properties:
                parts.append(self.conforms_property(prop, var, depth + 1))
        else:
            parts.append(self.conforms_property(shape, var, depth + 1))
        return " && ".join(f"({p})" for p in parts) or "true"

    def conforms_property(self, shape: Shape, var: str, depth: int) -> str:
        assert shape.path is not None
        path = shape.path.sparql()
        parts: list[str] = []
        for name in _VALUE_PARAMS:
            if name in shape.params:
                v = self.fresh()
                parts.append(f"NOT EXISTS {{ {var} {path} {v} FILTER(!({self.value_ok(shape, name, v)})) }}")
        min_count = _int(shape.one("minCount"))
        if min_count:
            found = [self.fresh() for _ in range(min_count)]
            distinct = " && ".join(f"!sameTerm({a}, {b})" for a, b in itertools.combinations(found, 2)) or "true"
            parts.append(f"EXISTS {{ {' '.join(f'{var} {path} {v} .' for v in found)} FILTER({distinct}) }}")
        max_count = _int(shape.one("maxCount"))
        if max_count is not None:
            found = [self.fresh() for _ in range(max_count + 1)]
            distinct = " && ".join(f"!sameTerm({a}, {b})" for a, b in itertools.combinations(found, 2)) or "true"
            parts.append(f"NOT EXISTS {{ {' '.join(f'{var} {path} {v} .' for v in found)} FILTER({distinct}) }}")
        has_value = shape.one("hasValue")
        if has_value is not None:
            parts.append(f"EXISTS {{ {var} {path} {has_value} }}")
        for name in (
            "uniqueLang",
            "qualifiedValueShape",
            "lessThan",
            "lessThanOrEquals",
            "equals",
            "disjoint",
        ):
            if name in shape.params:
                raise UnsupportedShapes(f"sh:{name} inside a nested shape")
        return " && ".join(f"({p})" for p in parts) or "true"


def _int(term: Term | None) -> int | None:
    return None if term is None else int(term.value)


def _string_literal(text: str) -> str:
    import pyoxigraph

    return str(pyoxigraph.Literal(text))


def _datatype_ok(datatype: str, var: str) -> str:
    if datatype == _RDF_LANGSTRING:
        return f'isLiteral({var}) && LANG({var}) != ""'
    if datatype == RDFS + "Literal":
        return f"isLiteral({var})"
    check = f"isLiteral({var}) && sameTerm(DATATYPE({var}), <{datatype}>)"
    if datatype in _CHECKED_DATATYPES:
        check += f" && COALESCE(<{datatype}>(STR({var})) = <{datatype}>(STR({var})), false)"
    return check


def _node_kind_ok(kind: str, var: str) -> str:
    tests = {
        "IRI": f"isIRI({var})",
        "BlankNode": f"isBlank({var})",
        "Literal": f"isLiteral({var})",
        "BlankNodeOrIRI": f"!isLiteral({var})",
        "BlankNodeOrLiteral": f"!isIRI({var})",
        "IRIOrLiteral": f"!isBlank({var})",
    }
    if kind not in tests:
        raise UnsupportedShapes(f"sh:nodeKind sh:{kind}")
    return tests[kind]


# ---------------------------------------------------------------- running


@dataclass
class Task:
    """A unit of work: the checks of some shapes of one top-level shape, after a screen when there is one."""

    top: Shape
    shapes: list[Shape]
    screen: str | None = None  # a query naming the suspect focus nodes; None: check every focus node
    weight: int = 0  # a size estimate: big tasks start first

    def run(self, store: pyoxigraph.Store, default: list[Any], compiler: Compiler) -> list[Violation]:
        import pyoxigraph

        restrict: list[Term] = []
        if self.screen is not None:
            suspects = [row["this"] for row in store.query(self.screen, default_graph=default)]  # type: ignore[union-attr,index]
            if not suspects:
                return []
            blank = any(isinstance(t, pyoxigraph.BlankNode) for t in suspects)  # VALUES cannot name them
            if len(suspects) <= SUSPECTS_LIMIT and not blank:
                restrict = suspects
        checks = [check for shape in self.shapes for check in compiler.checks(self.top, shape, restrict)]
        return _run_checks(store, default, checks)


def plan(shapes: ShapesGraph, compiler: Compiler, *, screen: bool = True) -> list[Task]:
    """The tasks of a validation: per top-level shape, one screened task for its simple property shapes
    (``screen``) and one task per other shape (the top-level shape's own constraints, complex paths)."""
    tasks: list[Task] = []
    for top in shapes.top_level():
        if not top.params:  # deactivated
            continue
        tasks.append(Task(top, [top]))
        properties = [prop for prop in top.properties if prop.params]
        screened = [prop for prop in properties if screen and compiler.screenable(prop)]
        tasks += [Task(top, [prop]) for prop in properties if prop not in screened]
        if screened:
            tasks.append(Task(top, screened, compiler.screen(top, screened)))
    return tasks


def _weigh(tasks: Sequence[Task], store: pyoxigraph.Store, compiler: Compiler) -> None:
    """Set each task's weight: its focus nodes of class targets, times the checks it may run."""
    import pyoxigraph

    rdf_type = pyoxigraph.NamedNode(RDF + "type")
    sizes: dict[str, int] = {}
    for task in tasks:
        foci = 0
        for kind, target in task.top.targets:
            if kind == "targetClass":
                for cls in compiler.subclasses[target.value]:
                    if cls not in sizes:
                        sizes[cls] = sum(1 for _ in store.quads_for_pattern(None, rdf_type, pyoxigraph.NamedNode(cls)))
                    foci += sizes[cls]
        task.weight = foci * (3 if task.screen is not None else len(task.shapes))


def _classes_used(shapes: ShapesGraph) -> set[str]:
    import pyoxigraph

    found: set[str] = set()
    for name in ("targetClass", "class"):
        for quad in shapes.store.quads_for_pattern(None, pyoxigraph.NamedNode(SH + name), None):
            found.add(str(getattr(quad.object, "value", "")))
    return found


def _subclasses(
    store: pyoxigraph.Store, graphs: Sequence[pyoxigraph.NamedNode], classes: set[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cls in sorted(classes):
        rows = store.query(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS}subClassOf>* <{cls}> }}", default_graph=list(graphs))
        found[cls] = sorted({row["c"].value for row in rows if hasattr(row["c"], "value")} | {cls})  # type: ignore[union-attr,index]
    return found


def term_text(term: Term) -> str:
    """The report's text for a term (see :mod:`citygraph.validate`): IRI bare, ``_:id``, N-Triples literal."""
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return term.value
    return str(term)


def validate_store(
    store: pyoxigraph.Store,
    graphs: Sequence[str],
    shapes: ShapesGraph,
    *,
    processes: int = 1,
    screen: bool = True,
) -> list[Violation]:
    """Run every check on the union of ``graphs`` of ``store``.

    ``screen``: first find, with one query per top-level shape, the focus nodes that may break one of its
    simple property shapes, then run their detailed checks on those nodes only (the same results, far fewer
    reads on a large graph that mostly conforms). ``processes > 1`` (Linux): forked children, which read the
    parent's in-memory store copy-on-write (pyoxigraph queries scale with processes, not threads), take the
    tasks one at a time, biggest first.
    """
    import pyoxigraph

    default: list[Any] = [pyoxigraph.NamedNode(g) for g in graphs]
    compiler = Compiler(shapes, _subclasses(store, default, _classes_used(shapes)))
    tasks = plan(shapes, compiler, screen=screen)
    _weigh(tasks, store, compiler)
    tasks.sort(key=lambda task: -task.weight)
    if processes > 1 and hasattr(os, "fork") and len(tasks) > 1:
        return _run_forked(store, default, compiler, tasks, processes)
    return [v for task in tasks for v in task.run(store, default, compiler)]


def _run_checks(store: pyoxigraph.Store, default: list[Any], checks: Sequence[Check]) -> list[Violation]:
    from .validate import Violation

    results: list[Violation] = []
    for check in checks:
        shape = check.shape
        for row in store.query(check.query, default_graph=default):  # type: ignore[union-attr]
            value = row["value"] if check.has_value else None
            for component in check.failed(row):
                results.append(
                    Violation(
                        focus=term_text(row["this"]),
                        path=shape.path.text() if shape.path is not None else None,
                        value=None if value is None else term_text(value),
                        messages=dict(shape.messages),
                        severity=shape.severity,
                        source_shape=term_text(shape.node),
                        constraint=component,
                    )
                )
    return results


def _run_forked(
    store: pyoxigraph.Store, default: list[Any], compiler: Compiler, tasks: Sequence[Task], processes: int
) -> list[Violation]:
    """Forked children take the tasks in order from a shared counter; each sends back its violations by
    task through a pipe. The result is in task order whichever child ran what."""
    import multiprocessing
    import pickle

    counter = multiprocessing.get_context("fork").Value("i", 0)
    children: list[tuple[int, int]] = []
    for _ in range(processes):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run tasks until none is left, write the pickled results, leave at once
            os.close(read_end)
            status = 0
            try:
                done: dict[int, list[Violation]] = {}
                while True:
                    with counter.get_lock():
                        index = counter.value
                        counter.value += 1
                    if index >= len(tasks):
                        break
                    done[index] = tasks[index].run(store, default, compiler)
                with os.fdopen(write_end, "wb") as out:
                    out.write(pickle.dumps(done))
            except BaseException:  # a forked child must never return into the caller: exit, the parent retries
                status = 1
            os._exit(status)
        os.close(write_end)
        children.append((pid, read_end))
    found: dict[int, list[Violation]] = {}
    failed = False
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as source:
            data = source.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            failed = True
            continue
        found.update(pickle.loads(data))
    if failed or len(found) != len(tasks):  # a child died (memory, signal): run everything here
        return [v for task in tasks for v in task.run(store, default, compiler)]
    return [v for index in range(len(tasks)) for v in found[index]]


def run_sparql(graph: LoadedGraph, shapes: Path) -> list[Violation]:
    """The ``sparql`` engine of :func:`citygraph.validate.validate_graph` (data + ontology, as pyshacl)."""
    return validate_store(
        graph.store,
        [graph.data_graph, graph.ontology_graph],
        ShapesGraph.from_file(shapes, base=graph.base),
        processes=2 if graph.triple_count() > PARALLEL_THRESHOLD else 1,
    )


PARALLEL_THRESHOLD = 200_000  # data triples above which the checks run in two processes


AUTO_THRESHOLD = 5_000  # data triples above which ``auto`` picks this engine (pyshacl: ~2.5 s at 5k, 6 s at 14k)


def choose_engine(graph: LoadedGraph, shapes: Path) -> str:
    """What ``auto`` runs: ``pyshacl`` (the reference) up to ``AUTO_THRESHOLD`` data triples, ``sparql``
    above, unless the shapes use something this engine does not compile (then ``pyshacl`` whatever the size)."""
    if graph.triple_count() <= AUTO_THRESHOLD:
        return "pyshacl"
    try:
        shapes_graph = ShapesGraph.from_file(shapes, base=graph.base)
        compiler = Compiler(shapes_graph, {cls: [cls] for cls in _classes_used(shapes_graph)})
        for task in plan(shapes_graph, compiler):
            for shape in task.shapes:
                list(compiler.checks(task.top, shape))
    except UnsupportedShapes:
        return "pyshacl"
    return "sparql"
