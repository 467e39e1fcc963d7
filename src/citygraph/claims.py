"""The survey's claims beside what the graph derives: agrees, differs (with why), or cannot be derived.

Each ``cgo:SurveyClaim`` (data/claims.ttl) states a count, perhaps out of a total, as a percentage, naming
some authorities. Its ``cgo:checkQuery`` values (``"name?param=value&…"``) are readings: named queries whose
rows' ``?authority`` values are the authorities the graph counts for it. A claim agrees when at least one
reading agrees on every figure it states (count, total, percentage, the named authorities); it differs when
none does; with no reading it cannot be derived (the survey's per-theme totals name no city), and the check
shows what the graph does know about its theme. The data is never adjusted to make a claim agree.
"""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from .errors import InputError
from .namespaces import CGO, DCT, PROV, RDFS, SKOS
from .query import QueryResult, id_base, run_named_query

if TYPE_CHECKING:
    from .load import LoadedGraph

AGREES = "agrees"
DIFFERS = "differs"
CANNOT_BE_DERIVED = "cannot be derived"
OUTCOMES = (AGREES, DIFFERS, CANNOT_BE_DERIVED)

UNIVERSE_QUERY = "authorities-by-kind"  # the surveyed authorities: the total every claim is out of
THEME_QUERY = "authorities-by-theme"  # what the graph knows about a theme
POPULATION_QUERY = "authorities-under-population"  # population of every authority (to explain a difference)

_CLAIMS = f"""
SELECT ?claim ?count ?total ?percentage ?namesAll ?theme WHERE {{
  ?claim a <{CGO}SurveyClaim> ; <{CGO}claimedCount> ?count .
  OPTIONAL {{ ?claim <{CGO}claimedTotal> ?total }}
  OPTIONAL {{ ?claim <{CGO}claimedPercentage> ?percentage }}
  OPTIONAL {{ ?claim <{CGO}namesAllMembers> ?namesAll }}
  OPTIONAL {{ ?claim <{CGO}theme> ?theme }}
}} ORDER BY ?claim"""
_MULTI = "SELECT ?claim ?value WHERE {{ ?claim a <{cgo}SurveyClaim> ; <{prop}> ?value }}"
_LABELS = f"SELECT ?claim ?label WHERE {{ ?claim a <{CGO}SurveyClaim> ; <{RDFS}label> ?label }}"
_NOTES = f"SELECT ?claim ?note WHERE {{ ?claim a <{CGO}SurveyClaim> ; <{SKOS}note> ?note }}"
# The survey's update: when, and which programmes it added (those dated by cgo:addedToSurveyOn).
_EDITION = f"""
SELECT ?source ?modified ?added ?label WHERE {{
  ?claim a <{CGO}SurveyClaim> ; <{PROV}wasDerivedFrom> ?source .
  OPTIONAL {{ ?source <{DCT}modified> ?modified }}
  OPTIONAL {{
    ?programme <{CGO}addedToSurveyOn> ?added ; <{CGO}runBy> ?authority .
    ?authority <{RDFS}label> ?label FILTER(LANGMATCHES(LANG(?label), "fr"))
  }}
}}"""
COUNTED_SHOWN = 30  # a reading lists what it counts up to this many authorities

