"""The named queries for people: their list, and one page per query with a form, a readable table and links
to the CSV and JSON results (``/queries/NAME.csv|.json``, served here too).

Tables show labels (linked to the resource's page) instead of IRIs, numbers and dates written the page's way,
and leave out what the page already says: columns that only repeat a parameter, or a label of a linked
resource in the same row. The CSV and JSON results keep every column as the query returns it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.requests import Request

from ...errors import InputError
from ...query import id_base
from ..cache import CachedResponse
from ..errors import HttpProblem
from ..state import ServerState
from .i18n import Lang, t
from .labels import Item, Labels, is_iri
from .site import Site
from .sparql_texts import LABELS_OF, UNDER_PATH, select_rows

if TYPE_CHECKING:
    from ...query import NamedQuery, Parameter, QueryResult

MAX_LABELLED = 2000  # IRIs whose labels one page asks for (the row cap keeps results smaller than this)


def problem(key: str, **args: str) -> HttpProblem:
    """A 400 whose detail is the English message (for machines) and whose page speaks the reader's language."""
    return HttpProblem(400, t("en", f"problem.{key}", **args), title="Bad Request: invalid parameter", key=key,
                       fields=args)


def _value_key(parameter: Parameter) -> tuple[str, dict[str, str]]:
    """Which message says what ``parameter`` expects."""
    if parameter.bounds:
        low, high = parameter.bounds
        return "bad_integer_range", {"low": str(low), "high": str(high)}
    if parameter.choices is not None:
        return "bad_enum", {"choices": ", ".join(parameter.choices)}
    if parameter.datatype.startswith("id:"):
        return "bad_slug", {}
    if parameter.datatype in ("integer", "decimal", "boolean", "date", "iri"):
        return f"bad_{parameter.datatype}", {}
    return "bad_string", {}


def bind_http(named: NamedQuery, values: Mapping[str, str], base: str) -> dict[str, Any]:
    """The query's terms for the URL parameters ``values``; HttpProblem(400) naming the URL parameter."""
    known = [p.name for p in named.parameters]
    for name in values:
        if name not in known:
            raise problem("unknown_param", query=named.name, param=name, known=", ".join(known) or "—")
    bound: dict[str, Any] = {}
    for parameter in named.parameters:
        if parameter.name in values:
            try:
                bound[parameter.name] = parameter.term(values[parameter.name], base=base)
            except InputError:
                key, fields = _value_key(parameter)
                raise problem(key, param=parameter.name, value=values[parameter.name], **fields) from None
        elif parameter.default is not None:
            bound[parameter.name] = parameter.term(parameter.default, base=base)
        else:
            raise problem("missing_param", query=named.name, param=parameter.name,
                          description=parameter.description)
    return bound


async def run_named(state: ServerState, named: NamedQuery, values: Mapping[str, str]) -> QueryResult:
    """Run a named query through the backend on the data graph, with its parameters bound (never pasted)."""
    from ...query import QueryResult

    bindings = bind_http(named, values, state.base)
    result = await state.backend.select(named.sparql(state.base), default_graphs=[state.data_graph],
                                        bindings=bindings)
    rows = [tuple(row.get(v) for v in result.variables) for row in result.rows]
    return QueryResult(list(result.variables), rows, base=state.base, truncated=result.truncated)


def named_query_or_404(name: str) -> NamedQuery:
    from ...query import get_query

    detail = HttpProblem(404, f"no named query {name!r} (see /queries)", key="no_query", fields={"name": name})
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise detail
    try:
        return get_query(name)
    except InputError:
        raise detail from None


def query_body(text: str) -> str:
    """The query without its header (title, descriptions, column labels: the page says them already)."""
    lines = text.splitlines()
    start = 0
    while start < len(lines) and (lines[start].startswith("#") or not lines[start].strip()):
        start += 1
    return "\n".join(lines[start:])


@dataclass
class Column:
    variable: str
    label: str
    index: int


def visible_columns(named: NamedQuery, result: QueryResult, labels: Labels, lang: str) -> list[Column]:
    """The columns a reader needs: no parameter echo, no label already shown as a link, one language."""
    variables = list(result.variables)
    params = {p.name for p in named.parameters}
    hidden: set[str] = set()
    for index, variable in enumerate(variables):
        if variable in params:
            hidden.add(variable)
            continue
        base, _, suffix = variable.rpartition("_")
        if suffix == "en" and base in variables:  # a translation column: keep the page's language
            hidden.add(variable if lang != "en" else base)
        cells = [row[index] for row in result.rows if row[index] is not None]
        if cells and all(not is_iri(c) for c in cells) and all(_labels_a_link(row, index, labels)
                                                                for row in result.rows if row[index] is not None):
            hidden.add(variable)
    shown = [Column(v, named.column_label(v, lang), i) for i, v in enumerate(variables) if v not in hidden]
    return shown or [Column(v, named.column_label(v, lang), i) for i, v in enumerate(variables)]


