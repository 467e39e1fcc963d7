"""SHACL validation: a loaded graph + the bundled shapes → a report (verdict, text, JSON, RDF).

Engines are interchangeable: each turns (graph, shapes file) into :class:`Violation` values; this module
adds the ``file:line`` where each focus resource is defined, sorts, and renders. Default engine: pyshacl.

Each engine's results follow the term conventions of :mod:`citygraph.violation`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import settings
from .errors import InputError
from .locate import locate_subjects
from .namespaces import PREFIXES, SH
from .violation import Violation, nt_string

if TYPE_CHECKING:
    from .load import LoadedGraph

SEVERITIES = ("Violation", "Warning", "Info")

# Engine name → "module:function". The function takes (graph: LoadedGraph, shapes: Path) and returns the
# violations (location left None: validate_graph fills it in). Imported only when chosen.
ENGINES: dict[str, str] = {
    "pyshacl": "citygraph.shacl_pyshacl:run_pyshacl",  # the reference
    "sparql": "citygraph.shacl_sparql:run_sparql",  # SHACL Core compiled to SPARQL on pyoxigraph (fast)
}
# Besides the engines, "auto": pyshacl up to 5k data triples, sparql above (shacl_sparql.choose_engine).
ENGINE_CHOICES = (*ENGINES, "auto")

EngineFunction = Callable[["LoadedGraph", Path], Iterable["Violation"]]

SHAPES_PREFIXES = {"cgsh": "https://w3id.org/citygraph/shapes#", **PREFIXES}


@dataclass
class ValidationReport:
    """The verdict and the results of one validation run."""

    conforms: bool
    violations: list[Violation]
    engine: str
    files: list[str] = field(default_factory=list)

    def to_text(self, lang: str = "en") -> str:
        """For people: results grouped by resource, each with message, property, value and shape."""
        words = _WORDS.get(lang, _WORDS["en"])
        if not self.violations:
            return words["conforms"].format(files=len(self.files), engine=self.engine) + "\n"
        lines: list[str] = []
        for focus, group in _group_by_focus(self.violations):
            where = f"  ({group[0].location})" if group[0].location else ""
            lines.append(f"{_display_term(focus)}{where}")
            # One entry per (shape, path): the failed constraints of one rule share its message.
            entries: dict[tuple[str, str | None], list[Violation]] = {}
            for v in group:
                entries.setdefault((v.source_shape, v.path), []).append(v)
            for (shape, path), same in entries.items():
                lines.append(f"  - {same[0].message(lang)}")
                if path is not None:
                    lines.append(f"      {words['property']}: {_display_path(path)}")
                values = list(dict.fromkeys(_display_term(v.value) for v in same if v.value is not None))
                if values:
                    lines.append(f"      {words['value']}: {', '.join(values)}")
                constraints = ", ".join(dict.fromkeys(f"sh:{v.constraint}" for v in same))
                lines.append(f"      [{same[0].severity}: {_compact(shape)}, {constraints}]")
            lines.append("")
        count = sum(1 for v in self.violations if v.severity == "Violation")
        resources = len({v.focus for v in self.violations})
        verdict = words["conforms_short"] if self.conforms else words["fails"]
        lines.append(
            words["summary"].format(
                verdict=verdict,
                results=len(self.violations),
                violations=count,
                resources=resources,
                engine=self.engine,
            )
        )
        return "\n".join(lines) + "\n"

    def to_json(self) -> str:
        """For programs: one object with the verdict, the engine, the files and every result."""
        import json

        payload: dict[str, Any] = {
            "conforms": self.conforms,
            "engine": self.engine,
            "files": self.files,
            "violations": [asdict(v) for v in self.violations],
        }
        return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"

    def to_turtle(self) -> str:
        """A W3C ``sh:ValidationReport`` graph in Turtle."""
        import pyoxigraph

        lines = [
            f"_:report <{RDF_TYPE}> <{SH}ValidationReport> .",
            f'_:report <{SH}conforms> "{str(self.conforms).lower()}"^^<{XSD_BOOLEAN}> .',
        ]
        for index, v in enumerate(self.violations):
            node = f"_:r{index}"
            lines += [
                f"_:report <{SH}result> {node} .",
                f"{node} <{RDF_TYPE}> <{SH}ValidationResult> .",
                f"{node} <{SH}focusNode> {_nt_term(v.focus)} .",
                f"{node} <{SH}resultSeverity> <{SH}{v.severity}> .",
                f"{node} <{SH}sourceShape> {_nt_term(v.source_shape)} .",
                f"{node} <{SH}sourceConstraintComponent> <{SH}{v.constraint}> .",
            ]
            if v.value is not None:
                lines.append(f"{node} <{SH}value> {_nt_term(v.value)} .")
            if v.path is not None:
                path_node, path_lines = _path_to_nt(v.path, f"_:p{index}")
                lines.append(f"{node} <{SH}resultPath> {path_node} .")
                lines += path_lines
            for lang, text in sorted(v.messages.items()):
                suffix = f"@{lang}" if lang else ""
                lines.append(f"{node} <{SH}resultMessage> {nt_string(text)}{suffix} .")
        triples = pyoxigraph.parse("\n".join(lines).encode("utf-8"), format=pyoxigraph.RdfFormat.N_TRIPLES)
        names = (
            "sh",
            "cgsh",
            "rdf",
            "xsd",
            "cgo",
            "org",
            "foaf",
            "skos",
            "rdfs",
            "prov",
            "owl",
            "geo",
            "dct",
        )
        prefixes = {name: SHAPES_PREFIXES[name] for name in names}
        out = pyoxigraph.serialize(
            [q.triple for q in triples], format=pyoxigraph.RdfFormat.TURTLE, prefixes=prefixes
        )
        return (out or b"").decode("utf-8")


RDF_TYPE = PREFIXES["rdf"] + "type"
XSD_BOOLEAN = PREFIXES["xsd"] + "boolean"

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "conforms": "Conforms: the data of {files} file(s) satisfies every shape (engine {engine}).",
        "conforms_short": "Conforms",
        "fails": "Does not conform",
        "summary": "{verdict}: {results} result(s), {violations} violation(s), on {resources} resource(s) "
        "(engine {engine}).",
        "property": "property",
        "value": "value",
    },
    "fr": {
        "conforms": "Conforme : les données de {files} fichier(s) respectent toutes les formes "
        "(moteur {engine}).",
        "conforms_short": "Conforme",
        "fails": "Non conforme",
        "summary": "{verdict} : {results} résultat(s), {violations} violation(s), "
        "sur {resources} ressource(s) (moteur {engine}).",
        "property": "propriété",
        "value": "valeur",
    },
}


# ---------------------------------------------------------------- running an engine


def validate_graph(
    graph: LoadedGraph, *, engine: str = "pyshacl", shapes: Path | None = None
) -> ValidationReport:
    """Validate the data of ``graph`` against the shapes (default: the bundled ``ontology/shapes.ttl``).

    ``engine``: a key of ``ENGINES``, or ``auto`` (the report names the engine it chose).
    """
    if engine not in ENGINE_CHOICES:
        raise InputError(
            f"unknown validation engine {engine!r} (choose from: {', '.join(sorted(ENGINE_CHOICES))})"
        )
    import importlib

    shapes_path = shapes or settings.shapes_file()
    if engine == "auto":
        from .shacl_sparql import choose_engine

        engine = choose_engine(graph, shapes_path)
    module_name, function_name = ENGINES[engine].split(":")
    run: EngineFunction = getattr(importlib.import_module(module_name), function_name)
    unique: dict[tuple[str, str | None, str | None, str, str], Violation] = {}
    for v in run(graph, shapes_path):
        unique.setdefault((v.focus, v.path, v.value, v.source_shape, v.constraint), v)
    # Locating subjects reads every file: only worth it when there is something to locate.
    locations = locate_subjects(graph.data_files, base=graph.base) if unique else {}
    for key, v in unique.items():
        if not v.location:
            unique[key] = replace(v, location=locations.get(v.focus))
    violations = sorted(unique.values(), key=Violation.sort_key)
    return ValidationReport(
        conforms=not any(v.severity == "Violation" for v in violations),
        violations=violations,
        engine=engine,
        files=[str(p) for p in graph.data_files],
    )


# ---------------------------------------------------------------- rendering helpers


def _group_by_focus(violations: Sequence[Violation]) -> list[tuple[str, list[Violation]]]:
    groups: dict[str, list[Violation]] = {}
    for v in violations:
        groups.setdefault(v.focus, []).append(v)
    return list(groups.items())


def _compact(iri: str) -> str:
    for prefix, namespace in SHAPES_PREFIXES.items():
        if iri.startswith(namespace) and re.fullmatch(r"[\w.-]*", iri[len(namespace) :]):
            return f"{prefix}:{iri[len(namespace) :]}"
    return f"<{iri}>"


def _display_term(term: str) -> str:
    if term.startswith('"'):
        return re.sub(r"\^\^<([^>]*)>$", lambda m: "^^" + _compact(m.group(1)), term)
    if term.startswith("_:"):
        return term
    return f"<{term}>"


def _display_path(path: str) -> str:
    if "<" not in path:
        return _compact(path)
    return re.sub(r"<([^>]*)>", lambda m: _compact(m.group(1)), path)


def _nt_term(term: str) -> str:
    if term.startswith(('"', "_:")):
        return term
    return f"<{term}>"


_PATH_TOKEN_PATTERN = r"<[^>]*>|[\^/|()*+?]"


def _path_to_nt(path: str, node: str) -> tuple[str, list[str]]:
    """Path text (see module docstring) → (term, N-Triples lines) in SHACL path syntax."""
    if "<" not in path:
        return f"<{path}>", []
    tokens = re.findall(_PATH_TOKEN_PATTERN, path)
    lines: list[str] = []
    counter = iter(range(10_000))

    def fresh() -> str:
        return f"{node}_{next(counter)}"

    def sequence(items: list[str]) -> str:
        if len(items) == 1:
            return items[0]
        head = fresh()
        current = head
        for i, item in enumerate(items):
            lines.append(f"{current} <{RDF_FIRST}> {item} .")
            following = fresh() if i < len(items) - 1 else f"<{RDF_NIL}>"
            lines.append(f"{current} <{RDF_REST}> {following} .")
            current = following
        return head

    position = 0

    def parse_alternative() -> str:
        nonlocal position
        options = [parse_sequence()]
        while position < len(tokens) and tokens[position] == "|":
            position += 1
            options.append(parse_sequence())
        if len(options) == 1:
            return options[0]
        wrapper = fresh()
        lines.append(f"{wrapper} <{SH}alternativePath> {sequence(options)} .")
        return wrapper

    def parse_sequence() -> str:
        nonlocal position
        steps = [parse_step()]
        while position < len(tokens) and tokens[position] == "/":
            position += 1
            steps.append(parse_step())
        return sequence(steps)

    def parse_step() -> str:
        nonlocal position
        inverse = position < len(tokens) and tokens[position] == "^"
        if inverse:
            position += 1
        token = tokens[position]
        position += 1
        if token == "(":
            term = parse_alternative()
            position += 1  # ')'
        else:
            term = token
        while position < len(tokens) and tokens[position] in ("*", "+", "?"):
            predicate = {"*": "zeroOrMorePath", "+": "oneOrMorePath", "?": "zeroOrOnePath"}[tokens[position]]
            position += 1
            wrapper = fresh()
            lines.append(f"{wrapper} <{SH}{predicate}> {term} .")
            term = wrapper
        if inverse:
            wrapper = fresh()
            lines.append(f"{wrapper} <{SH}inversePath> {term} .")
            term = wrapper
        return term

    return parse_alternative(), lines


RDF_FIRST = PREFIXES["rdf"] + "first"
RDF_REST = PREFIXES["rdf"] + "rest"
RDF_NIL = PREFIXES["rdf"] + "nil"