_TEXT = {
    "fr": {
        "count": "en compte {n}, pas {claimed}",
        "total": "sur {total} collectivités, pas {claimed}",
        "percentage": "soit {derived} %, pas {claimed} %",
        "named_missing": "nommée(s) mais pas comptée(s) : {names}",
        "named_extra": "comptée(s) mais pas nommée(s) : {names}",
        "agrees": "en compte {n}, comme l'enquête",
        "none_agrees": "aucune lecture ne donne {claimed} : {readings}",
        "no_reading": "l'enquête donne un total, pas la liste des collectivités",
        "knows": "le graphe en connaît {n} pour ce thème : {names} ({reading})",
        "knows_none": "le graphe n'en connaît aucune pour ce thème ({reading})",
        "inhabitants": "{n} hab.",
        "counted": "comptées : {names}",
        "other_readings": "autres lectures : {readings}",
        "note": "note",
        "survey": "Enquête : {source}, mise à jour le {modified}",
        "added": "ajoutées par la mise à jour : {names}",
    },
    "en": {
        "count": "counts {n}, not {claimed}",
        "total": "out of {total} authorities, not {claimed}",
        "percentage": "that is {derived}%, not {claimed}%",
        "named_missing": "named but not counted: {names}",
        "named_extra": "counted but not named: {names}",
        "agrees": "counts {n}, as the survey does",
        "none_agrees": "no reading gives {claimed}: {readings}",
        "no_reading": "the survey gives a total, not which authorities",
        "knows": "the graph knows {n} for this theme: {names} ({reading})",
        "knows_none": "the graph knows none for this theme ({reading})",
        "inhabitants": "{n} inhabitants",
        "counted": "counted: {names}",
        "other_readings": "other readings: {readings}",
        "note": "note",
        "survey": "Survey: {source}, updated on {modified}",
        "added": "added by the update: {names}",
    },
}


@dataclass(frozen=True)
class Reading:
    """One way of deriving a claim: a named query with parameters, and what it counts."""

    spec: str  # as written in the data: "name?param=value&…"
    query: str
    params: dict[str, str]
    authorities: frozenset[str]  # IRIs of the distinct ?authority values
    agrees: bool
    problems: tuple[str, ...]  # why it does not agree (empty when it does)

    @property
    def count(self) -> int:
        return len(self.authorities)


@dataclass(frozen=True)
class ClaimCheck:
    """A claim, its figures as the survey states them, and what the graph derives."""

    claim: str  # IRI
    key: str  # the IRI's last segment, e.g. with-lead
    label: str
    claimed_count: int
    claimed_total: int | None
    claimed_percentage: Decimal | None
    named: tuple[str, ...]  # IRIs of the authorities the claim names
    names_all_members: bool | None
    theme: str | None
    total: int  # the surveyed authorities in the graph
    readings: tuple[Reading, ...]
    outcome: str
    why: str
    known: tuple[str, ...] = field(default=())  # for a theme claim: the authorities the graph knows (IRIs)
    note: str | None = None  # the claim's skos:note in the chosen language (what the survey leaves open)
    labels: dict[str, str] = field(default_factory=dict, compare=False)  # authority IRI -> label

    def survey_figure(self) -> str:
        return _figure(self.claimed_count, self.claimed_total, self.claimed_percentage)

    def graph_figure(self) -> str:
        if not self.readings:
            return f"? ({len(self.known)} known)" if self.theme else "?"
        return " | ".join(
            _figure(
                r.count,
                self.total if self.claimed_total is not None else None,
                _percent(r.count, self.total, self.claimed_percentage),
            )
            for r in self.readings
        )

    def as_json(self) -> dict[str, Any]:
        def named(iris: Any) -> list[dict[str, str]]:
            return [{"authority": iri, "label": self.labels.get(iri, iri)} for iri in sorted(iris)]

        return {
            "claim": self.claim,
            "key": self.key,
            "label": self.label,
            "outcome": self.outcome,
            "why": self.why,
            "note": self.note,
            "claimed": {
                "count": self.claimed_count,
                "total": self.claimed_total,
                "percentage": None if self.claimed_percentage is None else float(self.claimed_percentage),
                "named": named(self.named),
                "names_all_members": self.names_all_members,
            },
            "derived": {
                "total": self.total,
                "readings": [
                    {
                        "check_query": r.spec,
                        "query": r.query,
                        "params": r.params,
                        "count": r.count,
                        "agrees": r.agrees,
                        "problems": list(r.problems),
                        "authorities": named(r.authorities),
                    }
                    for r in self.readings
                ],
                "theme": self.theme,
                "known": named(self.known),
            },
        }


