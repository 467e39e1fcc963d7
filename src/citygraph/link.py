"""Reconciliation with Wikidata: find each authority's item by its official code and compare with ours.

Intercommunalities are looked up by SIREN (Wikidata P1616), communes (authorities and seat communes) by INSEE
code (P374), in batched ``VALUES`` queries through SPARQLWrapper. Each resource ends in one outcome:

- ``confirmed``: our ``owl:sameAs`` is the item Wikidata gives for the code;
- ``missing``: Wikidata has an item, we have no link (a ``cgo:wikidataCandidate``, if any, is confirmed or
  contradicted by it);
- ``conflicting``: our link and Wikidata's item differ (both shown);
- ``not-found``: no Wikidata item carries the code.

Writing (``write_links``) keeps every existing link, adds the newly confirmed ones (missing, unambiguous, and
not contradicting a candidate) and rewrites the one links file atomically.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import InputError, RemoteError
from .namespaces import CGO, DEFAULT_BASE, OWL, RDFS, WD, rebase_iri

if TYPE_CHECKING:
    from .load import LoadedGraph

WIKIDATA_ENDPOINT = "https://query.wikidata.org/sparql"
USER_AGENT = "citygraph/0.1 (https://w3id.org/citygraph/; linked-data publisher)"
WDT = "http://www.wikidata.org/prop/direct/"
PROPERTIES = {"siren": "P1616", "insee": "P374"}
DEFAULT_BATCH_SIZE = 50

CONFIRMED, MISSING, CONFLICTING, NOT_FOUND = "confirmed", "missing", "conflicting", "not-found"
OUTCOMES = (CONFIRMED, MISSING, CONFLICTING, NOT_FOUND)
OUTCOME_TITLES = {
    CONFIRMED: "confirmed (our link is Wikidata's item)",
    MISSING: "missing in our data (Wikidata has an item, we have no link)",
    CONFLICTING: "conflicting (ours and theirs differ)",
    NOT_FOUND: "not found on Wikidata",
}


@dataclass(frozen=True)
class Resource:
    """One resource to reconcile: which code identifies it and what links we hold."""

    iri: str
    label: str
    code_kind: str  # "siren" or "insee"
    code: str
    ours: tuple[str, ...] = ()  # Wikidata items linked with owl:sameAs
    candidate: str | None = None  # cgo:wikidataCandidate


@dataclass(frozen=True)
class Item:
    iri: str
    label: str


@dataclass(frozen=True)
class Reconciliation:
    resource: Resource
    outcome: str
    theirs: tuple[Item, ...] = ()

    @property
    def candidate_status(self) -> str | None:
        """For a missing link with a candidate: ``confirmed`` or ``contradicted`` by Wikidata."""
        if self.outcome != MISSING or not self.resource.candidate:
            return None
        return "confirmed" if self.resource.candidate in {i.iri for i in self.theirs} else "contradicted"

    @property
    def new_link(self) -> str | None:
        """The item to add to our links, if this is a missing link Wikidata settles on its own."""
        if self.outcome == MISSING and len(self.theirs) == 1 and self.candidate_status != "contradicted":
            return self.theirs[0].iri
        return None


@dataclass
class Report:
    results: list[Reconciliation] = field(default_factory=list)

    def by_outcome(self, outcome: str) -> list[Reconciliation]:
        return [r for r in self.results if r.outcome == outcome]

    def new_links(self) -> dict[str, str]:
        return {r.resource.iri: link for r in self.results if (link := r.new_link)}

    @property
    def needs_review(self) -> bool:
        """Conflicts, contradicted candidates or ambiguous codes: a person must look."""
        return any(
            r.outcome == CONFLICTING or r.candidate_status == "contradicted"
            or (r.outcome == MISSING and len(r.theirs) > 1)
            for r in self.results
        )


# ---------------------------------------------------------------- what we hold


def resources(graph: LoadedGraph) -> list[Resource]:
    """Communes (authorities, seats) by INSEE code, other authorities by SIREN, with links and candidates."""
    import pyoxigraph

    query = f"""
