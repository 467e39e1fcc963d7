"""citygraph: the knowledge graph of French smart cities (JDN survey, February 2017) as linked open data.

The public API is small and lazy (importing the package costs nothing)::

    import citygraph
    graph = citygraph.load()                 # bundled ontology + data
    report = citygraph.validate(graph)       # SHACL (pyshacl)
    rows = citygraph.query(graph, "authorities-by-kind")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .load import LoadedGraph
    from .query import QueryResult
    from .validate import ValidationReport

__all__ = ["__version__", "load", "query", "validate"]


def load(*paths: Any, base: str | None = None) -> LoadedGraph:
    """Load the bundled graph, or the given Turtle files over the bundled ontology."""
    from .load import load_graph

    return load_graph(list(paths) or None, base=base)


def validate(graph: LoadedGraph) -> ValidationReport:
    """Validate a loaded graph against the bundled SHACL shapes."""
    from .validate import validate_graph

    return validate_graph(graph)


def query(graph: LoadedGraph, name: str, **params: str) -> QueryResult:
    """Run a named query (or a path to a .rq file) with bound parameters."""
    from .query import run_named_query

    return run_named_query(graph, name, params)
