"""The site in a real browser: headless Chromium (Debian's package) driven by Playwright, offline.

Every request to a host other than the loopback is aborted, so a page that needed the network (a CDN script,
a web font) would fail and log an error. The pages must load with no console error and no uncaught exception,
and a label that holds markup must never run as script (no dialog opens). Screenshots go to the temp dir.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from citygraph.namespaces import DEFAULT_BASE

playwright_api = pytest.importorskip("playwright.sync_api")

CHROMIUM = os.environ.get("CITYGRAPH_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(os.environ.get("CITYGRAPH_SCREENSHOTS", tempfile.gettempdir()))
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
ID = DEFAULT_BASE + "id/"
EVIL = '</script><script>alert("xss")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium package")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


class Visit:
    """A fresh page that blocks non-loopback requests and records console errors, page errors and dialogs."""

    def __init__(self, browser: object, locale: str = "fr-FR") -> None:
        self.context = browser.new_context(locale=locale, viewport={"width": 1100, "height": 900})  # type: ignore[attr-defined]
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.blocked: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("console", lambda msg: self.errors.append(msg.text) if msg.type == "error" else None)
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("dialog", self._dialog)
        self.page.route("**/*", self._route)

    def _dialog(self, dialog: object) -> None:
        self.dialogs.append(dialog.message)  # type: ignore[attr-defined]
        dialog.dismiss()  # type: ignore[attr-defined]

    def _route(self, route: object, request: object) -> None:
        host = urlsplit(request.url).hostname or ""  # type: ignore[attr-defined]
        if host in LOOPBACK:
            route.continue_()  # type: ignore[attr-defined]
        else:
            self.blocked.append(request.url)  # type: ignore[attr-defined]
            route.abort()  # type: ignore[attr-defined]

    def open(self, url: str, screenshot: str) -> None:
        response = self.page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == 200, url
        self.page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)

    def close(self) -> None:
        self.context.close()


def test_home_authority_and_named_query_pages_load_cleanly(browser: object, live_server) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser)
    try:
        visit.open(live_server.url + "/", "citygraph-home.png")
        assert visit.page.locator("html").get_attribute("lang") == "fr"
        assert visit.page.locator("svg circle.dot").count() == 24
        assert visit.page.locator("svg rect.bar").count() == 4
        # Follow a link on the map, as a person would.
        visit.page.locator('a[href="/page/authority/nantes-metropole"]').first.click()
        visit.page.wait_for_load_state("networkidle")
        assert visit.page.url.endswith("/page/authority/nantes-metropole")
        visit.page.screenshot(path=str(SCREENSHOTS / "citygraph-authority.png"), full_page=True)
        assert "Nantes Métropole" in visit.page.locator("h1").inner_text()
        structured = json.loads(visit.page.locator('script[type="application/ld+json"]').text_content() or "")
        assert structured["@id"] == ID + "authority/nantes-metropole"
        visit.open(live_server.url + "/queries/authorities-under-population?max=250000&basis=authority",
                   "citygraph-query.png")
        assert visit.page.locator("table.results tr").count() > 1
        # The language switch.
        visit.page.locator('.lang a[lang="en"]').click()
        visit.page.wait_for_load_state("networkidle")
        assert visit.page.locator("html").get_attribute("lang") == "en"
        assert visit.errors == [], visit.errors
        assert visit.blocked == [], visit.blocked  # these pages ask nothing of the network
    finally:
        visit.close()


def test_sparql_page_works_offline_with_the_plain_form(browser: object, live_server) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser, locale="en-GB")
    try:
        visit.open(live_server.url + "/query", "citygraph-sparql.png")
        assert visit.page.locator("html").get_attribute("lang") == "en"
        visit.page.select_option("#sparql-format", "json")
        with visit.page.expect_response(lambda r: r.url.endswith("/sparql")) as answer:
            visit.page.locator('#sparql-form button[type="submit"]').click()
        response = answer.value
        assert response.status == 200
        assert len(json.loads(response.body())["results"]["bindings"]) == 24
        assert visit.errors == [], visit.errors
        assert visit.blocked == []  # nothing fetched from the CDN until the user asks for YASGUI
        # Asking for YASGUI offline: the CDN request fails; the plain form stays, the button can be retried.
        visit.page.go_back(wait_until="networkidle")
        button = visit.page.locator("#yasgui-button")
        with visit.page.expect_event("requestfailed", lambda r: "cdn.jsdelivr.net" in r.url, timeout=30_000):
            button.click()
        # A locator wait, not wait_for_function: that one evals a string in the page, which the site's CSP
        # (no 'unsafe-eval') forbids; Playwright's own locator engine is not subject to it.
        playwright_api.expect(button).to_be_enabled(timeout=30_000)
        assert any("cdn.jsdelivr.net" in url for url in visit.blocked)
        assert visit.page.locator("#sparql-form").is_visible()
        assert visit.page.locator("#sparql-query").is_editable()
    finally:
        visit.close()


def test_markup_in_a_label_never_runs(browser: object, start_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    evil = tmp_path / "evil.ttl"
    evil.write_text(
        f"<{ID}authority/evil> a <{DEFAULT_BASE}ontology#LocalAuthority> ;\n"
        f"  <http://www.w3.org/2000/01/rdf-schema#label> {json.dumps(EVIL)}@fr ;\n"
        f"  <{DEFAULT_BASE}ontology#seat> <{ID}commune/angers> .\n", encoding="utf-8")
    server = start_server(graphs=[("urn:x-test:evil", evil)])
    visit = Visit(browser)
    try:
        for path, shot in (("/page/authority/evil", "citygraph-evil.png"), ("/", "citygraph-evil-home.png")):
            visit.open(server.url + path, shot)
        assert visit.page.get_by_text(EVIL).count() >= 1  # shown as text
        visit.page.goto(server.url + "/page/authority/evil", wait_until="networkidle")
        assert visit.page.locator("h1").inner_text() == EVIL
        assert visit.dialogs == [], visit.dialogs
        assert visit.errors == [], visit.errors
        assert visit.page.locator("img").count() == 0  # the label's <img onerror=…> never became markup
    finally:
        visit.close()
