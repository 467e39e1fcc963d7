"""citygraph: the knowledge graph of French smart cities (JDN survey, February 2017) as linked open data.

The public API is small and lazy (importing the package costs nothing)::

    import citygraph
    graph = citygraph.load_graph()               # bundled ontology + data
    report = citygraph.validate_graph(graph)     # SHACL (pyshacl)
    rows = citygraph.run_query(graph, "authorities-by-kind")

(The functions are not named ``load``/``validate``/``query``: those are the submodules' names.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .load import LoadedGraph
    from .query import QueryResult
    from .validate import ValidationReport

__all__ = ["__version__", "load_graph", "run_query", "validate_graph"]


def load_graph(*paths: Any, base: str | None = None) -> LoadedGraph:
    """Load the bundled graph, or the given Turtle files over the bundled ontology."""
    from .load import load_graph as _load_graph

    return _load_graph(list(paths) or None, base=base)


def validate_graph(graph: LoadedGraph) -> ValidationReport:
    """Validate a loaded graph against the bundled SHACL shapes."""
    from .validate import validate_graph as _validate_graph

    return _validate_graph(graph)


def run_query(graph: LoadedGraph, name: str, **params: Any) -> QueryResult:
    """Run a named query (or a path to a .rq file) with bound parameters."""
    from .query import run_named_query

    return run_named_query(graph, name, params)