SELECT ?s ?label ?siren ?insee ?commune ?same ?candidate WHERE {{
  {{ ?s a <{CGO}LocalAuthority> }} UNION {{ ?s a <{CGO}Commune> }}
  OPTIONAL {{ ?s <{RDFS}label> ?label FILTER(LANGMATCHES(LANG(?label), "fr")) }}
  OPTIONAL {{ ?s <{CGO}siren> ?siren }}
  OPTIONAL {{ ?s <{CGO}inseeCode> ?insee }}
  BIND(EXISTS {{ ?s a <{CGO}Commune> }} AS ?commune)
  OPTIONAL {{ ?s <{OWL}sameAs> ?same FILTER(STRSTARTS(STR(?same), "{WD}")) }}
  OPTIONAL {{ ?s <{CGO}wikidataCandidate> ?candidate }}
}}"""
    rows = graph.store.query(query, default_graph=pyoxigraph.NamedNode(graph.data_graph))
    assert isinstance(rows, pyoxigraph.QuerySolutions)
    facts: dict[str, dict[str, Any]] = {}
    for row in rows:
        iri = row["s"].value
        entry = facts.setdefault(iri, {"label": "", "siren": None, "insee": None, "commune": False,
                                       "same": set(), "candidate": None})
        for key in ("label", "siren", "insee", "candidate"):
            if row[key] is not None:
                entry[key] = row[key].value
        entry["commune"] = entry["commune"] or row["commune"].value == "true"
        if row["same"] is not None:
            entry["same"].add(row["same"].value)
    found = []
    for iri, entry in sorted(facts.items()):
        kind, code = ("insee", entry["insee"]) if entry["commune"] else ("siren", entry["siren"])
        if not code:
            continue
        found.append(Resource(iri, entry["label"] or iri, kind, code, tuple(sorted(entry["same"])),
                              entry["candidate"]))
    return found


# ---------------------------------------------------------------- what Wikidata holds


def batch_query(kind: str, codes: Sequence[str]) -> str:
    """The SPARQL asking Wikidata for the items carrying ``codes`` (SIREN or INSEE), with their labels."""
    values = " ".join('"' + code.replace("\\", "").replace('"', "") + '"' for code in codes)
    return f"""PREFIX wdt: <{WDT}>
