"""Where a programme reaches and what an authority became, for its page: the member communes (membership
records of 1 January 2017, with their 2014 populations and sources), the programmes covering a commune, and the
dated change records since February 2017 (only what the records say; an undated change said as undated)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from ..state import ServerState
from .i18n import Lang, format_count, format_date, t
from .labels import Item, Labels, best_literal, is_literal, slugify
from .sparql_texts import CHANGES, COVERAGE, KIND_2017, MEMBERS, fold, select_rows


def _int(term: Any) -> int | None:
    try:
        return int(float(term.value))
    except (AttributeError, TypeError, ValueError):
        return None


def lower_first(text: str) -> str:
    """A kind's label inside a sentence («Métropole» → «métropole»)."""
    return text[:1].lower() + text[1:]


@dataclass
class Member:
    commune: Item
    insee: str
    inhabitants: str | None  # written the page's way; None when the records give no 2014 figure


@dataclass
class Territory:
    """An authority's member communes, or (for a commune running its own programme) the commune itself."""

    members: list[Member] = field(default_factory=list)
    total: str | None = None
    count: str = "0"
    as_of: list[str] = field(default_factory=list)
    sources: list[Item] = field(default_factory=list)
    own: bool = False  # a commune: its own territory
    query_href: str | None = None


@dataclass
class Coverage:
    programme: Item
    authority: Item
    own: bool
    as_of: str | None


@dataclass
class Change:
    date: str | None  # None: no source dates it
    parts: list[str]
    note: str | None
    sources: list[Item]


@dataclass
class History:
    kind: Item | None
    siren: str | None
    changes: list[Change]


async def territory(state: ServerState, lang: Lang, labels: Labels, iri: str, programme: str | None,
                    own_commune: bool) -> Territory:
    """The communes ``iri``'s programme covers, from its membership records (its own commune if it is one)."""
    found = Territory(own=own_commune)
    if programme is not None:
        slug = programme.rsplit("/", 1)[-1]
        found.query_href = lang.link(f"/queries/programme-communes?programme={quote(slug)}")
    rows = fold(await select_rows(state, MEMBERS, resource=iri), labels)
    communes: dict[str, dict[str, Any]] = {}
    total = 0
    for row in rows:
        entry = communes.setdefault(row["commune"].value, {"term": row["commune"], "insee": "", "n": None})
        if "insee" in row:
            entry["insee"] = row["insee"].value
        if "inhabitants" in row:
            entry["n"] = _int(row["inhabitants"])
        if "asOf" in row:
            date = format_date(row["asOf"].value, lang.code)
            if date not in found.as_of:
                found.as_of.append(date)
        if "source" in row and all(s.iri != row["source"].value for s in found.sources):
            found.sources.append(labels.item(row["source"]))
    for entry in communes.values():
        number = entry["n"]
        total += number or 0
        found.members.append(Member(labels.item(entry["term"]), entry["insee"],
                                    format_count(number, lang.code) if number is not None else None))
    found.members.sort(key=lambda m: slugify(m.commune.text))
    found.sources.sort(key=lambda s: s.text)
    if found.members:
        found.total = format_count(total, lang.code)
        found.count = format_count(len(found.members), lang.code)
    return found


async def coverage(state: ServerState, lang: Lang, labels: Labels, iri: str) -> list[Coverage]:
    """The programmes covering the commune ``iri``: by its membership records, and its own."""
    rows = fold(await select_rows(state, COVERAGE, resource=iri), labels)
    found: dict[str, Coverage] = {}
    for row in rows:
        key = row["programme"].value
        own = row["authority"].value == iri
        as_of = format_date(row["asOf"].value, lang.code) if "asOf" in row else None
        found.setdefault(key, Coverage(labels.item(row["programme"]), labels.item(row["authority"]), own, as_of))
    return sorted(found.values(), key=lambda c: (not c.own, slugify(c.authority.text)))


async def history(state: ServerState, lang: Lang, labels: Labels, iri: str) -> History:
    """What ``iri`` was in February 2017 (kind, SIREN) and its change records, undated ones last."""
    before = fold(await select_rows(state, KIND_2017, resource=iri), labels)
    kind = next((labels.item(row["kind"]) for row in before if "kind" in row), None)
    if kind is not None:
        kind.text = lower_first(kind.text)
    siren = next((row["siren"].value for row in before if "siren" in row), None)
    rows = fold(await select_rows(state, CHANGES, resource=iri), labels)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(row["change"].value, []).append(row)
    changes: list[tuple[str, Change]] = []
    for group in grouped.values():
        first = group[0]
        date = first["date"].value if "date" in first else None
        parts: list[str] = []
        names = [row["newName"] for row in group if "newName" in row]
        name = best_literal(names, lang.code)
        if name is not None:
            parts.append(t(lang.code, "history.name", name=name.value))
        if "newKind" in first:
            parts.append(t(lang.code, "history.kind", kind=lower_first(labels.get(first["newKind"].value))))
        if "newSiren" in first:
            parts.append(t(lang.code, "history.siren", siren=first["newSiren"].value))
        if any("merger" in row for row in group):
            parts.append(t(lang.code, "history.merger"))
        notes = [row["note"] for row in group if "note" in row and is_literal(row["note"])]
        note = next((n for n in notes if n.language == lang.code), None)
        sources: list[Item] = []
        for row in group:
            if "source" in row and all(s.iri != row["source"].value for s in sources):
                sources.append(labels.item(row["source"]))
        changes.append((date or "9999", Change(format_date(date, lang.code) if date else None, parts,
                                               note.value if note is not None else None, sources)))
    changes.sort(key=lambda pair: pair[0])
    return History(kind, siren, [change for _, change in changes])
