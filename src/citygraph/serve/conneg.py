"""HTTP content negotiation: parse ``Accept`` (q-values, wildcards, parameters) and pick an offered type.

Among offered types of equal quality the server's order wins, so callers list their preferred default first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class MediaRange:
    type: str  # "text" or "*"
    subtype: str  # "turtle" or "*"
    q: float
    order: int  # position in the header, for stable ties

    @property
    def specificity(self) -> int:
        return (self.type != "*") + (self.subtype != "*")

    def matches(self, media_type: str) -> bool:
        main, _, sub = media_type.partition("/")
        return (self.type in ("*", main)) and (self.subtype in ("*", sub))


CACHED_ACCEPT_CHARS = 1024  # longer headers are parsed each time: the cache holds at most 512 short ones


def parse_accept(header: str) -> tuple[MediaRange, ...]:
    """The media ranges of an Accept header; malformed entries are skipped, q clamped to [0, 1]."""
    if len(header) > CACHED_ACCEPT_CHARS:
        return _parse_accept(header)
    return _parse_accept_cached(header)


def _parse_accept(header: str) -> tuple[MediaRange, ...]:
    ranges: list[MediaRange] = []
    for order, item in enumerate(header.split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        if media == "*":
            media = "*/*"
        main, slash, sub = media.partition("/")
        if not slash or not main or not sub or (main == "*" and sub != "*"):
            continue
        q = 1.0
        for param in parts[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value.strip()), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append(MediaRange(main, sub, q, order))
    return tuple(ranges)


_parse_accept_cached = lru_cache(maxsize=512)(_parse_accept)


def quality(ranges: Sequence[MediaRange], media_type: str) -> float:
    """The q the client gives ``media_type``: that of the most specific matching range (0 if none)."""
    best: MediaRange | None = None
    for r in ranges:
        if r.matches(media_type) and (best is None or r.specificity > best.specificity):
            best = r
    return best.q if best else 0.0


def negotiate(accept: str | None, offered: Sequence[str], default: str | None) -> str | None:
    """The offered type the client likes best; ``default`` if Accept is absent or empty; None if none fits."""
    if accept is None or not accept.strip():
        return default
    ranges = parse_accept(accept)
    if not ranges:
        return default
    best_type, best_q = None, 0.0
    for media_type in offered:
        q = quality(ranges, media_type)
        if q > best_q:
            best_type, best_q = media_type, q
    return best_type


def ranked(accept: str | None, offered: Sequence[str]) -> list[str]:
    """Every offered type the client accepts, best first (server order breaks ties); all if no Accept."""
    if accept is None or not accept.strip() or not parse_accept(accept):
        return list(offered)
    ranges = parse_accept(accept)
    scored = [(quality(ranges, t), -i, t) for i, t in enumerate(offered)]
    return [t for q, _, t in sorted(scored, reverse=True) if q > 0]
