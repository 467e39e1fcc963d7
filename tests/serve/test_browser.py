"""The site in a real browser: headless Chromium (Debian's package) driven by Playwright, offline.

Every request to a host other than the loopback is aborted, so a page that needed the network (a CDN script,
a web font, map tiles) would fail and log an error. Every kind of page, at 1280×800 and on a 390×844 phone,
must load with no console error, no uncaught exception, no request leaving the server and nothing wider than
the window; axe-core (npm, installed by .ci/run) must find no serious or critical accessibility violation;
YASGUI must run a named query and show its rows; the map must zoom and its markers lead to the right pages;
a label that holds markup must never run as script. Screenshots go to $CITYGRAPH_SCREENSHOTS (or the temp dir).
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
AXE = Path(__file__).resolve().parent / "axe" / "node_modules" / "axe-core" / "axe.min.js"  # .ci/run installs it
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
# One page of each kind (status expected): home, authority, person, other resources, ontology, named queries
# (list, with rows, waiting for a parameter, a value matching nothing, a bad value), SPARQL editor, downloads,
# and the error pages.
PAGES = [
    ("/", 200), ("/page/authority/nantes-metropole", 200), ("/page/person/constance-nebbula", 200),
    ("/page/theme/smart-grid", 200), ("/page/post/nantes-metropole/smart-city-lead/2017-02", 200),
    ("/ontology", 200), ("/queries", 200), ("/queries/leads-and-posts", 200),
    ("/queries/authorities-under-population?basis=seat", 200), ("/queries/authorities-by-theme", 200),
    ("/queries/authorities-by-theme?theme=nope", 200), ("/queries/smallest-authorities?limit=abc", 400),
    ("/query", 200), ("/dumps/", 200), ("/page/authority/nowhere", 404), ("/page/commune/44162", 200),
    ("/page/commune/saint-denis", 200), ("/page/authority/metropole-europeenne-de-lille", 200),
]
EVIL = '</script><script>alert("xss")</script><img src=x onerror=alert(1)>'


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: .ci/run installs Debian's chromium package")
    with playwright_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def loaded_graph():  # type: ignore[no-untyped-def]
    from citygraph.load import load_graph

    return load_graph()


class Visit:
    """A fresh page that blocks non-loopback requests and records console errors, page errors and dialogs."""

    def __init__(self, browser: object, locale: str = "fr-FR", size: tuple[int, int] = (1280, 800),
                 **options: object) -> None:
        self.context = browser.new_context(  # type: ignore[attr-defined]
            locale=locale, viewport={"width": size[0], "height": size[1]}, **options)
        self.scripts = options.get("java_script_enabled", True)
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

    def open(self, url: str, screenshot: str, status: int = 200) -> None:
        response = self.page.goto(url, wait_until="networkidle")
        assert response is not None and response.status == status, url
        if self.scripts and self.page.locator("#map").count():
            self.page.locator("#map[data-ready]").wait_for()
        if self.scripts and self.page.locator("#yasgui").count():
            self.page.locator("#yasgui[data-ready]").wait_for()
        self.page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)

    def overflow(self) -> int:
        """How many pixels the page is wider than the window (0: it fits)."""
        width: int = self.page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        return width

    def close(self) -> None:
        self.context.close()


def shot_name(path: str, size: str) -> str:
    name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "-") or "home"
    return f"citygraph-{name}-{size}.png"


@pytest.mark.parametrize("size", list(SIZES))
def test_every_kind_of_page_fits_and_loads_cleanly(browser: object, live_server, size: str) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser, size=SIZES[size])
    try:
        for path, status in PAGES:
            visit.errors.clear()
            visit.open(live_server.url + path, shot_name(path, size), status)
            assert visit.overflow() <= 0, (path, size, visit.overflow())
            errors = [e for e in visit.errors if not (status != 200 and "status of " + str(status) in e)]
            assert errors == [], (path, errors)
            assert visit.blocked == [], (path, visit.blocked)  # nothing asked of the network
            assert visit.page.locator("html").get_attribute("lang") == "fr"
    finally:
        visit.close()


def test_axe_finds_no_serious_violation(browser: object, live_server) -> None:  # type: ignore[no-untyped-def]
    if not AXE.is_file():
        pytest.fail(f"axe-core not found at {AXE}: .ci/run installs it (npm install in tests/serve/axe)")
    found: dict[str, list[str]] = {}
    for lang in ("fr-FR", "en-GB"):
        # axe is injected as a script: this context alone lets the page's CSP through (the site's own stays on).
        visit = Visit(browser, locale=lang, bypass_csp=True)
        try:
            for path, status in PAGES:
                visit.open(live_server.url + path, f"citygraph-axe-{lang}.png", status)
                visit.page.add_script_tag(path=str(AXE))
                violations = visit.page.evaluate(
                    "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
                    ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
                    ".map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))")
                if violations:
                    found[f"{lang} {path}"] = violations
        finally:
            visit.close()
    assert found == {}, found


def test_yasgui_runs_a_named_query_from_its_tab(browser: object, live_server, loaded_graph) -> None:  # type: ignore[no-untyped-def]
    from citygraph.query import get_query, run_named_query

    named = get_query("authorities-with-lead")
    expected = run_named_query(loaded_graph, named, {})
    visit = Visit(browser, locale="en-GB")
    try:
        visit.open(live_server.url + "/query", "citygraph-yasgui.png")
        assert visit.page.locator("#sparql-form").is_hidden()  # YASGUI took over the plain form
        visit.page.locator(".yasgui .tabsList .tab", has_text=named.title).click()
        visit.page.locator(".yasgui .tabPanel.active .yasqe_queryButton").click()
        rows = visit.page.locator(".yasgui .tabPanel.active .yasr table.dataTable tbody tr")
        rows.nth(len(expected.rows) - 1).wait_for()
        assert rows.count() == len(expected.rows) == 20
        visit.page.screenshot(path=str(SCREENSHOTS / "citygraph-yasgui-results.png"), full_page=True)
        assert "Jérôme Richard" in visit.page.locator(".yasgui .tabPanel.active .yasr").inner_text()
        assert visit.overflow() <= 0  # the results fit the window (the table scrolls in its own box)
        assert visit.page.locator(".yasgui .tabPanel.active .yasqe_queryButton").get_attribute("title") == "Run query"
    finally:
        visit.close()
    visit = Visit(browser, locale="fr-FR")  # YASGUI's own words, in French on the French page
    try:
        visit.open(live_server.url + "/queries/authorities-by-kind", "citygraph-query-page.png")
        visit.page.get_by_text("Ouvrir dans l'éditeur SPARQL").click()  # the named query's own tab
        visit.page.locator("#yasgui[data-ready]").wait_for()
        active = visit.page.locator(".yasgui .tabsList .tab.active a span").first
        assert active.inner_text().strip() == get_query("authorities-by-kind").title_fr
        visit.page.locator(".yasgui .tabPanel.active .yasqe_queryButton").click()
        visit.page.locator(".yasgui .tabPanel.active .yasr table.dataTable tbody tr").nth(23).wait_for()
        assert visit.page.locator(".yasgui .tabPanel.active .yasqe_queryButton").get_attribute(
            "title") == "Exécuter la requête"
        assert "24 résultats en" in visit.page.locator(".yasgui .tabPanel.active .yasr").inner_text()
        assert visit.errors == [], visit.errors
        assert visit.errors == [], visit.errors
        assert visit.blocked == [], visit.blocked  # no prefix.cc, no CDN, no LOV
    finally:
        visit.close()


def _clusters(page: object) -> list[tuple[int, float]]:
    """(authorities in it, top of its icon) for each cluster the map shows, once its animations are over."""
    _settle(page)
    found: list[tuple[int, float]] = page.evaluate(  # type: ignore[attr-defined]
        "() => Array.from(document.querySelectorAll('#map .cluster'))"
        ".map(icon => [parseInt(icon.textContent, 10), icon.getBoundingClientRect().top])")
    return found


def _settle(page: object) -> None:
    page.wait_for_timeout(300)  # type: ignore[attr-defined]  # Leaflet starts its animation on the next frame
    for busy in ("#map.leaflet-zoom-anim", "#map .leaflet-cluster-anim"):
        page.locator(busy).first.wait_for(state="detached")  # type: ignore[attr-defined]


def test_the_map_zooms_separates_close_points_and_leads_to_pages(browser: object, live_server) -> None:  # type: ignore[no-untyped-def]
    visit = Visit(browser)
    try:
        visit.open(live_server.url + "/", "citygraph-map.png")
        page = visit.page
        pins = page.locator("#map .pin")
        assert pins.count() + sum(n for n, _ in _clusters(page)) == 24  # every authority, alone or clustered
        assert page.locator("#map .map-legend").inner_text().count("responsable") == 2
        # Zooming with the control: the map grows (more map per authority).
        france = page.locator("#map .leaflet-base-pane path.land-france")
        france.wait_for()
        before = france.bounding_box()["width"]
        page.locator("#map .leaflet-control-zoom-in").click()
        _settle(page)
        assert france.bounding_box()["width"] > 1.5 * before
        page.locator("#map .leaflet-control-zoom-out").click()
        _settle(page)
        # Lille and Roubaix, 10 km apart: one cluster at first; clicking it (northernmost) zooms until they part.
        roubaix = page.locator('#map .pin[title="Roubaix"]')
        for _ in range(6):
            if roubaix.count():
                break
            clusters = _clusters(page)
            northernmost = clusters.index(min(clusters, key=lambda c: c[1]))
            page.locator("#map .cluster").nth(northernmost).click()
            _settle(page)
        assert roubaix.count() == 1 and page.locator('#map .pin[title="Métropole Européenne de Lille"]').count() == 1
        page.screenshot(path=str(SCREENSHOTS / "citygraph-map-lille.png"))
        roubaix.click()
        page.wait_for_url("**/page/authority/roubaix")
        assert page.locator("h1").inner_text() == "Roubaix"
        page.locator("#map[data-ready]").wait_for()  # the authority's small map
        assert page.locator('#map .pin[title="Roubaix"]').count() == 1
        page.screenshot(path=str(SCREENSHOTS / "citygraph-authority-map.png"), full_page=True)
        assert visit.errors == [], visit.errors
        assert visit.blocked == [], visit.blocked  # web tiles stay off unless asked for
        # Asking for web tiles: the only request that leaves the server, and only now.
        page.go_back(wait_until="networkidle")
        page.locator("#map[data-ready]").wait_for()
        page.locator("#map-tiles").check()
        page.wait_for_timeout(300)
        assert visit.blocked and all(url.startswith("https://tile.openstreetmap.org/") for url in visit.blocked)
    finally:
        visit.close()


def test_sparql_page_without_javascript_shows_results_in_the_page(browser: object, live_server) -> None:  # type: ignore[no-untyped-def]
    """The plain form, as a reader without JavaScript sees it (in both server modes, --store included)."""
    visit = Visit(browser, locale="en-GB", java_script_enabled=False)
    try:
        visit.open(live_server.url + "/query", "citygraph-sparql-plain.png")
        assert visit.page.locator("html").get_attribute("lang") == "en"
        assert visit.page.locator("#sparql-query").is_editable()
        visit.page.locator('#sparql-form button[type="submit"]').first.click()
        visit.page.wait_for_load_state("networkidle")
        rows = visit.page.locator("#sparql-results table.results tbody tr")
        rows.nth(23).wait_for()
        assert rows.count() == 24
        assert visit.page.locator('#sparql-results a[href="/page/authority/nantes-metropole"]').count() == 1
        visit.page.screenshot(path=str(SCREENSHOTS / "citygraph-sparql-plain-results.png"), full_page=True)
        assert visit.errors == [] and visit.blocked == []
        visit.open(live_server.url + "/", "citygraph-home-no-js.png")
        assert "needs JavaScript" in visit.page.locator(".map-figure").inner_text()
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
