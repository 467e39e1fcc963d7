"""SHACL Core constraints compiled to SPARQL: one SELECT per constraint, boolean expressions for nested shapes.

Each check binds ``?this`` (the focus node) and, for per-value constraints, ``?value``; the screen is one
aggregate query per top-level shape naming the focus nodes that may fail. Running them: :mod:`.shacl_sparql`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from .namespaces import RDF, RDFS, SH, XSD
from .shacl_shapes import VALUE_PARAMS, Shape, ShapesGraph, Term, UnsupportedShapes

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
# Datatypes whose lexical form is checked (ill-typed literals fail sh:datatype, as in pyshacl).
_CHECKED_DATATYPES = {
    XSD + name for name in ("integer", "decimal", "double", "float", "boolean", "date", "dateTime", "time")
}
_RDF_TYPE = f"<{RDF}type>"
_RDF_LANGSTRING = RDF + "langString"


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
        names = [name for name in VALUE_PARAMS if name in shape.params]
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
            names = [name for name in VALUE_PARAMS if name in prop.params]
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
            parts += [self.value_ok(shape, name, var) for name in VALUE_PARAMS if name in shape.params]
            for prop in shape.properties:
                parts.append(self.conforms_property(prop, var, depth + 1))
        else:
            parts.append(self.conforms_property(shape, var, depth + 1))
        return " && ".join(f"({p})" for p in parts) or "true"

    def conforms_property(self, shape: Shape, var: str, depth: int) -> str:
        assert shape.path is not None
        path = shape.path.sparql()
        parts: list[str] = []
        for name in VALUE_PARAMS:
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