PREFIX rdfs: <{RDFS}>
SELECT ?code ?item ?label WHERE {{
  VALUES ?code {{ {values} }}
  ?item wdt:{PROPERTIES[kind]} ?code .
  OPTIONAL {{ ?item rdfs:label ?label FILTER(LANG(?label) = "fr") }}
}}"""


def _run(endpoint: str, query: str, *, timeout: float, retries: int = 3) -> list[dict[str, Any]]:
    """The bindings of one SELECT against the endpoint; RemoteError (exit 3) if it fails."""
    from urllib.error import HTTPError, URLError

    from SPARQLWrapper import GET, JSON, SPARQLWrapper
    from SPARQLWrapper.SPARQLExceptions import SPARQLWrapperException

    client = SPARQLWrapper(endpoint, agent=USER_AGENT)
    client.setMethod(GET)
    client.setReturnFormat(JSON)
    client.setTimeout(int(timeout))
    client.setQuery(query)
    for attempt in range(retries + 1):
        try:
            answer = client.queryAndConvert()
        except HTTPError as exc:
            if exc.code in (429, 503) and attempt < retries:  # Wikimedia asks clients to back off
                time.sleep(min(float(exc.headers.get("Retry-After") or 2 ** attempt), 60.0))
                continue
            raise RemoteError(f"{endpoint}: HTTP {exc.code} {exc.reason}") from None
        except URLError as exc:
            raise RemoteError(f"{endpoint}: cannot connect ({exc.reason})") from None
        except SPARQLWrapperException as exc:
            raise RemoteError(f"{endpoint}: {str(exc).splitlines()[0]}") from None
        except (TimeoutError, OSError) as exc:
            raise RemoteError(f"{endpoint}: {exc}") from None
        if not isinstance(answer, dict) or "results" not in answer:
            raise RemoteError(f"{endpoint}: the answer is not SPARQL JSON results")
        bindings: list[dict[str, Any]] = answer["results"]["bindings"]
        return bindings
    raise RemoteError(f"{endpoint}: still refused after {retries} retries")  # pragma: no cover


def lookup(endpoint: str, kind: str, codes: Sequence[str], *, batch_size: int = DEFAULT_BATCH_SIZE,
           timeout: float = 60.0, progress: Callable[[int], None] | None = None) -> dict[str, list[Item]]:
    """Items per code, asked in batches of ``batch_size`` codes, one request at a time."""
    found: dict[str, dict[str, str]] = {}
    unique = sorted(set(codes))
    for start in range(0, len(unique), batch_size):
        batch = unique[start : start + batch_size]
        for binding in _run(endpoint, batch_query(kind, batch), timeout=timeout):
            code, item = binding["code"]["value"], binding["item"]["value"]
            label = binding.get("label", {}).get("value", "")
            items = found.setdefault(code, {})
            items[item] = items.get(item) or label
        if progress:
            progress(len(batch))
    return {code: [Item(i, label) for i, label in sorted(items.items())] for code, items in found.items()}


def reconcile(subjects: Iterable[Resource], theirs: dict[str, dict[str, list[Item]]]) -> Report:
    """Compare our links with the items found per code (``theirs[kind][code]``)."""
    report = Report()
    for resource in subjects:
        items = tuple(theirs.get(resource.code_kind, {}).get(resource.code, []))
        their_iris = {i.iri for i in items}
        if not items:
            outcome = NOT_FOUND
        elif not resource.ours:
            outcome = MISSING
        elif set(resource.ours) <= their_iris:
            outcome = CONFIRMED
        else:
            outcome = CONFLICTING
        report.results.append(Reconciliation(resource, outcome, items))
    return report


def reconcile_with(graph: LoadedGraph, endpoint: str, *, batch_size: int = DEFAULT_BATCH_SIZE,
                   timeout: float = 60.0, show_progress: bool | None = None) -> Report:
    """Our resources, looked up on ``endpoint`` by code, compared: the whole reconciliation."""
    from tqdm import tqdm

    if batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    subjects = resources(graph)
    theirs: dict[str, dict[str, list[Item]]] = {}
    with tqdm(total=len({(s.code_kind, s.code) for s in subjects}), unit="code", desc="wikidata",
              file=sys.stderr, disable=not show_progress if show_progress is not None else None) as bar:
        for kind in PROPERTIES:
            codes = [s.code for s in subjects if s.code_kind == kind]
            theirs[kind] = lookup(endpoint, kind, codes, batch_size=batch_size, timeout=timeout,
                                  progress=bar.update)
    return reconcile(subjects, theirs)


# ---------------------------------------------------------------- the report, for people


def _short(iri: str) -> str:
    return "wd:" + iri[len(WD) :] if iri.startswith(WD) else f"<{iri}>"


def _item(item: Item) -> str:
    return f"{_short(item.iri)} «{item.label}»" if item.label else _short(item.iri)


def render(report: Report, *, base: str) -> str:
    """The report as text: one section per outcome, then a summary line."""
    lines: list[str] = []
    id_base = base + "id/"
    for outcome in OUTCOMES:
        results = report.by_outcome(outcome)
        lines.append(f"{OUTCOME_TITLES[outcome]}: {len(results)}")
        for r in results:
            res = r.resource
            name = "<" + res.iri[len(id_base) :] + ">" if res.iri.startswith(id_base) else f"<{res.iri}>"
            code = f"{'SIREN' if res.code_kind == 'siren' else 'INSEE'} {res.code}"
            text = f"  {name}  {res.label}  ({code})"
            ours = ", ".join(_short(o) for o in res.ours)
            theirs = ", ".join(_item(i) for i in r.theirs)
            if outcome == CONFIRMED:
                text += f"  {ours}"
            elif outcome == MISSING:
                text += f"  theirs: {theirs}"
                if r.candidate_status:
                    text += f"  [candidate {_short(res.candidate or '')} {r.candidate_status}]"
                if len(r.theirs) > 1:
                    text += "  [several items: not linked]"
            elif outcome == CONFLICTING:
                text += f"  ours: {ours}  theirs: {theirs}"
            elif res.ours:
                text += f"  ours: {ours} (kept)"
            lines.append(text)
    counts = ", ".join(f"{len(report.by_outcome(o))} {o}" for o in OUTCOMES)
    lines.append(f"summary: {counts}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- the links file

DEFAULT_HEADER = f"""@base <{DEFAULT_BASE}id/> .
@prefix owl:    <{OWL}> .
@prefix wd:     <{WD}> .

