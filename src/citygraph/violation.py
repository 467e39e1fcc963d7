"""One SHACL validation result (:class:`Violation`), the value every engine returns, and its term conventions.

Term conventions shared by every engine (``focus`` and ``value``): an IRI as itself, a blank node as
``_:id``, a literal in N-Triples syntax (``"12345"``, ``"2014"^^<http://www.w3.org/2001/XMLSchema#gYear>``,
``"Paris"@fr``; no ``^^xsd:string``) — the text of ``str()`` on a pyoxigraph term, without the angle
brackets for IRIs. ``path``: a predicate IRI as itself; a complex path in SPARQL property-path syntax with
bracketed IRIs (``^<…#leadership>``, ``<a>/^<a>``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Violation:
    """One SHACL validation result (whatever its severity)."""

    focus: str
    path: str | None
    value: str | None
    messages: dict[str, str]  # language tag ("fr", "en"; "" if untagged) → text
    severity: str  # "Violation", "Warning" or "Info"
    source_shape: str
    constraint: str  # constraint component's local name, e.g. "MinCountConstraintComponent"
    location: str | None = None  # "file:line" where the focus resource is first a subject

    def message(self, lang: str = "en") -> str:
        """The message in ``lang``, else English, else any."""
        for key in (lang, "en", ""):
            if key in self.messages:
                return self.messages[key]
        return next(iter(self.messages.values()), f"{self.constraint} ({self.source_shape})")

    def sort_key(self) -> tuple[str, int, str, str, str, str]:
        file, line = _split_location(self.location)
        return (file, line, self.focus, self.path or "", self.source_shape, self.value or "")


def _split_location(location: str | None) -> tuple[str, int]:
    if not location:
        return ("\uffff", 0)
    file, _, line = location.rpartition(":")
    return (file, int(line)) if line.isdigit() else (location, 0)


def nt_string(text: str) -> str:
    """``text`` as an N-Triples string literal (quotes, backslashes and line breaks escaped)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'
