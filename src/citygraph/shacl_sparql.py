"""SHACL Core shapes compiled to SPARQL, run on pyoxigraph: the fast validation engine (``engine="sparql"``).

The shapes graph is read into a small model (:mod:`.shacl_shapes`); each constraint of each (target shape,
property shape) pair becomes one SELECT (:mod:`.shacl_compile`) over the data graph (data + ontology, as
pyshacl sees them with ``ont_graph``), returning the focus node and, for per-value constraints, the
offending value. Nested shapes (``sh:node``, ``sh:not``, ``sh:or``, ``sh:and``, ``sh:xone``,
``sh:qualifiedValueShape``) become boolean SPARQL expressions. This module plans and runs the checks
(screened, in forked processes on large graphs). Results use the term conventions of
:mod:`citygraph.violation`, and tests check they equal pyshacl's on the bundled graph, on every failing
fixture and on a generated sample.

Supported: targets (class, subjectsOf, objectsOf, node), predicate/inverse/sequence/alternative paths,
class, datatype, nodeKind, minCount, maxCount, minExclusive/minInclusive/maxExclusive/maxInclusive,
minLength, maxLength, pattern (+flags), languageIn, uniqueLang, in, hasValue, node, not, and, or, xone,
qualifiedValueShape with qualifiedMinCount/qualifiedMaxCount, lessThan, lessThanOrEquals, equals, disjoint.
Anything else raises :class:`UnsupportedShapes` (``--engine auto`` then falls back to pyshacl).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .namespaces import RDF, RDFS, SH
from .shacl_compile import Check, Compiler
from .shacl_shapes import Shape, ShapesGraph, Term, UnsupportedShapes

if TYPE_CHECKING:
    import pyoxigraph

    from .load import LoadedGraph
    from .violation import Violation

# Above this many suspects a screened shape runs its checks on every focus node (a VALUES block that size
# costs more than it saves).
SUSPECTS_LIMIT = 2_000


@dataclass
class Task:
    """A unit of work: the checks of some shapes of one top-level shape, after a screen when there is one."""

    top: Shape
    shapes: list[Shape]
    screen: str | None = None  # a query naming the suspect focus nodes; None: check every focus node
    weight: int = 0  # a size estimate: big tasks start first

    def run(self, store: pyoxigraph.Store, default: list[Any], compiler: Compiler) -> list[Violation]:
        import pyoxigraph

        restrict: list[Term] = []
        if self.screen is not None:
            suspects = [row["this"] for row in store.query(self.screen, default_graph=default)]  # type: ignore[union-attr,index]
            if not suspects:
                return []
            blank = any(isinstance(t, pyoxigraph.BlankNode) for t in suspects)  # VALUES cannot name them
            if len(suspects) <= SUSPECTS_LIMIT and not blank:
                restrict = suspects
        checks = [check for shape in self.shapes for check in compiler.checks(self.top, shape, restrict)]
        return _run_checks(store, default, checks)


def plan(shapes: ShapesGraph, compiler: Compiler, *, screen: bool = True) -> list[Task]:
    """The tasks of a validation: per top-level shape, one screened task for its simple property shapes
    (``screen``) and one task per other shape (the top-level shape's own constraints, complex paths)."""
    tasks: list[Task] = []
    for top in shapes.top_level():
        if not top.params:  # deactivated
            continue
        tasks.append(Task(top, [top]))
        properties = [prop for prop in top.properties if prop.params]
        screened = [prop for prop in properties if screen and compiler.screenable(prop)]
        tasks += [Task(top, [prop]) for prop in properties if prop not in screened]
        if screened:
            tasks.append(Task(top, screened, compiler.screen(top, screened)))
    return tasks


def _weigh(tasks: Sequence[Task], store: pyoxigraph.Store, compiler: Compiler) -> None:
    """Set each task's weight: its focus nodes of class targets, times the checks it may run."""
    import pyoxigraph

    rdf_type = pyoxigraph.NamedNode(RDF + "type")
    sizes: dict[str, int] = {}
    for task in tasks:
        foci = 0
        for kind, target in task.top.targets:
            if kind == "targetClass":
                for cls in compiler.subclasses[target.value]:
                    if cls not in sizes:
                        sizes[cls] = sum(1 for _ in store.quads_for_pattern(None, rdf_type, pyoxigraph.NamedNode(cls)))
                    foci += sizes[cls]
        task.weight = foci * (3 if task.screen is not None else len(task.shapes))


def _classes_used(shapes: ShapesGraph) -> set[str]:
    import pyoxigraph

    found: set[str] = set()
    for name in ("targetClass", "class"):
        for quad in shapes.store.quads_for_pattern(None, pyoxigraph.NamedNode(SH + name), None):
            found.add(str(getattr(quad.object, "value", "")))
    return found


def _subclasses(
    store: pyoxigraph.Store, graphs: Sequence[pyoxigraph.NamedNode], classes: set[str]
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for cls in sorted(classes):
        rows = store.query(f"SELECT DISTINCT ?c WHERE {{ ?c <{RDFS}subClassOf>* <{cls}> }}", default_graph=list(graphs))
        found[cls] = sorted({row["c"].value for row in rows if hasattr(row["c"], "value")} | {cls})  # type: ignore[union-attr,index]
    return found


def term_text(term: Term) -> str:
    """The report's text for a term (see :mod:`citygraph.violation`): IRI bare, ``_:id``, N-Triples literal."""
    import pyoxigraph

    if isinstance(term, pyoxigraph.NamedNode):
        return term.value
    return str(term)


def validate_store(
    store: pyoxigraph.Store,
    graphs: Sequence[str],
    shapes: ShapesGraph,
    *,
    processes: int = 1,
    screen: bool = True,
) -> list[Violation]:
    """Run every check on the union of ``graphs`` of ``store``.

    ``screen``: first find, with one query per top-level shape, the focus nodes that may break one of its
    simple property shapes, then run their detailed checks on those nodes only (the same results, far fewer
    reads on a large graph that mostly conforms). ``processes > 1`` (Linux): forked children, which read the
    parent's in-memory store copy-on-write (pyoxigraph queries scale with processes, not threads), take the
    tasks one at a time, biggest first.
    """
    import pyoxigraph

    default: list[Any] = [pyoxigraph.NamedNode(g) for g in graphs]
    compiler = Compiler(shapes, _subclasses(store, default, _classes_used(shapes)))
    tasks = plan(shapes, compiler, screen=screen)
    _weigh(tasks, store, compiler)
    tasks.sort(key=lambda task: -task.weight)
    if processes > 1 and hasattr(os, "fork") and len(tasks) > 1:
        return _run_forked(store, default, compiler, tasks, processes)
    return [v for task in tasks for v in task.run(store, default, compiler)]


def _run_checks(store: pyoxigraph.Store, default: list[Any], checks: Sequence[Check]) -> list[Violation]:
    from .violation import Violation

    results: list[Violation] = []
    for check in checks:
        shape = check.shape
        for row in store.query(check.query, default_graph=default):  # type: ignore[union-attr]
            value = row["value"] if check.has_value else None
            for component in check.failed(row):
                results.append(
                    Violation(
                        focus=term_text(row["this"]),
                        path=shape.path.text() if shape.path is not None else None,
                        value=None if value is None else term_text(value),
                        messages=dict(shape.messages),
                        severity=shape.severity,
                        source_shape=term_text(shape.node),
                        constraint=component,
                    )
                )
    return results


def _run_forked(
    store: pyoxigraph.Store, default: list[Any], compiler: Compiler, tasks: Sequence[Task], processes: int
) -> list[Violation]:
    """Forked children take the tasks in order from a shared counter; each sends back its violations by
    task through a pipe. The result is in task order whichever child ran what."""
    import multiprocessing
    import pickle

    counter = multiprocessing.get_context("fork").Value("i", 0)
    children: list[tuple[int, int]] = []
    for _ in range(processes):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: run tasks until none is left, write the pickled results, leave at once
            os.close(read_end)
            status = 0
            try:
                done: dict[int, list[Violation]] = {}
                while True:
                    with counter.get_lock():
                        index = counter.value
                        counter.value += 1
                    if index >= len(tasks):
                        break
                    done[index] = tasks[index].run(store, default, compiler)
                with os.fdopen(write_end, "wb") as out:
                    out.write(pickle.dumps(done))
            except BaseException:  # a forked child must never return into the caller: exit, the parent retries
                status = 1
            os._exit(status)
        os.close(write_end)
        children.append((pid, read_end))
    found: dict[int, list[Violation]] = {}
    failed = False
    for pid, read_end in children:
        with os.fdopen(read_end, "rb") as source:
            data = source.read()
        _, status = os.waitpid(pid, 0)
        if status != 0 or not data:
            failed = True
            continue
        found.update(pickle.loads(data))
    if failed or len(found) != len(tasks):  # a child died (memory, signal): run everything here
        return [v for task in tasks for v in task.run(store, default, compiler)]
    return [v for index in range(len(tasks)) for v in found[index]]


def run_sparql(graph: LoadedGraph, shapes: Path) -> list[Violation]:
    """The ``sparql`` engine of :func:`citygraph.validate.validate_graph` (data + ontology, as pyshacl)."""
    return validate_store(
        graph.store,
        [graph.data_graph, graph.ontology_graph],
        ShapesGraph.from_file(shapes, base=graph.base),
        processes=2 if graph.triple_count() > PARALLEL_THRESHOLD else 1,
    )


PARALLEL_THRESHOLD = 200_000  # data triples above which the checks run in two processes


AUTO_THRESHOLD = 5_000  # data triples above which ``auto`` picks this engine (pyshacl: ~2.5 s at 5k, 6 s at 14k)


def choose_engine(graph: LoadedGraph, shapes: Path) -> str:
    """What ``auto`` runs: ``pyshacl`` (the reference) up to ``AUTO_THRESHOLD`` data triples, ``sparql``
    above, unless the shapes use something this engine does not compile (then ``pyshacl`` whatever the size)."""
    if graph.triple_count() <= AUTO_THRESHOLD:
        return "pyshacl"
    try:
        shapes_graph = ShapesGraph.from_file(shapes, base=graph.base)
        compiler = Compiler(shapes_graph, {cls: [cls] for cls in _classes_used(shapes_graph)})
        for task in plan(shapes_graph, compiler):
            for shape in task.shapes:
                list(compiler.checks(task.top, shape))
    except UnsupportedShapes:
        return "pyshacl"
    return "sparql"
