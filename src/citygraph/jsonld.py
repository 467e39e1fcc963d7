"""A streaming writer of compact JSON-LD 1.1, driven by a JSON-LD context.

rdflib and pyld compact a whole graph in memory and take tens of seconds at a million triples; this writer
reads triples already grouped by subject (sorted N-Triples, parsed by pyoxigraph) and writes one node object
per subject, one per line, using the context's terms:

- ``"@type": "@id"`` terms take IRIs as plain strings;
- ``"@container": "@language"`` terms take language-tagged strings as a language map (``{"fr": …, "en": …}``);
- ``"@type": DATATYPE`` terms take literals of that datatype as plain strings;
- terms without coercion take plain strings, canonical integers and booleans as JSON values, anything else
  as a value object.

A value that does not fit its predicate's term (or a predicate without a term) is written under the compact
IRI (``prefix:local``) or the absolute IRI, in expanded form, so nothing is lost. Expanding the output with
any JSON-LD processor gives back exactly the input triples (tests prove it with pyld and rdflib).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from .namespaces import RDF, XSD

if TYPE_CHECKING:
    import pyoxigraph

_RDF_TYPE = RDF + "type"
_XSD_STRING = XSD + "string"
_XSD_INTEGER = XSD + "integer"
_XSD_BOOLEAN = XSD + "boolean"
_CANONICAL_INTEGER = re.compile(r"-?(0|[1-9][0-9]{0,17})")
_PREFIX_END = ("/", "#", ":", "?", "[", "]", "@")


@dataclass(frozen=True)
class Term:
    """One term of the context, as far as writing values goes."""

    key: str
    iri: str
    coercion: str | None  # "@id", a datatype IRI, or None
    language_map: bool


class Context:
    """The terms and prefixes of a JSON-LD context, indexed by IRI for writing."""

    def __init__(self, document: dict[str, Any]) -> None:
        raw = document.get("@context", document)
        if not isinstance(raw, dict):
            raise ValueError("the JSON-LD context must be an object")
        self.document: dict[str, Any] = {"@context": raw}
        self.prefixes: dict[str, str] = {}
        definitions: dict[str, str | dict[str, Any]] = {k: v for k, v in raw.items() if not k.startswith("@")}
        for key, value in definitions.items():
            if isinstance(value, str) and ":" not in key and value.endswith(_PREFIX_END):
                self.prefixes[key] = value
        self.by_iri: dict[str, Term] = {}
        self.type_terms: dict[str, str] = {}
        for key, value in definitions.items():
            if key in self.prefixes:
                continue
            if isinstance(value, str):
                iri, coercion, language_map = self.expand(value), None, False
            else:
                iri = self.expand(str(value.get("@id", key)))
                raw_type = value.get("@type")
                coercion = raw_type if raw_type in (None, "@id") else self.expand(raw_type)
                language_map = value.get("@container") == "@language"
            self.by_iri.setdefault(iri, Term(key, iri, coercion, language_map))
            self.type_terms.setdefault(iri, key)
        self._compact_cache: dict[str, str] = {}

    def expand(self, value: str) -> str:
        """A compact IRI (``cgo:siren``) to its absolute IRI; anything else unchanged."""
        prefix, sep, local = value.partition(":")
        if sep and not local.startswith("//") and prefix in self.prefixes:
            return self.prefixes[prefix] + local
        return value

    def compact_iri(self, iri: str) -> str:
        """``prefix:local`` with the longest matching prefix, else the IRI itself (never a bare term)."""
        cached = self._compact_cache.get(iri)
        if cached is not None:
            return cached
        best = iri
        best_len = 0
        for prefix, namespace in self.prefixes.items():
            if iri.startswith(namespace) and len(namespace) > best_len:
                local = iri[len(namespace) :]
                if local and not local.startswith("//"):
                    best, best_len = f"{prefix}:{local}", len(namespace)
        self._compact_cache[iri] = best
        return best

    def type_name(self, iri: str) -> str:
        """A class IRI as a term (``LocalAuthority``), a compact IRI, or the IRI."""
        return self.type_terms.get(iri) or self.compact_iri(iri)


def _node_ref(term: Any) -> str:
    import pyoxigraph

    return "_:" + term.value if isinstance(term, pyoxigraph.BlankNode) else str(term.value)


def _plain_value(context: Context, term: Any) -> Any:
    """A value under a key without coercion: JSON scalar where exact, else a value or node object."""
    import pyoxigraph

    if not isinstance(term, pyoxigraph.Literal):
        return {"@id": _node_ref(term)}
    if term.language:
        return {"@value": term.value, "@language": term.language}
    datatype = term.datatype.value
    if datatype == _XSD_STRING:
        return term.value
    if datatype == _XSD_INTEGER and _CANONICAL_INTEGER.fullmatch(term.value):
        return int(term.value)
    if datatype == _XSD_BOOLEAN and term.value in ("true", "false"):
        return term.value == "true"
    return {"@value": term.value, "@type": context.compact_iri(datatype)}


def node_object(context: Context, subject: Any, pairs: Iterable[tuple[Any, Any]]) -> dict[str, Any]:
    """The compact node object of one subject from its (predicate, object) pairs."""
    import pyoxigraph

    literal_type, named_type = pyoxigraph.Literal, pyoxigraph.NamedNode
    by_iri = context.by_iri
    node: dict[str, Any] = {"@id": _node_ref(subject)}
    types: list[str] = []
    values: dict[str, Any] = {}
    for predicate, obj in pairs:
        p = predicate.value
        is_literal = isinstance(obj, literal_type)
        if p == _RDF_TYPE and isinstance(obj, named_type):
            types.append(context.type_name(obj.value))
            continue
        term = by_iri.get(p)
        if term is not None:
            if term.language_map:
                if is_literal and obj.language:
                    values.setdefault(term.key, {}).setdefault(obj.language, []).append(obj.value)
                    continue
            elif term.coercion == "@id":
                if not is_literal:
                    values.setdefault(term.key, []).append(_node_ref(obj))
                    continue
            elif term.coercion is not None:
                if is_literal and not obj.language and obj.datatype.value == term.coercion:
                    values.setdefault(term.key, []).append(obj.value)
                    continue
            else:
                values.setdefault(term.key, []).append(_plain_value(context, obj))
                continue
        values.setdefault(context.compact_iri(p), []).append(_plain_value(context, obj))
    if types:
        node["@type"] = types[0] if len(types) == 1 else types
    for key in sorted(values):
        value = values[key]
        if isinstance(value, dict):  # a language map
            node[key] = {lang: (v[0] if len(v) == 1 else v) for lang, v in sorted(value.items())}
        else:
            node[key] = value[0] if len(value) == 1 else value
    return node


class GraphWriter:
    """Writes ``{"@context": …, "@graph": [one node per line]}`` from triples pushed one by one.

    Triples must come grouped by subject (as sorted N-Triples give them). With ``embed_context`` the whole
    context object is embedded (the document reads offline); otherwise ``context_iri`` is referenced.
    """

    def __init__(self, out: IO[str], context: Context, *, embed_context: bool = True,
                 context_iri: str | None = None) -> None:
        self._out = out
        self._context = context
        self._subject: Any = None
        self._pairs: list[tuple[Any, Any]] = []
        self._first = True
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
        if embed_context:
            header = json.dumps(context.document["@context"], ensure_ascii=False, indent=2)
            header = header.replace("\n", "\n  ")
        else:
            if not context_iri:
                raise ValueError("context_iri is needed when the context is not embedded")
            header = json.dumps(context_iri)
        out.write('{\n  "@context": ' + header + ',\n  "@graph": [')

    def add(self, triple: pyoxigraph.Triple) -> None:
        subject = triple.subject
        if subject != self._subject:
            self._flush()
            self._subject = subject
        self._pairs.append((triple.predicate, triple.object))

    def tee(self, triples: Iterable[pyoxigraph.Triple]) -> Iterator[pyoxigraph.Triple]:
        """Pass the triples on (e.g. to another serializer) while writing them here."""
        for triple in triples:
            self.add(triple)
            yield triple

    def _flush(self) -> None:
        if self._subject is None:
            return
        node = node_object(self._context, self._subject, self._pairs)
        self._out.write("\n    " if self._first else ",\n    ")
        self._out.write(self._encode(node))
        self._first = False
        self._subject, self._pairs = None, []

    def close(self) -> None:
        self._flush()
        self._out.write("\n  ]\n}\n")


def write(out: IO[str], context: Context, triples: Iterable[pyoxigraph.Triple], *, embed_context: bool = True,
          context_iri: str | None = None) -> None:
    """Write the compact document of ``triples`` (grouped by subject) to ``out``."""
    writer = GraphWriter(out, context, embed_context=embed_context, context_iri=context_iri)
    for triple in triples:
        writer.add(triple)
    writer.close()
