"""The SPARQL lexer: the grammar's terminals, one compiled regular expression, shared by every reader of queries.

The terminals are those of SPARQL 1.1 §19.8 as Oxigraph reads them (and SPARQL 1.2 writes them): ``\\u`` /
``\\U`` escapes (UCHAR) inside IRIs and strings, not a pre-pass over the whole text; comments end at CR or
LF; white space is space, tab, CR and LF only. :func:`unescape_codepoints` gives the SPARQL 1.1 pre-pass
reading, which some stores apply, for callers that must be safe under both readings (the query screen).

One ambiguity of the grammar needs context: ``<`` starts an IRI, except inside an expression right after an
operand, where it is the less-than operator (``FILTER(?a<?b||?b>?c)``). The scanner keeps the stack of
brackets it is in to decide, as Oxigraph's parser does.

A token is a tuple ``(kind, text, start)``: ``kind`` is the terminal's name (``IRIREF``, ``PNAME_LN``,
``VAR``, ``INTEGER_NEGATIVE``, ``STRING_LITERAL_LONG2``, ``KEYWORD``…), or the text itself for punctuation
and operators (``{``, ``^^``, ``!=``…); ``start`` is its offset in the text. A character no terminal can
start is a :class:`SparqlLexError`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# ---------------------------------------------------------------- the terminals (SPARQL 1.1 §19.8)

_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)  # PN_CHARS_BASE
_U = _BASE + "_"  # PN_CHARS_U
_CHARS = _U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"  # PN_CHARS
_VARNAME = f"[{_U}0-9][{_U}0-9\u00b7\u0300-\u036f\u203f-\u2040]*"
_PN_PREFIX = f"[{_BASE}](?:[{_CHARS}.]*[{_CHARS}])?"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_PN_LOCAL = f"(?:[{_U}:0-9]|{_PLX})(?:(?:[{_CHARS}.:]|{_PLX})*(?:[{_CHARS}:]|{_PLX}))?"
# UCHAR: a Unicode scalar value (no surrogate, at most U+10FFFF), as Oxigraph requires
_UCHAR = (
    r"\\u(?![Dd][89A-Fa-f])[0-9A-Fa-f]{4}"
    r"|\\U(?:0000(?![Dd][89A-Fa-f])[0-9A-Fa-f]{4}|000[1-9A-Fa-f][0-9A-Fa-f]{4}|0010[0-9A-Fa-f]{4})"
)
_ECHAR = r"""\\[tbnrf\\"']"""
_EXPONENT = r"[eE][+-]?[0-9]+"
_DOUBLE = rf"(?:[0-9]+\.[0-9]*{_EXPONENT}|\.[0-9]+{_EXPONENT}|[0-9]+{_EXPONENT})"
_DECIMAL = r"[0-9]*\.[0-9]+"
SPACE = r"(?:[ \t\r\n]++|\#[^\r\n]*+)*+"  # WS and comments (which end at CR or LF)

# Punctuation and operators, longest first (the kind of such a token is its text).
PUNCTUATION = (
    "<<(", ")>>", "<<", ">>", "{|", "|}", "^^", "&&", "||", "!=", "<=", ">=",
    "{", "}", "(", ")", "[", "]", ".", ",", ";", "*", "/", "|", "^", "?", "+", "-", "!", "=", "<", ">", "~",
)  # fmt: skip

_TERMINALS = rf"""
    (?P<VAR>[?$]{_VARNAME})
  | (?P<KEYWORD>[A-Za-z][A-Za-z0-9_]*+(?![{_CHARS}.:]))
  | (?P<IRIREF><(?:[^<>"{{}}|^`\\\x00-\x20]++|{_UCHAR})*+>)
  | (?P<STRING_LITERAL_LONG1>'''(?:(?:'|'')?(?:[^'\\]|{_ECHAR}|{_UCHAR}))*''')
  | (?P<STRING_LITERAL_LONG2>\"\"\"(?:(?:"|"")?(?:[^"\\]|{_ECHAR}|{_UCHAR}))*\"\"\")
  | (?P<STRING_LITERAL1>'(?:[^'\\\n\r]++|{_ECHAR}|{_UCHAR})*+')
  | (?P<STRING_LITERAL2>"(?:[^"\\\n\r]++|{_ECHAR}|{_UCHAR})*+")
  | (?P<BLANK_NODE_LABEL>_:[{_U}0-9](?:[{_CHARS}.]*[{_CHARS}])?)
  | (?P<PNAME_LN>(?:{_PN_PREFIX})?:{_PN_LOCAL})
  | (?P<PNAME_NS>(?:{_PN_PREFIX})?:)
  | (?P<WORD>[A-Za-z][A-Za-z0-9_]*)
  | (?P<LANGTAG>@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*(?:--[a-zA-Z]+)?)
  | (?P<DOUBLE_POSITIVE>\+{_DOUBLE})
  | (?P<DECIMAL_POSITIVE>\+{_DECIMAL})
  | (?P<INTEGER_POSITIVE>\+[0-9]+)
  | (?P<DOUBLE_NEGATIVE>-{_DOUBLE})
  | (?P<DECIMAL_NEGATIVE>-{_DECIMAL})
  | (?P<INTEGER_NEGATIVE>-[0-9]+)
  | (?P<DOUBLE>{_DOUBLE})
  | (?P<DECIMAL>{_DECIMAL})
  | (?P<INTEGER>[0-9]+)
  | (?P<NIL>\([ \t\r\n]*\))
  | (?P<ANON>\[[ \t\r\n]*\])
  | (?P<PUNCT>{"|".join(re.escape(p) for p in PUNCTUATION)})
"""
# Each match takes the space before its token (half as many matches); possessive: never re-read as tokens.
_TOKEN = re.compile(SPACE + "(?:" + _TERMINALS + ")", re.VERBOSE)
_TRAILING_SPACE = re.compile(SPACE + r"\Z")
_SPACE = re.compile(SPACE)
_OPERATOR = re.compile(SPACE + "(?P<PUNCT><=|<)")  # ``<`` after an operand inside an expression
_KINDS = [""] * (_TOKEN.groups + 1)
for _name, _index in _TOKEN.groupindex.items():
    _KINDS[_index] = "KEYWORD" if _name == "WORD" else _name  # WORD: a keyword followed by a dot
assert _OPERATOR.groupindex["PUNCT"] == 1
_CODEPOINT = re.compile(r"\\u([0-9A-Fa-f]{4})|\\U([0-9A-Fa-f]{8})")

NUMBERS = frozenset(
    f"{kind}{sign}" for kind in ("INTEGER", "DECIMAL", "DOUBLE") for sign in ("", "_POSITIVE", "_NEGATIVE")
)
STRINGS = frozenset(("STRING_LITERAL1", "STRING_LITERAL2", "STRING_LITERAL_LONG1", "STRING_LITERAL_LONG2"))
# Tokens after which, inside an expression, ``<`` compares (they end an operand).
_OPERAND_END = NUMBERS | STRINGS | {"IRIREF", "PNAME_LN", "PNAME_NS", "VAR", "LANGTAG", "NIL", ")", "}"}
_BOOLEANS = ("true", "false")
_BOOLEAN_WORDS = ("TRUE", "FALSE")
_CLOSING = frozenset(("}", "]", ")", ")>>"))

Token = tuple[str, str, int]


class SparqlLexError(ValueError):
    """No SPARQL terminal starts at ``position`` (offset in the text)."""

    def __init__(self, text: str, position: int) -> None:
        self.position = position
        self.line = text.count("\n", 0, position) + 1
        self.column = position - (text.rfind("\n", 0, position) + 1) + 1
        found = text[position : position + 12]
        super().__init__(f"no SPARQL token can start at line {self.line}, column {self.column}: {found!r}")


def scan(text: str) -> Iterator[Token]:
    """The tokens of ``text`` in order; SparqlLexError at a character no terminal can start."""
    return iter(tokens(text))


def tokens(text: str) -> list[Token]:
    """Every token of ``text`` (a list); SparqlLexError if some part is not SPARQL."""
    out, stuck = tokens_until_error(text)
    if stuck is not None:
        raise SparqlLexError(text, stuck)
    return out


def tokens_until_error(text: str) -> tuple[list[Token], int | None]:
    """The tokens of ``text`` up to the first place no terminal can start, and that offset (None: none)."""
    # bracket stack: "{" group, "[" blank node property list, "c" collection or VALUES row, "e" expression
    stack = ["e"]  # outside any group (prologue, SELECT clause, solution modifiers): brackets are expressions
    previous = before = previous_text = ""  # kinds of the last two tokens, text of the last one
    match_token, kinds = _TOKEN.match, _KINDS
    out: list[Token] = []
    pos, end = 0, len(text)
    while pos < end:
        match = match_token(text, pos)
        if match is None:
            if _TRAILING_SPACE.match(text, pos) is not None:
                break
            stuck = _SPACE.match(text, pos)
            return out, stuck.end() if stuck else pos
        group = match.lastindex or 0
        kind = kinds[group]
        if (
            kind == "IRIREF"
            and stack[-1] == "e"
            and len(stack) > 1
            and (previous in _OPERAND_END or (previous == "KEYWORD" and previous_text.upper() in _BOOLEAN_WORDS))
        ):
            match = _OPERATOR.match(text, pos)
            assert match is not None
            group, kind = 1, "PUNCT"
        value = match.group(group)
        if kind == "PUNCT":
            kind = value
            if value == "(" or value == "<<(":
                stack.append(_paren_context(stack[-1], previous, previous_text, before))
            elif value == "{" or value == "[":
                stack.append(value)
            elif value in _CLOSING and len(stack) > 1:
                stack.pop()
        out.append((kind, value, match.start(group)))
        before = previous
        previous = kind
        previous_text = value
        pos = match.end()
    return out, None


def _paren_context(outer: str, previous: str, previous_text: str, before: str) -> str:
    """What a ``(`` opens: an expression ("e") or a collection / VALUES row ("c")."""
    if outer == "e":
        return "e"  # inside an expression, or in the SELECT clause and solution modifiers
    if previous == "KEYWORD":  # FILTER(, BIND(, STR(…; but VALUES (?x) and ``a (1 2)`` are not expressions
        return "c" if previous_text == "a" or previous_text.upper() == "VALUES" else "e"
    if previous in ("IRIREF", "PNAME_LN", "PNAME_NS") and before == "KEYWORD":
        return "e"  # FILTER <fn>(…) / FILTER ex:fn(…)
    return "c"


def is_keyword(token: Token, word: str) -> bool:
    """Whether ``token`` is the keyword ``word`` (keywords are case-insensitive, except ``a``)."""
    return token[0] == "KEYWORD" and (token[1] == word if word == "a" else token[1].upper() == word)


def is_boolean(token: Token) -> bool:
    """``true`` / ``false`` (lower case: Oxigraph reads no other spelling)."""
    return token[0] == "KEYWORD" and token[1] in _BOOLEANS


# ---------------------------------------------------------------- token values

_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", "\\": "\\", '"': '"', "'": "'"}
_STRING_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|(.))", re.DOTALL)
_LOCAL_ESCAPE = re.compile(r"\\(.)")