@dataclass
class _Context:
    graph: LoadedGraph
    lang: str
    labels: dict[str, str]  # authority IRI -> label in the chosen language
    total: int
    populations: dict[str, dict[str, int]] = field(default_factory=dict)  # basis -> IRI -> inhabitants

    def text(self, key: str, **values: Any) -> str:
        return _TEXT[self.lang][key].format(**values)

    def population(self, iri: str, basis: str) -> int | None:
        if basis not in self.populations:
            result = run_named_query(self.graph, POPULATION_QUERY, {"max": 10**12, "basis": basis})
            self.populations[basis] = {
                a: int(n)
                for a, n in zip(result.values("authority"), result.values("inhabitants"), strict=True)
                if a is not None and n is not None
            }
        return self.populations[basis].get(iri)

    def names(self, iris: Any, reading: Reading | None = None, result: QueryResult | None = None) -> str:
        """Labels, each with its population when the reading is about population."""
        parts = []
        for iri in sorted(iris, key=lambda i: self.labels.get(i, i)):
            text = self.labels.get(iri, iri)
            if reading is not None and result is not None and "inhabitants" in result.variables:
                inhabitants = self.population(iri, reading.params.get("basis", "authority"))
                if inhabitants is not None:
                    text += f" ({self.text('inhabitants', n=_number(inhabitants, self.lang))})"
            parts.append(text)
        return ", ".join(parts)


def check_claims(graph: LoadedGraph, *, lang: str = "fr") -> list[ClaimCheck]:
    """Every survey claim of the graph, checked; derivable ones first, each group in IRI order."""
    if lang not in _TEXT:
        raise InputError(f"--lang {lang!r}: expected one of {', '.join(_TEXT)}")
    labels = authority_labels(graph, lang)
    context = _Context(graph, lang, labels, len(labels))
    checks = [_check(context, row) for row in _claim_rows(graph, lang)]
    return sorted(checks, key=lambda c: (not c.readings, c.claim))


def _claim_rows(graph: LoadedGraph, lang: str) -> list[dict[str, Any]]:
    import pyoxigraph

    def select(text: str) -> list[dict[str, Any]]:
        answer = graph.store.query(text, default_graph=pyoxigraph.NamedNode(graph.data_graph))
        names = [v.value for v in answer.variables]  # type: ignore[union-attr]
        return [{n: s[n] for n in names} for s in answer]  # type: ignore[union-attr]

    def multi(prop: str) -> dict[str, list[Any]]:
        out: dict[str, list[Any]] = {}
        for row in select(_MULTI.format(cgo=CGO, prop=prop)):
            out.setdefault(row["claim"].value, []).append(row["value"].value)
        return out

    checks, named = multi(CGO + "checkQuery"), multi(CGO + "namedAuthority")
    labels: dict[str, dict[str, str]] = {}
    for row in select(_LABELS):
        labels.setdefault(row["claim"].value, {})[row["label"].language or ""] = row["label"].value
    notes: dict[str, dict[str, str]] = {}
    for row in select(_NOTES):
        notes.setdefault(row["claim"].value, {})[row["note"].language or ""] = row["note"].value
    rows = []
    for row in select(_CLAIMS):
        claim = row["claim"].value
        by_lang = labels.get(claim, {})
        rows.append(
            {
                "claim": claim,
                "label": by_lang.get(lang) or by_lang.get("fr") or next(iter(by_lang.values()), claim),
                "count": int(row["count"].value),
                "total": int(row["total"].value) if row["total"] is not None else None,
                "percentage": Decimal(row["percentage"].value) if row["percentage"] is not None else None,
                "names_all": row["namesAll"].value == "true" if row["namesAll"] is not None else None,
                "theme": row["theme"].value if row["theme"] is not None else None,
                "check_queries": sorted(checks.get(claim, [])),
                "named": tuple(sorted(named.get(claim, []))),
                "note": notes.get(claim, {}).get(lang) or notes.get(claim, {}).get("fr"),
            }
        )
    return rows


