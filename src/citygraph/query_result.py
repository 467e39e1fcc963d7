"""The result of a named query (SELECT rows or an ASK answer) and its renderings: table, CSV, TSV, JSON."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import InputError, RemoteError
from .named_query import id_base
from .namespaces import PREFIXES
from .sparql_json import term_from_json, term_to_json

if TYPE_CHECKING:
    from .sparql_json import Term


@dataclass
class QueryResult:
    """Rows of a SELECT (variables in order, a tuple of terms per row, None if unbound), or an ASK answer."""

    variables: list[str]
    rows: list[tuple[Term | None, ...]] = field(default_factory=list)
    boolean: bool | None = None  # the answer of an ASK query (then variables and rows are empty)
    base: str | None = None  # the data's IRI base, used to shorten IRIs in to_table()
    truncated: bool = False  # a server's row cap cut the rows (never set for local queries)

    def __len__(self) -> int:
        return len(self.rows)

    def column(self, variable: str) -> list[Term | None]:
        """Every row's value of one variable; InputError if the query has no such variable."""
        try:
            index = self.variables.index(variable)
        except ValueError:
            raise InputError(
                f"the result has no variable ?{variable} (it has {', '.join(self.variables)})"
            ) from None
        return [row[index] for row in self.rows]

    def values(self, variable: str) -> list[str | None]:
        """Every row's value of one variable as a plain string (IRI, or a literal's lexical form)."""
        return [None if term is None else _plain(term) for term in self.column(variable)]

    def dicts(self) -> list[dict[str, Term]]:
        """One dict per row (unbound variables absent)."""
        return [
            {v: t for v, t in zip(self.variables, row, strict=True) if t is not None} for row in self.rows
        ]

    def to_table(self) -> str:
        """Aligned text for people: IRIs shortened (prefixes, ``<…>`` under ``BASE/id/``), literals bare."""
        if self.boolean is not None:
            return "true\n" if self.boolean else "false\n"
        cells = [[self._display(term) for term in row] for row in self.rows]
        widths = [len(v) for v in self.variables]
        for row in cells:
            widths = [max(w, len(c)) for w, c in zip(widths, row, strict=True)]
        lines = ["  ".join(v.ljust(w) for v, w in zip(self.variables, widths, strict=True)).rstrip()]
        lines.append("  ".join("-" * w for w in widths))
        lines.extend(
            "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
        )
        return "\n".join(lines) + "\n"

    def to_csv(self) -> str:
        """SPARQL 1.1 Query Results CSV: plain values, CRLF line ends."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        if self.boolean is not None:
            writer.writerow(["boolean"])
            writer.writerow(["true" if self.boolean else "false"])
            return out.getvalue()
        writer.writerow(self.variables)
        for row in self.rows:
            writer.writerow(["" if term is None else _plain(term) for term in row])
        return out.getvalue()

    def to_tsv(self) -> str:
        """SPARQL 1.1 Query Results TSV: ``?var`` header, terms in SPARQL syntax (N-Triples form)."""
        if self.boolean is not None:
            return "?boolean\n" + ("true" if self.boolean else "false") + "\n"
        lines = ["\t".join("?" + v for v in self.variables)]
        lines.extend("\t".join("" if term is None else str(term) for term in row) for row in self.rows)
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """SPARQL 1.1 Query Results JSON."""
        if self.boolean is not None:
            return json.dumps({"head": {}, "boolean": self.boolean}, ensure_ascii=False)
        bindings = [
            {v: term_to_json(t) for v, t in zip(self.variables, row, strict=True) if t is not None}
            for row in self.rows
        ]
        return json.dumps(
            {"head": {"vars": self.variables}, "results": {"bindings": bindings}}, ensure_ascii=False
        )

    def _display(self, term: Term | None) -> str:
        import pyoxigraph

        if term is None:
            return ""
        if isinstance(term, pyoxigraph.NamedNode):
            iri = term.value
            if self.base and iri.startswith(id_base(self.base)):
                return f"<{iri[len(id_base(self.base)) :]}>"
            for prefix, namespace in PREFIXES.items():
                if iri.startswith(namespace) and re.match(r"^[A-Za-z0-9_-]*$", iri[len(namespace) :]):
                    return f"{prefix}:{iri[len(namespace) :]}"
            return f"<{iri}>"
        if isinstance(term, pyoxigraph.Literal):
            return term.value.replace("\n", " ")
        return str(term)


def _plain(term: Term) -> str:
    import pyoxigraph

    if isinstance(term, (pyoxigraph.NamedNode, pyoxigraph.Literal)):
        return term.value
    return str(term)  # blank node (_:id) or quoted triple


def result_from_json(payload: Any, *, base: str | None = None, origin: str = "the endpoint") -> QueryResult:
    """A QueryResult from SPARQL 1.1 JSON results (already decoded); RemoteError if they are malformed."""
    if not isinstance(payload, dict):
        raise RemoteError(f"{origin}: the answer is not SPARQL JSON results")
    if "boolean" in payload:
        return QueryResult([], [], boolean=bool(payload["boolean"]), base=base)
    try:
        variables = list(payload["head"]["vars"])
        rows = [
            tuple(term_from_json(binding[v]) if v in binding else None for v in variables)
            for binding in payload["results"]["bindings"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteError(f"{origin}: malformed SPARQL JSON results ({exc!r})") from None
    return QueryResult(variables, rows, base=base)