def _escape_value(match: re.Match[str]) -> str:
    code = match.group(1) or match.group(2)
    return chr(int(code, 16)) if code else _ECHARS[match.group(3)]


def string_value(kind: str, text: str) -> str:
    """The lexical form of a string token (quotes removed, ECHAR and UCHAR escapes decoded)."""
    quote = 3 if kind in ("STRING_LITERAL_LONG1", "STRING_LITERAL_LONG2") else 1
    body = text[quote:-quote]
    return _STRING_ESCAPE.sub(_escape_value, body) if "\\" in body else body


def iri_value(text: str) -> str:
    """The IRI of an IRIREF token (brackets removed, UCHAR escapes decoded); may be relative."""
    body = text[1:-1]
    return _STRING_ESCAPE.sub(_escape_value, body) if "\\" in body else body


def pname_parts(text: str) -> tuple[str, str]:
    """(prefix, local name) of a PNAME_NS / PNAME_LN token; PN_LOCAL_ESC escapes removed, ``%XX`` kept."""
    prefix, _, local = text.partition(":")
    return prefix, _LOCAL_ESCAPE.sub(r"\1", local) if "\\" in local else local


def unescape_codepoints(text: str) -> str:
    """SPARQL 1.1's codepoint pre-pass (§19.2): every ``\\uXXXX`` / ``\\UXXXXXXXX`` replaced before parsing.

    Oxigraph does not apply it (escapes count only inside IRIs and strings); other stores do, so a screen
    must read a query both ways.
    """
    if "\\u" not in text and "\\U" not in text:
        return text

    def sub(match: re.Match[str]) -> str:
        code = int(match.group(1) or match.group(2), 16)
        return chr(code) if code < 0x110000 and not 0xD800 <= code <= 0xDFFF else match.group(0)

    return _CODEPOINT.sub(sub, text)