# Confirmed Wikidata items (reference table: two or more agreeing sources; or `citygraph link wikidata`).
# This file is rewritten by `citygraph link wikidata`; edit with care.

"""


def read_links(path: Path) -> dict[str, set[str]]:
    """The ``owl:sameAs`` links of the links file (IRIs under the default base); InputError if it has more."""
    import pyoxigraph

    from .load import parse_file

    links: dict[str, set[str]] = {}
    if not path.exists():
        return links
    for triple in parse_file(path):
        subject, obj = triple.subject, triple.object
        if (triple.predicate.value != OWL + "sameAs" or not isinstance(subject, pyoxigraph.NamedNode)
                or not isinstance(obj, pyoxigraph.NamedNode) or not obj.value.startswith(WD)):
            raise InputError(f"{path}: holds more than owl:sameAs links to Wikidata ({triple}); "
                             "it is rewritten by `citygraph link wikidata`, so keep other facts elsewhere")
        links.setdefault(subject.value, set()).add(obj.value)
    return links


def _header(path: Path) -> str:
    if not path.exists():
        return DEFAULT_HEADER
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
        stripped = line.strip()
        if stripped and not stripped.startswith(("@", "#", "PREFIX", "BASE")):
            break
        lines.append(line)
    return "".join(lines)


def links_text(path: Path, links: dict[str, set[str]], labels: dict[str, str]) -> str:
    """The links file's text: its header kept, one sorted line per link, with the resource's label."""
    id_base = DEFAULT_BASE + "id/"
    body = []
    for subject in sorted(links, key=lambda s: s[len(id_base):] if s.startswith(id_base) else s):
        name = subject[len(id_base) :] if subject.startswith(id_base) else subject
        for item in sorted(links[subject]):
            comment = f"  # {labels[subject]}" if labels.get(subject) else ""
            body.append(f"<{name}> owl:sameAs wd:{item[len(WD):]} .{comment}\n")
    return _header(path) + "".join(body)


def write_links(path: Path, report: Report, *, base: str) -> dict[str, str]:
    """Add the report's new links to the links file, rewritten atomically; returns what was added."""
    links = read_links(path)

    def to_default(iri: str) -> str:
        return rebase_iri(iri, DEFAULT_BASE, from_base=base)

    added: dict[str, str] = {}
    labels: dict[str, str] = {}
    for r in report.results:
        labels[to_default(r.resource.iri)] = r.resource.label
    for subject, item in report.new_links().items():
        key = to_default(subject)
        if item not in links.get(key, set()):
            links.setdefault(key, set()).add(item)
            added[subject] = item
    text = links_text(path, links, labels)
    try:
        _replace_atomically(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot write ({exc.strerror or exc}): the links file is unchanged") from None
    return added


def _replace_atomically(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path``, then rename it over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