def _check(context: _Context, row: dict[str, Any]) -> ClaimCheck:
    claim = row["claim"]
    key = claim.rstrip("/").rsplit("/", 1)[-1]
    readings: list[Reading] = []
    explanations: list[str] = []
    for spec in row["check_queries"]:
        reading, explanation = _reading(context, claim, spec, row)
        readings.append(reading)
        explanations.append(explanation)
    known: tuple[str, ...] = ()
    if not readings:
        outcome = CANNOT_BE_DERIVED
        why = context.text("no_reading")
        slug = _theme_slug(context, row["theme"])
        if slug is not None:
            spec = f"{THEME_QUERY}?theme={slug}"
            result = run_named_query(context.graph, THEME_QUERY, {"theme": slug})
            known = tuple(sorted({a for a in result.values("authority") if a}))
            if known:
                why += "; " + context.text("knows", n=len(known), names=context.names(known), reading=spec)
            else:
                why += "; " + context.text("knows_none", reading=spec)
    elif any(r.agrees for r in readings):
        outcome = AGREES
        why = "; ".join(e for r, e in zip(readings, explanations, strict=True) if r.agrees)
        others = [e for r, e in zip(readings, explanations, strict=True) if not r.agrees]
        if others:  # a reading that does not agree says what the agreeing one depends on
            why += "; " + context.text("other_readings", readings="; ".join(others))
    else:
        outcome = DIFFERS
        if len(readings) == 1:
            why = explanations[0]
        else:
            why = context.text("none_agrees", claimed=row["count"], readings="; ".join(explanations))
    return ClaimCheck(
        claim=claim,
        key=key,
        label=row["label"],
        claimed_count=row["count"],
        claimed_total=row["total"],
        claimed_percentage=row["percentage"],
        named=row["named"],
        names_all_members=row["names_all"],
        theme=row["theme"],
        total=context.total,
        readings=tuple(readings),
        outcome=outcome,
        why=why,
        known=known,
        labels=context.labels,
        note=row["note"],
    )


def _reading(context: _Context, claim: str, spec: str, row: dict[str, Any]) -> tuple[Reading, str]:
    name, _, query_string = spec.partition("?")
    try:
        pairs = urllib.parse.parse_qsl(
            query_string, keep_blank_values=True, strict_parsing=bool(query_string)
        )
    except ValueError:
        raise InputError(f"{claim}: bad cgo:checkQuery {spec!r} (expected name?param=value&…)") from None
    params = dict(pairs)
    try:
        result = run_named_query(context.graph, name, params)
    except InputError as exc:
        raise InputError(f"{claim}: cgo:checkQuery {spec!r}: {exc}") from None
    if "authority" not in result.variables:
        raise InputError(f"{claim}: cgo:checkQuery {spec!r}: the query returns no ?authority column to count")
    authorities = frozenset(a for a in result.values("authority") if a)
    draft = Reading(spec, name, params, authorities, False, ())
    problems: list[str] = []
    count = len(authorities)
    if count != row["count"]:
        problems.append(context.text("count", n=count, claimed=row["count"]))
    if row["total"] is not None and row["total"] != context.total:
        problems.append(context.text("total", total=context.total, claimed=row["total"]))
    derived_percent = _percent(count, context.total, row["percentage"])
    if row["percentage"] is not None and derived_percent != row["percentage"]:
        problems.append(context.text("percentage", derived=derived_percent, claimed=row["percentage"]))
    named = set(row["named"])
    missing = named - authorities
    if missing:
        problems.append(context.text("named_missing", names=context.names(missing, draft, result)))
    extra = authorities - named
    if named and row["names_all"] and extra:
        problems.append(context.text("named_extra", names=context.names(extra, draft, result)))
    reading = Reading(spec, name, params, authorities, not problems, tuple(problems))
    counted = ""
    if 0 < count <= COUNTED_SHOWN:
        counted = " — " + context.text("counted", names=context.names(authorities, draft, result))
    if problems:
        return reading, f"{spec}: " + "; ".join(problems) + counted
    return reading, f"{spec}: " + context.text("agrees", n=count) + counted


def _theme_slug(context: _Context, theme: str | None) -> str | None:
    prefix = id_base(context.graph.base) + "theme/"
    if theme is None or not theme.startswith(prefix):
        return None
    return theme[len(prefix) :]


