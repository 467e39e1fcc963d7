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
