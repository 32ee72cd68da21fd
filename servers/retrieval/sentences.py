"""Sentence boundaries in Latin-script text, which kiwi's Korean splitter leaves joined.

kiwi splits Korean well but returns "I moved last week. The commute is long. Any gyms nearby?"
as one sentence. :func:`split_latin` cuts such a piece after ``.``, ``!`` or ``?`` (and closing
quotes or brackets) when the next sentence starts with a capital letter, a digit or a quote —
except after common abbreviations ("Dr.", "e.g.", "U.S.") and single initials ("J. Smith").
Korean text passes through unchanged. :func:`sentences` is the whole splitter: line breaks, then
kiwi's Korean sentences, then :func:`split_latin` inside each. It remembers the last
:data:`CACHED_TEXTS` texts it split: the same passage uploaded to several KBs or orgs (a template
KB, an evaluation's fresh tenants) is split by kiwi once, as its vectors are embedded once.
"""

from __future__ import annotations

import re
from functools import lru_cache

CACHED_TEXTS = 4096

_BOUNDARY = re.compile(r"(?<=[.!?…])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_LAST_WORD = re.compile(r"([A-Za-z][A-Za-z.]*)\.$")
ABBREVIATIONS = frozenset(
    """mr mrs ms dr prof sr jr st vs etc e.g i.e inc ltd co corp no mt ft approx dept est fig jan feb mar apr
    jun jul aug sep sept oct nov dec u.s u.k a.m p.m""".split()  # noqa: SIM905 - a word list reads better
)


def _is_abbreviation(before: str) -> bool:
    match = _LAST_WORD.search(before.rstrip("\"'”’)] \t"))
    if match is None:
        return False
    word = match.group(1).lower()
    return word in ABBREVIATIONS or len(word) == 1 or (word.count(".") >= 1 and len(word.replace(".", "")) <= 3)


def split_latin(text: str) -> list[str]:
    """``text`` cut at Latin-script sentence ends; always at least one piece for non-empty text."""
    pieces: list[str] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.start() + len(match.group(1))
        if _is_abbreviation(text[start : match.start()]):
            continue
        piece = text[start:end].strip()
        if piece:
            pieces.append(piece)
        start = match.end()
    tail = text[start:].strip()
    if tail:
        pieces.append(tail)
    return pieces


def sentences(text: str) -> list[str]:
    """Every sentence of ``text``: line breaks first, then kiwi's Korean splitter, then :func:`split_latin`."""
    return list(_sentences(text))


@lru_cache(maxsize=CACHED_TEXTS)
def _sentences(text: str) -> tuple[str, ...]:
    from servers.retrieval.korean import split_sentences

    out: list[str] = []
    for line in text.splitlines():
        for piece in split_sentences(line):
            out.extend(p for p in split_latin(piece.strip()) if p)
    return tuple(out)


def grouped(parts: list[str], limit: int) -> list[str]:
    """``parts`` joined, in order, into at most ``limit`` groups of neighbouring sentences."""
    if len(parts) <= limit:
        return parts
    size = -(-len(parts) // limit)
    return [" ".join(parts[i : i + size]) for i in range(0, len(parts), size)]