def _percent(count: int, total: int, like: Decimal | None) -> Decimal | None:
    """100·count/total rounded (half up) to as many decimals as the claimed percentage has."""
    if like is None or total == 0:
        return None
    exponent = like.as_tuple().exponent
    places = Decimal(1).scaleb(exponent if isinstance(exponent, int) and exponent < 0 else 0)
    return (Decimal(100 * count) / Decimal(total)).quantize(places, rounding=ROUND_HALF_UP)


def _figure(count: int, total: int | None, percentage: Decimal | None) -> str:
    text = str(count) if total is None else f"{count}/{total}"
    return text if percentage is None else f"{text} ({percentage}%)"


def _number(value: int, lang: str) -> str:
    grouped = f"{value:,}"
    return grouped.replace(",", "\u202f") if lang == "fr" else grouped


@dataclass(frozen=True)
class SurveyEdition:
    """The survey the claims cite: its address, when it was last updated, which programmes the update added."""

    source: str
    modified: str | None
    added_on: str | None
    added: tuple[str, ...]  # French labels of the authorities whose programmes the update added

    def describe(self, lang: str = "fr") -> str:
        text = _TEXT[lang]["survey"].format(source=self.source, modified=self.modified or "?")
        if self.added:
            text += " ; " if lang == "fr" else "; "
            text += _TEXT[lang]["added"].format(names=", ".join(self.added))
        return text

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "modified": self.modified, "added_on": self.added_on, "added": list(self.added)}


def survey_editions(graph: LoadedGraph) -> list[SurveyEdition]:
    """Each source the claims cite, with its update date and the programmes the update added."""
    import pyoxigraph

    answer = graph.store.query(_EDITION, default_graph=pyoxigraph.NamedNode(graph.data_graph))
    found: dict[str, dict[str, Any]] = {}
    for row in answer:  # type: ignore[union-attr]
        entry = found.setdefault(row["source"].value, {"modified": None, "added_on": None, "added": set()})
        if row["modified"] is not None:
            entry["modified"] = row["modified"].value
        if row["added"] is not None:
            entry["added_on"] = row["added"].value
            entry["added"].add(row["label"].value)
    return [
        SurveyEdition(source, e["modified"], e["added_on"], tuple(sorted(e["added"])))
        for source, e in sorted(found.items())
    ]


def render_table(checks: list[ClaimCheck], editions: list[SurveyEdition] | None = None, lang: str = "fr") -> str:
    """An aligned table (claim, survey, graph, outcome) and, below it, each claim's statement and why."""
    header = ("claim", "survey", "graph", "outcome")
    rows = [(c.key, c.survey_figure(), c.graph_figure(), c.outcome) for c in checks]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines.extend("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() for row in rows)
    lines.append("")
    for edition in editions or []:
        lines.append(edition.describe(lang))
        lines.append("")
    for check in checks:
        lines.append(f"{check.key}: {check.label}")
        lines.append(f"  {check.outcome}: {check.why}")
        if check.note:
            lines.append(f"  {_TEXT[lang]['note']}: {check.note}")
    counts = {outcome: sum(1 for c in checks if c.outcome == outcome) for outcome in OUTCOMES}
    lines.append("")
    lines.append(", ".join(f"{n} {outcome}" for outcome, n in counts.items()))
    return "\n".join(lines) + "\n"


def render_json(checks: list[ClaimCheck]) -> str:
    import json

    return json.dumps([c.as_json() for c in checks], ensure_ascii=False, indent=2)


def authority_labels(graph: LoadedGraph, lang: str = "fr") -> dict[str, str]:
    """Label of every surveyed authority (the universe the claims count in) in ``lang``, else French."""
    universe = run_named_query(graph, UNIVERSE_QUERY)
    column = "label" if lang == "fr" else "label_en"
    return {
        iri: other or fr or iri
        for iri, fr, other in zip(
            universe.values("authority"), universe.values("label"), universe.values(column), strict=True
        )
        if iri is not None
    }
