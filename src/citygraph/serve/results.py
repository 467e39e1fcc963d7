"""Serialize SELECT/ASK results with a row cap: SPARQL JSON, XML, CSV and TSV.

pyoxigraph's own serializers write a whole result; the endpoint must stop at ``max_rows``, so solutions are
written here from the rows actually taken. Runs inside the query worker processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from ..formats import RESULT_ALIASES as RESULT_ALIASES  # re-exported: the workers pick formats from it
from ..sparql_json import term_to_json

XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

# White space as character references: an XML parser normalizes raw CR and CR LF to LF, and some trim it.
_XML_TEXT = {"\n": "&#10;", "\r": "&#13;", "\t": "&#9;"}


def _text(value: str) -> str:
    return escape(value, _XML_TEXT)


_JSON_FRAGMENTS: dict[Any, str] = {}
_JSON_FRAGMENTS_MAX = 200_000  # terms of an immutable graph: remembered once encoded, up to this many


def _json_fragment(term: Any) -> str:
    """``term`` as compact SPARQL JSON text (pyoxigraph terms are hashable and compare lexically)."""
    fragment = _JSON_FRAGMENTS.get(term)
    if fragment is None:
        fragment = json.dumps(term_to_json(term), ensure_ascii=False, separators=(",", ":"))
        if len(_JSON_FRAGMENTS) < _JSON_FRAGMENTS_MAX:
            _JSON_FRAGMENTS[term] = fragment
    return fragment


def _xml_term(term: Any) -> str:
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return f"<uri>{_text(term.value)}</uri>"
    if isinstance(term, pyoxigraph.BlankNode):
        return f"<bnode>{_text(term.value)}</bnode>"
    if isinstance(term, pyoxigraph.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{_text(term.value)}</literal>"
        if term.datatype.value != XSD_STRING:
            return f"<literal datatype={quoteattr(term.datatype.value)}>{_text(term.value)}</literal>"
        return f"<literal>{_text(term.value)}</literal>"
    return (
        f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}"
        f"</predicate><object>{_xml_term(term.object)}</object></triple>"
    )


def _csv_field(term: Any) -> str:
    import pyoxigraph

    if term is None:
        return ""
    if isinstance(term, pyoxigraph.BlankNode):
        value = "_:" + term.value
    elif isinstance(term, pyoxigraph.NamedNode | pyoxigraph.Literal):
        value = term.value
    else:
        value = str(term)
    if any(c in value for c in ',"\r\n'):
        value = '"' + value.replace('"', '""') + '"'
    return value


def solutions(fmt: str, variables: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """SELECT results in ``fmt`` (json, xml, csv, tsv); each row lists terms (or None) in variable order."""
    if fmt == "json":  # the bytes of json.dumps(…, ensure_ascii=False, separators=(",", ":")), built faster
        names = [json.dumps(v, ensure_ascii=False) for v in variables]
        keys = [name + ":" for name in names]
        known = _JSON_FRAGMENTS.get
        bindings = [
            "{"
            + ",".join(
                [key + (known(t) or _json_fragment(t)) for key, t in zip(keys, row, strict=True) if t is not None]
            )
            + "}"
            for row in rows
        ]
        text = '{"head":{"vars":[' + ",".join(names) + ']},"results":{"bindings":[' + ",".join(bindings) + "]}}"
        return text.encode("utf-8")
    if fmt == "xml":
        parts = ['<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head>']
        parts += [f"<variable name={quoteattr(v)}/>" for v in variables]
        parts.append("</head><results>")
        for row in rows:
            parts.append("<result>")
            parts += [
                f"<binding name={quoteattr(v)}>{_xml_term(t)}</binding>"
                for v, t in zip(variables, row, strict=True)
                if t is not None
            ]
            parts.append("</result>")
        parts.append("</results></sparql>\n")
        return "".join(parts).encode("utf-8")
    if fmt == "csv":
        lines = [",".join(variables)] + [",".join(_csv_field(t) for t in row) for row in rows]
        return ("\r\n".join(lines) + "\r\n").encode("utf-8")
    if fmt == "tsv":
        lines = ["\t".join("?" + v for v in variables)]
        lines += ["\t".join("" if t is None else str(t) for t in row) for row in rows]
        return ("\n".join(lines) + "\n").encode("utf-8")
    raise ValueError(fmt)


def boolean(fmt: str, value: bool) -> bytes:
    """An ASK result in ``fmt`` (CSV and TSV get the bare word, as Oxigraph and Jena write it)."""
    word = "true" if value else "false"
    if fmt == "json":
        return b'{"head":{},"boolean":' + word.encode() + b"}"
    if fmt == "xml":
        return (
            f'<?xml version="1.0"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#"><head/>'
            f"<boolean>{word}</boolean></sparql>\n"
        ).encode()
    return word.encode() + b"\n"
