"""The page's language, the message tables (``serve/messages/fr.json``, ``en.json``) and values written its way.

French by default; English with ``?lang=en`` (kept in the site's links) or ``Accept-Language``.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path
from typing import Any

from starlette.requests import Request

from ..conneg import negotiate

LANGS = ("fr", "en")
MESSAGES_DIR = Path(__file__).resolve().parent.parent / "messages"
MONTHS = {
    "fr": ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"),
}
XSD = "http://www.w3.org/2001/XMLSchema#"
NUMERIC = {XSD + name for name in ("integer", "decimal", "double", "float", "int", "long", "short",
                                   "nonNegativeInteger", "positiveInteger", "unsignedInt")}


@cache
def messages(lang: str) -> dict[str, str]:
    """The message table of ``lang`` (read once from its JSON file)."""
    with (MESSAGES_DIR / f"{lang}.json").open(encoding="utf-8") as handle:
        table: dict[str, str] = json.load(handle)
    return table


def t(lang: str, key: str, **fields: Any) -> str:
    """The message ``key`` in ``lang`` (KeyError if missing: the tables are checked by a test), filled in."""
    text = messages(lang)[key]
    return text.format(**fields) if fields else text


@dataclass(frozen=True)
class Lang:
    """The page's language and whether it was chosen explicitly with ``?lang=`` (then kept in links)."""

    code: str
    explicit: bool

    @property
    def query(self) -> str:
        return f"?lang={self.code}" if self.explicit else ""

    def link(self, href: str) -> str:
        if not self.explicit or not href.startswith("/"):
            return href
        path, hash_, fragment = href.partition("#")
        sep = "&" if "?" in path else "?"
        return f"{path}{sep}lang={self.code}{hash_}{fragment}"


def choose_language(request: Request) -> Lang:
    """``?lang=fr|en`` first, then ``Accept-Language`` (q-values), French by default."""
    asked = request.query_params.get("lang", "").lower()
    if asked in LANGS:
        return Lang(asked, True)
    header = request.headers.get("accept-language")
    if header:
        offered = [f"text/{code}" for code in LANGS]  # reuse the q-value parser: "fr-FR;q=0.8" → text/fr
        ranges = ",".join(_language_range(item) for item in header.split(","))
        best = negotiate(ranges, offered, default="text/fr")
        if best:
            return Lang(best.split("/")[1], False)
    return Lang("fr", False)


def _language_range(item: str) -> str:
    tag, _, params = item.strip().partition(";")
    primary = tag.strip().split("-")[0].lower() or "x"
    return f"text/{'*' if primary == '*' else primary}" + (f";{params}" if params else "")


def format_count(number: int, lang: str) -> str:
    """A whole number with the language's thousands separator (narrow no-break space in French)."""
    return f"{number:,}".replace(",", "\u202f" if lang == "fr" else ",")


def format_number(text: str, lang: str) -> str:
    """A number from its lexical form, grouped by thousands, with a decimal comma in French."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    if not number.is_finite():
        return text
    sign = "-" if number < 0 else ""
    whole, _, fraction = format(abs(number), "f").partition(".")
    grouped = format_count(int(whole), lang)
    if fraction and fraction.strip("0"):
        return f"{sign}{grouped}{',' if lang == 'fr' else '.'}{fraction.rstrip('0')}"
    return sign + grouped


def format_date(text: str, lang: str) -> str:
    """``2017-02-06`` as «6 février 2017» or “6 February 2017” (the text itself if it is no date)."""
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        return text
    ordinal = "1er" if lang == "fr" and day.day == 1 else str(day.day)
    return f"{ordinal} {MONTHS[lang][day.month - 1]} {day.year}"


def format_literal(value: str, datatype: str | None, lang: str) -> str:
    """A typed literal as a reader of ``lang`` writes it: numbers, dates and booleans; years stay as they are."""
    if datatype in NUMERIC:
        return format_number(value, lang)
    if datatype == XSD + "date":
        return format_date(value, lang)
    if datatype == XSD + "boolean":
        return t(lang, "queries.yes") if value in ("true", "1") else t(lang, "queries.no")
    return value
