"""HTTP errors of the server: one JSON shape for machines, a hook for the HTML page people see.

Every error the server answers is an :class:`HttpProblem` — also the query workers' refusals
(``workers.Refusal`` is one), so this module imports no web framework until a response is built. Machines get
``{"error": {"status": 400, "title": "Bad Request", "detail": "…"}}`` as ``application/json``; a browser
(``Accept: text/html`` preferred) gets the page rendered by the app's pages (``ServerState.html_error_renderer``,
set when the pages' routes are built), or plain text if the app has none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

JSON_ERROR_MEDIA_TYPE = "application/json"


class HttpProblem(Exception):
    """An error answer: HTTP status, short title, human detail (e.g. the SPARQL parser's message)."""

    def __init__(
        self, status: int, detail: str, *, title: str | None = None, headers: Mapping[str, str] | None = None,
        key: str | None = None, fields: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title or HTTPStatus(status).phrase
        self.detail = detail
        self.headers = dict(headers or {})
        # For pages in the reader's language: a key of the site's message tables and its fields (None: the
        # page says what the status means and shows ``detail`` as it is).
        self.key = key
        self.fields = dict(fields or {})

    def as_json(self) -> dict[str, dict[str, object]]:
        return {"error": {"status": self.status, "title": self.title, "detail": self.detail}}


class QuerySyntaxError(HttpProblem):
    """The query (or a parameter) does not parse: 400 with the parser's message."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, detail, title="Bad Request: SPARQL syntax error")


class QueryRefused(HttpProblem):
    """A query the endpoint will not run (SERVICE, too large, too many patterns, an update)."""


class QueryTimeout(HttpProblem):
    """The query ran past the time limit and was stopped."""

    def __init__(self, limit: float) -> None:
        super().__init__(
            503,
            f"the query ran past the time limit of {limit:g} s and was stopped",
            title="Query time limit exceeded",
        )


class BackendFailure(HttpProblem):
    """The query engine (a worker process or a remote store) failed while answering."""

    def __init__(self, detail: str, status: int = 502) -> None:
        super().__init__(status, detail)


def wants_html(request: Request) -> bool:
    """True when the client prefers HTML over JSON (a browser), judged from Accept's q-values."""
    from .conneg import negotiate

    accept = request.headers.get("accept")
    if not accept:
        return False
    return negotiate(accept, ("application/json", "text/html"), default=None) == "text/html"


def json_error(problem: HttpProblem) -> Response:
    from starlette.responses import Response

    body = json.dumps(problem.as_json(), ensure_ascii=False).encode("utf-8")
    headers = {"Access-Control-Allow-Origin": "*", **problem.headers}
    return Response(body, status_code=problem.status, media_type=JSON_ERROR_MEDIA_TYPE, headers=headers)


HtmlRenderer = Callable[["Request", HttpProblem], "Response"]


def error_response(request: Request, problem: HttpProblem) -> Response:
    """The answer for an error: the HTML page for a browser, the JSON shape for everyone else.

    The page comes from the renderer this app's pages installed on its state (``html_error_renderer``).
    """
    if wants_html(request):
        app = request.scope.get("app")
        state = getattr(getattr(app, "state", None), "citygraph", None)
        renderer: HtmlRenderer | None = getattr(state, "html_error_renderer", None)
        if renderer is not None:
            return renderer(request, problem)
        from starlette.responses import PlainTextResponse

        return PlainTextResponse(
            f"{problem.status} {problem.title}\n\n{problem.detail}\n",
            status_code=problem.status,
            headers=problem.headers,
        )
    return json_error(problem)


async def handle_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HttpProblem)
    return error_response(request, exc)


async def handle_http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own errors (404 for an unknown path, 405 for a wrong method) in the same shape."""
    from starlette.exceptions import HTTPException

    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    if exc.status_code == 404 and detail == HTTPStatus(404).phrase:
        problem = HttpProblem(404, f"nothing at {request.url.path}", headers=headers, key="nothing_at",
                              fields={"path": request.url.path})
        return error_response(request, problem)
    return error_response(request, HttpProblem(exc.status_code, detail, headers=headers))


# Added by the pages helper (H4b): an unexpected exception answers 500 in the same shapes (JSON, or the site's
# error page for a browser) instead of Starlette's bare text; the server still logs the traceback.
async def handle_server_error(request: Request, exc: Exception) -> Response:
    """Any unexpected failure: a 500 that names no internals."""
    return error_response(request, HttpProblem(500, "the server failed to answer this request"))


def exception_handlers() -> dict[type[Exception] | int, Callable[[Request, Exception], object]]:
    """The application's handlers: every error in the shapes above."""
    from starlette.exceptions import HTTPException

    return {HttpProblem: handle_problem, HTTPException: handle_http_exception, 500: handle_server_error}
