"""The SHACL shapes graph read into a small model: shapes, their parameters and paths (for :mod:`.shacl_sparql`).

Only SHACL Core is read; any other ``sh:`` parameter raises :class:`UnsupportedShapes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .namespaces import RDF, RDFS, SH

if TYPE_CHECKING:
    import pyoxigraph

# A pyoxigraph term of the shapes or data graph (NamedNode, BlankNode, Literal); Any: the stubs' unions are
# narrower than what quads_for_pattern and query solutions hand back.
Term = Any

# Components evaluated per value node: a boolean "the value is fine" expression (see .shacl_compile).
VALUE_PARAMS = (
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
    *VALUE_PARAMS,
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
        """The report's text (the convention of :mod:`citygraph.violation`): a predicate bare at top level."""
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