def _labels_a_link(row: Sequence[Any], index: int, labels: Labels) -> bool:
    value = str(row[index].value)
    return any(is_iri(cell) and value in {str(lit.value) for lit in labels.known(cell.value)}
               for cell in row)


class NamedQueryPages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.state = site.state
        self._under: dict[str, list[tuple[str, dict[str, str]]]] = {}

    async def listing(self, lang: Lang, request: Request) -> CachedResponse:
        from ...query import list_queries

        queries = [{"name": q.name, "title": q.wording(lang.code)[0], "description": q.wording(lang.code)[1],
                    "parameters": [p.name for p in q.parameters]} for q in list_queries()]
        context = self.site.context(request, lang, t(lang.code, "queries.title"), queries=queries)
        return self.site.entry(self.site.render("queries.html", context))

    async def resources_under(self, path: str) -> list[tuple[str, dict[str, str]]]:
        """The slugs of the resources under ``BASE/id/PATH`` with their labels by language (asked once)."""
        if path not in self._under:
            prefix = id_base(self.state.base) + path
            rows = await select_rows(self.state, UNDER_PATH.format(prefix=json.dumps(prefix)))
            found: dict[str, dict[str, str]] = {}
            for row in rows:
                slug = row["s"].value[len(prefix):]
                if slug and "/" not in slug:
                    found.setdefault(slug, {})[row["label"].language or "fr"] = str(row["label"].value)
            self._under[path] = sorted(found.items())
        return self._under[path]

    async def choices(self, parameter: Parameter, lang: Lang) -> list[tuple[str, str]] | None:
        """(value, label) for a select list: an enum's values, or the graph's resources for ``id:PATH/``."""
        if parameter.choices is not None:
            table_key = f"enum.{parameter.name}."
            return [(c, _message_or(lang, table_key + c, c)) for c in parameter.choices]
        if parameter.datatype.startswith("id:"):
            found = await self.resources_under(parameter.datatype[3:])
            options = [(slug, names.get(lang.code) or names.get("fr") or slug) for slug, names in found]
            return sorted(options, key=lambda option: option[1].lower()) or None
        return None

    async def page(self, lang: Lang, request: Request, named: NamedQuery,
                   values: Mapping[str, str]) -> CachedResponse:
        ready = all(p.name in values or not p.required for p in named.parameters)
        params = []
        unknown: list[tuple[str, str]] = []
        for p in named.parameters:
            choices = await self.choices(p, lang)
            value = values.get(p.name, p.default or "")
            if choices is not None and p.datatype.startswith("id:") and p.name in values and \
                    value not in {c for c, _ in choices}:
                unknown.append((p.name, value))
            params.append({"name": p.name, "value": value, "required": p.required,
                           "description": (p.description_fr or p.description) if lang.code == "fr"
                           else p.description,
                           "choices": choices, "datatype": p.datatype, "bounds": p.bounds})
        result = None
        invalid: list[str] = []  # a bad value: the form again, with what is wrong, in the reader's language
        if ready:
            try:
                result = await run_named(self.state, named, values)
            except HttpProblem as exc:
                if exc.status != 400 or not exc.key:
                    raise
                invalid.append(t(lang.code, f"problem.{exc.key}", **exc.fields))
        columns: list[Column] = []
        rows: list[list[Item]] = []
        if result is not None:
            labels = Labels(self.state, lang, await self.site.ontology_labels())
            await self.gather_labels(result, labels)
            columns = visible_columns(named, result, labels, lang.code)
            for row in result.rows:
                rows.append([labels.item(row[c.index]) if row[c.index] is not None else Item("")
                             for c in columns])
        given = list(values.items())
        suffix = ("?" + urlencode(given)) if given else ""
        formats = [{"href": f"/queries/{named.name}.{ext}{suffix}", "ext": ext, "media": media}
                   for ext, media in (("csv", "text/csv"), ("json", "application/sparql-results+json"))]
        title, description = named.wording(lang.code)
        context = self.site.context(
            request, lang, title, query=named, description=description, body=query_body(named.text), params=params,
            result=result,
            max_rows=self.state.config.max_rows, columns=columns, rows=rows, formats=formats,
            unknown=invalid + [t(lang.code, "queries.unknown_value", param=name, value=value)
                               for name, value in unknown],
            ready=ready, alternates=[{"href": f["href"], "media_type": f["media"]} for f in formats])
        return self.site.entry(self.site.render("query.html", context), status=400 if invalid else 200)

    async def gather_labels(self, result: QueryResult, labels: Labels) -> None:
        """Ask the graph for the labels of the IRIs in ``result`` (one query)."""
        iris: dict[str, Any] = {}
        for row in result.rows:
            for term in row:
                if is_iri(term) and len(iris) < MAX_LABELLED:
                    iris.setdefault(str(term), term)
        if not iris:
            return
        text = LABELS_OF.format(iris=" ".join(iris))  # each IRI in SPARQL syntax, as pyoxigraph writes it
        for found in await select_rows(self.state, text):
            labels.add(found["s"].value, found["label"])


def _message_or(lang: Lang, key: str, default: str) -> str:
    from .i18n import messages

    return messages(lang.code).get(key, default)
