"""RDF terms to and from SPARQL 1.1 Query Results JSON values: the one converter every part uses.

``{"type": "uri" | "bnode" | "literal" | "triple", "value": …}`` with ``xml:lang`` or ``datatype`` on
literals (``xsd:string`` is left implicit, as the format recommends; ``typed-literal``, from SPARQL 1.0
era endpoints, is read too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    import pyoxigraph

    Term: TypeAlias = pyoxigraph.NamedNode | pyoxigraph.BlankNode | pyoxigraph.Literal | pyoxigraph.Triple

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def term_to_json(term: Term) -> dict[str, Any]:
    """A pyoxigraph term as a SPARQL JSON results value."""
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, pyoxigraph.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, pyoxigraph.Literal):
        out: dict[str, Any] = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != XSD_STRING:
            out["datatype"] = term.datatype.value
        return out
    return {
        "type": "triple",
        "value": {
            "subject": term_to_json(term.subject),
            "predicate": term_to_json(term.predicate),
            "object": term_to_json(term.object),
        },
    }


def term_from_json(value: Mapping[str, Any]) -> Term:
    """The pyoxigraph term of a SPARQL JSON results value; ValueError (or KeyError) if it is malformed."""
    import pyoxigraph

    kind = value["type"]
    if kind == "uri":
        return pyoxigraph.NamedNode(value["value"])
    if kind == "bnode":
        return pyoxigraph.BlankNode(value["value"])
    if kind in ("literal", "typed-literal"):
        if "xml:lang" in value:
            return pyoxigraph.Literal(value["value"], language=value["xml:lang"])
        if "datatype" in value:
            return pyoxigraph.Literal(value["value"], datatype=pyoxigraph.NamedNode(value["datatype"]))
        return pyoxigraph.Literal(value["value"])
    if kind == "triple":
        inner = value["value"]
        subject = term_from_json(inner["subject"])
        predicate = term_from_json(inner["predicate"])
        if not isinstance(predicate, pyoxigraph.NamedNode) or isinstance(
            subject, pyoxigraph.Literal | pyoxigraph.Triple
        ):
            raise ValueError("malformed quoted triple")
        return pyoxigraph.Triple(subject, predicate, term_from_json(inner["object"]))
    raise ValueError(f"unknown term type {kind!r}")
