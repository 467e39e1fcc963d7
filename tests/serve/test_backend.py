"""The embedded backend's worker pool: an engine error answers one query with a 4xx; the worker lives on."""

from __future__ import annotations

import asyncio

import pytest

from citygraph.serve.backend import EmbeddedBackend
from citygraph.serve.errors import HttpProblem
from citygraph.serve.state import ServeConfig

COUNT_PROGRAMMES = (
    "SELECT (COUNT(*) AS ?n) WHERE { ?p a <https://w3id.org/citygraph/ontology#SmartCityProgramme> }"
)


def test_binding_an_unprojected_variable_is_a_client_error_not_a_dead_worker() -> None:
    async def scenario() -> tuple[BaseException, int]:
        backend = EmbeddedBackend(ServeConfig(query_workers=1))
        await backend.start()
        try:
            with pytest.raises(HttpProblem) as refused:
                await backend.select("SELECT ?s WHERE { ?s ?p ?o } LIMIT 1", bindings={"hidden": "x"})
            answer = await backend.select(COUNT_PROGRAMMES)
            return refused.value, int(answer.rows[0]["n"].value)
        finally:
            await backend.close()

    error, programmes = asyncio.run(scenario())
    assert getattr(error, "status", None) == 400
    assert programmes == 24


def test_a_graph_too_large_to_copy_is_read_from_the_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Above IN_MEMORY_MAX_QUADS neither the workers nor the fast path copy the graph (a 728k-quad graph
    took the workers past their start time): they read the on-disk store and answer the same."""
    import citygraph.serve.backend as backend_module

    monkeypatch.setattr(backend_module, "IN_MEMORY_MAX_QUADS", 100)  # the bundled graph is "large" now

    async def scenario() -> tuple[bool, int, bytes]:
        backend = EmbeddedBackend(ServeConfig(query_workers=1))
        await backend.start()
        try:
            assert backend.pool is not None and backend.fast_store is not None
            answer = await backend.select(COUNT_PROGRAMMES)
            lookup = backend.answer_in_process(
                'SELECT ?s WHERE { ?s <https://w3id.org/citygraph/ontology#inseeCode> "44109" }',
                ["application/sparql-results+json"],
            )
            assert lookup is not None
            return backend.pool.in_memory, int(answer.rows[0]["n"].value), lookup.body
        finally:
            await backend.close()

    in_memory, programmes, body = asyncio.run(scenario())
    assert not in_memory
    assert programmes == 24
    assert b"https://w3id.org/citygraph/id/commune/nantes" in body
