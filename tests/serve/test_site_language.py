"""French throughout, English throughout: the message tables agree, and no page mixes the two languages.

Every string a reader sees (text, ``title``, ``alt``, ``aria-label``, ``placeholder``, ``data-label``) is
collected from each kind of page in each language; a French page must hold no message of the English table
(and the reverse), except inside an element marked with the other ``lang`` (a label shown in both languages).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

MESSAGES = Path(__file__).resolve().parents[2] / "src" / "citygraph" / "serve" / "messages"
SHOWN_ATTRIBUTES = ("title", "alt", "aria-label", "placeholder", "data-label")
PAGES = [
    "/", "/page/authority/nantes-metropole", "/page/person/constance-nebbula", "/page/theme/smart-grid",
    "/page/kind/metropole", "/ontology", "/queries", "/queries/authorities-under-population",
    "/queries/leads-and-posts", "/queries/authorities-by-theme", "/queries/authorities-by-theme?theme=nope",
    "/query", "/dumps/", "/no/such/page", "/page/authority/nowhere", "/queries/smallest-authorities?limit=abc",
    "/queries/authority-by-insee.csv", "/page/authority/grand-dijon", "/page/authority/paris",
    "/page/authority/plaine-commune", "/page/authority/metropole-europeenne-de-lille", "/page/commune/44162",
    "/page/commune/saint-denis",
]


def table(lang: str) -> dict[str, str]:
    with (MESSAGES / f"{lang}.json").open(encoding="utf-8") as handle:
        loaded: dict[str, str] = json.load(handle)
    return loaded


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_message_tables_have_the_same_keys_and_fields() -> None:
    fr, en = table("fr"), table("en")
    assert set(fr) == set(en), sorted(set(fr) ^ set(en))
    for key in fr:
        assert fields(fr[key]) == fields(en[key]), key
        assert fr[key].strip() and en[key].strip(), key


class Shown(HTMLParser):
    """The text and shown attributes of a page, each with the language of the element it is in."""

    def __init__(self, page_lang: str) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, str]] = [("", page_lang)]
        self.found: list[tuple[str, str]] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        lang = values.get("lang") or self.stack[-1][1]
        for name in SHOWN_ATTRIBUTES:
            if values.get(name):
                self.found.append((lang, values[name] or ""))
        if tag in ("script", "style"):
            self.skip += 1
        if tag not in ("br", "img", "input", "link", "meta"):
            self.stack.append((tag, lang))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip -= 1
        for index in range(len(self.stack) - 1, 0, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                break

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.found.append((self.stack[-1][1], data))


def foreign_messages(lang: str) -> list[str]:
    """Messages of the other table that this language never says (long enough to be telling)."""
    own, other = table(lang), table("en" if lang == "fr" else "fr")
    own_text = "\n".join(own.values())
    found = []
    for key, text in other.items():
        if key.startswith(("lang.", "term.")) or text == own.get(key):
            continue
        for piece in re.split(r"\{[a-z_]+\}", text):
            piece = piece.strip(" .:;,()«»“”")
            if len(piece) >= 8 and piece not in own_text:
                found.append(piece)
    return found


@pytest.fixture(scope="module")
def client(live_server) -> Iterator[httpx.Client]:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=live_server.url, timeout=30.0, headers={"Accept": "text/html"}) as http:
        yield http


@pytest.mark.parametrize("lang", ["fr", "en"])
@pytest.mark.parametrize("path", PAGES)
def test_a_page_speaks_one_language(client: httpx.Client, path: str, lang: str) -> None:
    headers = {"Accept-Language": "fr-FR" if lang == "fr" else "en-GB"}
    response = client.get(path, headers=headers)
    assert response.status_code in (200, 400, 404), (path, response.status_code)
    if path.endswith(".csv"):  # a machine's error: JSON in English, naming the URL parameter
        machine = client.get(path, headers={"Accept": "application/json"})
        assert machine.status_code == 400
        detail = machine.json()["error"]["detail"]
        assert "URL parameter “code” (?code=…)" in detail and "--param" not in detail
        return
    assert f'<html lang="{lang}">' in response.text
    parser = Shown(lang)
    parser.feed(response.text)
    shown = "\n".join(text for text_lang, text in parser.found if text_lang == lang)
    strays = [piece for piece in foreign_messages(lang) if re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", shown)]
    assert strays == [], (path, strays)
    assert "--param" not in shown


def test_error_pages_in_the_readers_language(client: httpx.Client) -> None:
    fr = client.get("/page/authority/nowhere")
    assert fr.status_code == 404 and "404 — Page introuvable" in fr.text
    assert "Le graphe ne dit rien de &lt;https://w3id.org/citygraph/id/authority/nowhere&gt;" in fr.text
    en = client.get("/page/authority/nowhere", params={"lang": "en"})
    assert "404 — Not found" in en.text and "The graph says nothing about" in en.text
    bad = client.get("/queries/authorities-under-population", params={"max": "abc"})
    assert bad.status_code == 400
    assert "Paramètre « max » = « abc » : un nombre entier est attendu." in bad.text.replace("&#39;", "'")
    assert '<form class="params"' in bad.text and 'name="max" value="abc"' in bad.text  # the form, to fix it
    ranged = client.get("/queries/smallest-authorities", params={"limit": "500", "lang": "en"})
    assert "Parameter “limit” = “500”: expected a whole number from 1 to 100." in ranged.text
    unknown = client.get("/queries/authorities-with-lead", params={"colour": "red"})
    assert "n'a pas de paramètre « colour » (ses paramètres : date)" in unknown.text.replace("&#39;", "'")


def test_numbers_and_dates_written_each_languages_way() -> None:
    from citygraph.serve.pages.i18n import format_date, format_literal, format_number

    assert format_number("619240", "fr") == "619\u202f240" and format_number("619240", "en") == "619,240"
    assert format_number("1234.50", "fr") == "1\u202f234,5" and format_number("-1234.5", "en") == "-1,234.5"
    assert format_number("83.0", "fr") == "83" and format_number("not a number", "fr") == "not a number"
    assert format_date("2017-02-06", "fr") == "6 février 2017" and format_date("2017-01-01", "fr") == "1er janvier 2017"
    assert format_date("2017-02-06", "en") == "6 February 2017"
    year = "http://www.w3.org/2001/XMLSchema#gYear"
    assert format_literal("2014", year, "fr") == "2014"  # a year is no quantity: no thousands separator
    assert format_literal("true", "http://www.w3.org/2001/XMLSchema#boolean", "fr") == "oui"
