"""A streaming writer of compact JSON-LD 1.1, driven by a JSON-LD context.

rdflib and pyld compact a whole graph in memory and take tens of seconds at a million triples; this writer
reads N-Triples lines grouped by subject (sorted N-Triples, as pyoxigraph writes them) and writes one node
object per subject, one per line, using the context's terms:

- ``"@type": "@id"`` terms take IRIs as plain strings;
- ``"@container": "@language"`` terms take language-tagged strings as a language map (``{"fr": …, "en": …}``);
- ``"@type": DATATYPE`` terms take literals of that datatype as plain strings;
- terms without coercion take plain strings, canonical integers and booleans as JSON values, anything else
  as a value object.

A value that does not fit its predicate's term (or a predicate without a term) is written under the compact
IRI (``prefix:local``) or the absolute IRI, in expanded form, so nothing is lost. Expanding the output with
any JSON-LD processor gives back exactly the input triples (tests prove it with pyld and rdflib).

The JSON is built from the N-Triples bytes without parsing them into terms: an N-Triples IRI is valid JSON
string content, and a quoted N-Triples literal (oxigraph escapes only ``\\ " \\t \\b \\n \\r \\f`` and
other control characters as ``\\uXXXX``) is a JSON string literal; only literals holding a ``\\u``/``\\U``
escape are decoded and re-encoded, so the bytes are exactly those of ``json.dumps(…, ensure_ascii=False)``.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import groupby, repeat
from operator import itemgetter
from typing import IO, TYPE_CHECKING, Any

from .namespaces import RDF, XSD

if TYPE_CHECKING:
    import pyoxigraph

_RDF_TYPE = RDF + "type"
_XSD_STRING = XSD + "string"
_INTEGER_SUFFIX = f"^^<{XSD}integer>".encode()
_BOOLEAN_SUFFIX = f"^^<{XSD}boolean>".encode()
_CANONICAL_INTEGER = re.compile(rb"-?(0|[1-9][0-9]{0,17})")
_NT_ESCAPE = re.compile(r"\\(u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)", re.DOTALL)
_NT_SIMPLE = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
_PREFIX_END = ("/", "#", ":", "?", "[", "]", "@")
_FLUSH_EVERY = 4096  # nodes buffered between two writes

# What a predicate's values become (see ``_Predicate``).
_PLAIN, _LANGUAGE_MAP, _ID, _DATATYPE = range(4)


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


def _json_text(value: str) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _unescape(match: re.Match[str]) -> str:
    escape = match[1]
    if len(escape) > 1:
        return chr(int(escape[1:], 16))
    return _NT_SIMPLE.get(escape, "\\" + escape)


def _predicate_rule(context: Context, iri: str) -> tuple[bool, int, str, str, bytes]:
    """How one predicate's values are written: (is rdf:type, mode, key, key for values that do not fit the
    term, the ``^^<datatype>`` suffix a ``_DATATYPE`` term takes)."""
    fallback = context.compact_iri(iri)
    term = context.by_iri.get(iri)
    if term is None:
        return iri == _RDF_TYPE, _PLAIN, fallback, fallback, b""
    if term.language_map:
        mode = _LANGUAGE_MAP
    elif term.coercion == "@id":
        mode = _ID
    elif term.coercion is not None:
        # N-Triples writes xsd:string literals bare, every other datatype as ^^<IRI>.
        suffix = b"" if term.coercion == _XSD_STRING else f"^^<{term.coercion}>".encode()
        return iri == _RDF_TYPE, _DATATYPE, term.key, fallback, suffix
    else:
        mode = _PLAIN
    return iri == _RDF_TYPE, mode, term.key, fallback, b""


def _list(values: list[bytes]) -> bytes:
    return values[0] if len(values) == 1 else b"[" + b",".join(values) + b"]"


@dataclass
class Figures:
    """What a write went through, in N-Triples form (counted on the way: a VoID description needs them).

    ``subjects`` counts node objects: distinct subjects, since the lines come grouped by subject.
    """

    triples: int = 0
    subjects: int = 0
    iri_subjects: int = 0
    predicates: set[bytes] = field(default_factory=set)
    objects: set[bytes] = field(default_factory=set)  # each with its line's " .\n"
    type_objects: set[bytes] = field(default_factory=set)  # objects of rdf:type, likewise


class NodeEncoder:
    """Turns the N-Triples lines of one subject into the bytes of its compact node object."""

    def __init__(self, context: Context) -> None:
        self._context = context
        self.figures = Figures()
        self._rules: dict[bytes, tuple[bool, int, str, str, bytes]] = {}
        self._keys: dict[str, bytes] = {}
        self._types: dict[bytes, bytes] = {}
        self._datatypes: dict[bytes, bytes] = {}
        self._objects_add = self.figures.objects.add

    def _rule(self, predicate: bytes) -> tuple[bool, int, str, str, bytes]:
        rule = self._rules[predicate] = _predicate_rule(self._context, predicate[1:-1].decode("utf-8"))
        self.figures.predicates.add(predicate)
        for key in rule[2:4]:
            self._keys.setdefault(key, _json_text(key))
        return rule

    def _type(self, iri: bytes) -> bytes:
        found = self._types[iri] = _json_text(self._context.type_name(iri.decode("utf-8")))
        return found

    @staticmethod
    def _unescaped(quoted: bytes) -> bytes:
        """A quoted N-Triples literal holding a backslash as the JSON string ``json.dumps`` writes."""
        if b"\\u" not in quoted and b"\\U" not in quoted:
            return quoted
        return _json_text(_NT_ESCAPE.sub(_unescape, quoted[1:-1].decode("utf-8")))

    def _plain_literal(self, text: bytes, suffix: bytes) -> bytes:
        """A literal (``text``: its JSON string; ``suffix``: ``@lang`` or ``^^<datatype>``, not empty) under a
        key without coercion: a JSON number or boolean where exact, else a value object."""
        if suffix[0] == 64:  # "@": a language tag
            return b'{"@value":' + text + b',"@language":"' + suffix[1:] + b'"}'
        lexical = text[1:-1]
        if suffix == _INTEGER_SUFFIX and _CANONICAL_INTEGER.fullmatch(lexical):
            return b"0" if lexical == b"-0" else lexical
        if suffix == _BOOLEAN_SUFFIX and lexical in (b"true", b"false"):
            return lexical
        datatype = self._datatypes.get(suffix)
        if datatype is None:
            datatype = self._datatypes[suffix] = _json_text(self._context.compact_iri(suffix[3:-1].decode()))
        return b'{"@value":' + text + b',"@type":' + datatype + b"}"

    def encode(self, subject: bytes, statements: Iterable[list[bytes]]) -> bytes:
        """The node object of ``subject`` from its ``[subject, predicate, "object .\\n"]`` triples."""
        rules = self._rules
        seen = self._objects_add
        types: list[bytes] = []
        values: defaultdict[str, list[Any]] = defaultdict(list)
        count = 0
        for _, predicate, rest in statements:
            count += 1
            seen(rest)
            is_type, mode, key, fallback, datatype_suffix = rules.get(predicate) or self._rule(predicate)
            if is_type:
                self.figures.type_objects.add(rest)
            if rest[0] == 34:  # '"': a literal, then "", "@lang" or "^^<datatype>", then " .\n"
                end = rest.rfind(b'"') + 1
                text = rest[:end] if b"\\" not in rest else self._unescaped(rest[:end])
                suffix = rest[end:-3]
                if mode == _LANGUAGE_MAP:
                    if suffix[:1] == b"@":
                        values[key].append((suffix[1:], text))
                        continue
                elif mode == _DATATYPE:
                    if suffix == datatype_suffix:
                        values[key].append(text)
                        continue
                elif mode == _PLAIN:
                    values[key].append(self._plain_literal(text, suffix) if suffix else text)
                    continue
                values[fallback].append(self._plain_literal(text, suffix) if suffix else text)
                continue
            # an IRI "<…> .\n" or a blank node "_:id .\n"
            ref = rest[1:-4] if rest[0] == 60 else rest[:-3]
            if is_type and rest[0] == 60:
                types.append(self._types.get(ref) or self._type(ref))
            elif mode == _ID:
                values[key].append(b'"' + ref + b'"')
            else:
                values[fallback if mode != _PLAIN else key].append(b'{"@id":"' + ref + b'"}')
        self.figures.triples += count
        parts = [b'{"@id":"', subject[1:-1] if subject[0] == 60 else subject, b'"']
        if types:
            parts += [b',"@type":', _list(types)]
        keys = self._keys
        for key in sorted(values):
            found = values[key]
            parts += [b",", keys[key], b":"]
            if isinstance(found[0], tuple):  # a language map: (language, text) pairs
                found.sort(key=itemgetter(0))  # stable: each language's texts keep their order
                parts.append(b"{" + b",".join(
                    b'"' + language + b'":' + _list([text for _, text in texts])
                    for language, texts in groupby(found, itemgetter(0))) + b"}")
            else:
                parts.append(_list(found))
        parts.append(b"}")
        return b"".join(parts)


def document_start(context: Context, *, embed_context: bool = True, context_iri: str | None = None) -> bytes:
    """``{"@context": …, "@graph": [``: the whole context object with ``embed_context`` (the document reads
    offline), else a reference to ``context_iri``."""
    if embed_context:
        header = json.dumps(context.document["@context"], ensure_ascii=False, indent=2)
        header = header.replace("\n", "\n  ")
    else:
        if not context_iri:
            raise ValueError("context_iri is needed when the context is not embedded")
        header = json.dumps(context_iri)
    return ('{\n  "@context": ' + header + ',\n  "@graph": [').encode("utf-8")


DOCUMENT_END = b"\n  ]\n}\n"


def write_nodes(out: IO[bytes], context: Context, lines: Iterable[bytes]) -> Figures:
    """Write the node objects of N-Triples ``lines`` (as pyoxigraph writes them, grouped by subject), one per
    line, each after ``"\\n    "`` and separated by commas: the ``@graph`` array's content, or a run of it (join
    runs with a comma). Returns what it went through.
    """
    encoder = NodeEncoder(context)
    encode, figures = encoder.encode, encoder.figures
    separator = b"\n    "
    pending: list[bytes] = []
    statements: Iterator[list[bytes]] = map(bytes.split, lines, repeat(b" "), repeat(2))
    subjects = iri_subjects = 0
    for subject, group in groupby(statements, itemgetter(0)):
        pending += [separator, encode(subject, group)]
        separator = b",\n    "
        subjects += 1
        iri_subjects += subject[0] == 60
        if len(pending) >= _FLUSH_EVERY:
            out.write(b"".join(pending))
            pending.clear()
    out.write(b"".join(pending))
    figures.subjects, figures.iri_subjects = subjects, iri_subjects
    return figures


def write_ntriples(out: IO[bytes], context: Context, lines: Iterable[bytes], *, embed_context: bool = True,
                   context_iri: str | None = None) -> Figures:
    """Write the compact document ``{"@context": …, "@graph": [one node per line]}`` of N-Triples ``lines``
    (see ``write_nodes`` and ``document_start``). Returns what it went through."""
    out.write(document_start(context, embed_context=embed_context, context_iri=context_iri))
    figures = write_nodes(out, context, lines)
    out.write(DOCUMENT_END)
    return figures


def write(out: IO[str], context: Context, triples: Iterable[pyoxigraph.Triple], *, embed_context: bool = True,
          context_iri: str | None = None) -> None:
    """Write the compact document of pyoxigraph ``triples`` (grouped by subject) to the text stream ``out``."""
    import io

    import pyoxigraph

    payload = pyoxigraph.serialize(triples, format=pyoxigraph.RdfFormat.N_TRIPLES) or b""
    buffer = io.BytesIO()
    write_ntriples(buffer, context, payload.splitlines(keepends=True), embed_context=embed_context,
                   context_iri=context_iri)
    out.write(buffer.getvalue().decode("utf-8"))
