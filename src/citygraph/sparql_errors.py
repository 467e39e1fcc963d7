"""SPARQL syntax errors located in the user's text: the file's own line and column, at the offending token.

Two things stand between pyoxigraph's position and the user's file. The engine is sent a prologue the file
does not have (``BASE <…> ``), which shifts columns; and pyoxigraph's parser reports the furthest position any
alternative reached, which for a stray word is often the end of the file. So the position is first moved back
into the file's coordinates, then, when rdflib's parser (a second, independent SPARQL grammar) fails earlier
in the same text, moved back to where rdflib stopped: the start of the construct that cannot be parsed, or
within it the first bare word SPARQL has no use for (``FOO``), which is the offending token (read with the
shared lexer, ``sparql_lexer``).
"""

from __future__ import annotations

import re

from .sparql_lexer import SPACE, tokens_until_error

_ORACLE_AT = re.compile(r"error at (\d+):(\d+)")
_COMMENT_OR_SPACE = re.compile(SPACE)  # the lexer's white space and comments

# The words SPARQL 1.1 and 1.2 (as pyoxigraph parses them) allow without a colon: keywords, built-in function
# names, `a`, `true`, `false`. Any other bare word (no colon) is wrong wherever it stands.
_KEYWORDS = """
    BASE PREFIX VERSION SELECT DISTINCT REDUCED AS CONSTRUCT WHERE DESCRIBE ASK FROM NAMED GROUP BY HAVING ORDER
    ASC DESC LIMIT OFFSET VALUES LOAD SILENT INTO CLEAR DROP CREATE ADD TO MOVE COPY INSERT DATA DELETE WITH
    USING DEFAULT GRAPH ALL OPTIONAL SERVICE BIND UNDEF MINUS UNION FILTER NOT IN EXISTS LATERAL
    STR LANG LANGMATCHES LANGDIR DATATYPE BOUND IRI URI BNODE RAND ABS CEIL FLOOR ROUND CONCAT STRLEN UCASE
    LCASE ENCODE_FOR_URI CONTAINS STRSTARTS STRENDS STRBEFORE STRAFTER YEAR MONTH DAY HOURS MINUTES SECONDS
    TIMEZONE TZ NOW UUID STRUUID MD5 SHA1 SHA256 SHA384 SHA512 COALESCE IF STRLANG STRLANGDIR STRDT sameTerm
    isIRI isURI isBLANK isLITERAL isNUMERIC isTRIPLE hasLANG hasLANGDIR TRIPLE SUBJECT PREDICATE OBJECT ADJUST
    REGEX SUBSTR REPLACE COUNT SUM MIN MAX AVG SAMPLE GROUP_CONCAT SEPARATOR a true false
"""
_BARE_WORDS = frozenset(_KEYWORDS.lower().split())


def to_user_position(prologue: str, line: int, column: int) -> tuple[int, int]:
    """(line, column) in the text sent to the engine → the same place in the user's text, which the engine
    received after ``prologue``. A position inside the prologue maps to 1:1."""
    prologue_lines = prologue.count("\n")
    last_line_width = len(prologue) - (prologue.rfind("\n") + 1)
    if line <= prologue_lines:
        return 1, 1
    if line == prologue_lines + 1:
        return 1, max(1, column - last_line_width)
    return line - prologue_lines, column


def offset_of(text: str, line: int, column: int) -> int:
    """Character offset of a 1-based (line, column) in ``text``, clamped to the text."""
    offset = 0
    for _ in range(line - 1):
        newline = text.find("\n", offset)
        if newline < 0:
            return len(text)
        offset = newline + 1
    end_of_line = text.find("\n", offset)
    end_of_line = len(text) if end_of_line < 0 else end_of_line
    return min(offset + column - 1, end_of_line)


def position_of(text: str, offset: int) -> tuple[int, int]:
    """1-based (line, column) of a character offset in ``text``."""
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def is_blank(text: str) -> bool:
    """Only whitespace and comments: there is no query."""
    return _COMMENT_OR_SPACE.fullmatch(text) is not None


def _rdflib_failure(text: str) -> int | None:
    """Offset where rdflib's SPARQL parser stops on ``text``, or None if it parses it."""
    try:
        import pyparsing
        from rdflib.plugins.sparql.parser import parseQuery
    except ImportError:  # pragma: no cover - rdflib is a dependency
        return None
    try:
        parseQuery(text)
    except pyparsing.ParseBaseException as exc:
        return int(exc.loc)
    except Exception:  # rdflib may fail after parsing (e.g. on an unknown prefix): no position then
        return None
    return None


_QUERY_WORDS = frozenset(("BASE", "PREFIX", "VERSION", "SELECT", "CONSTRUCT", "DESCRIBE", "ASK"))


def _starts_as_a_query(text: str) -> bool:
    found, _ = tokens_until_error(text)
    return bool(found) and found[0][0] == "KEYWORD" and found[0][1].upper() in _QUERY_WORDS


def first_stray_word(text: str, start: int, end: int) -> int | None:
    """Offset of the first bare word (a keyword-shaped token that is no keyword) starting in
    ``text[start:end]``, or of the first place no SPARQL token can start there; None if neither. The tokens are
    the shared lexer's (comments, strings, IRIs, variables, numbers are never words)."""
    found, stuck = tokens_until_error(text)
    for kind, word, at in found:
        if at >= end:
            return None
        if at >= start and kind == "KEYWORD" and word.lower() not in _BARE_WORDS:
            return at
    return stuck if stuck is not None and start <= stuck < end else None


def locate_syntax_error(user_text: str, prologue: str, message: str) -> tuple[int | None, int | None, str]:
    """(line, column, cause) of pyoxigraph's syntax ``message`` for ``prologue + user_text``, in the user's
    text. ``line``/``column`` are None when the message has no position."""
    if is_blank(user_text):
        return None, None, "no query: the text is empty or only comments"
    located = _ORACLE_AT.search(message)
    cause = _ORACLE_AT.sub("", message, count=1).strip(" :") or message
    if not located:
        return None, None, cause
    line, column = to_user_position(prologue, int(located[1]), int(located[2]))
    reported = offset_of(user_text, line, column)
    earlier = _rdflib_failure(user_text)
    # A bare word SPARQL has no use for (``FOO``) is wrong wherever it stands: the offending token when it is on
    # the line where rdflib stopped (rdflib stops at the start of a construct, sometimes just past such a word)
    # or later, and the query starts as one (``not a query`` is wrong from ``not`` on, not from ``query``).
    stray = first_stray_word(user_text, 0, reported + 1) if _starts_as_a_query(user_text) else None
    if earlier is not None and earlier < reported:
        if stray is not None and stray >= user_text.rfind("\n", 0, earlier) + 1:
            earlier = stray
    elif stray is not None and stray < reported:
        earlier = stray
    else:
        earlier = None
    if earlier is not None:
        excerpt = user_text[earlier:].split("\n", 1)[0].strip()
        excerpt = excerpt if len(excerpt) <= 30 else excerpt[:29] + "…"
        line, column = position_of(user_text, earlier)
        # pyoxigraph's "expected …" list belongs to the far position it reported, not to this one: dropped.
        cause = f"the query cannot be parsed from {excerpt!r} on"
    return line, column, cause
