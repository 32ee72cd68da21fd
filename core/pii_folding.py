"""What :mod:`core.pii`'s detectors read: one folded copy of the text, and Korean spoken digits.

ASCII text is read as it is. Other text is folded character by character (:func:`folding`):
whatever NFKC makes ASCII is read as that ASCII, other decimal digits as their value, dashes as
``-``, middle dots as ``.``, invisible characters as nothing, decomposed Hangul composed. Runs of
digits read out in Korean ("공일공 구팔칠육 오사삼이") are read as digits
(:func:`read_spoken_digits`). :func:`offsets` maps a position in the folded text back to the text
as given, so spans and masks fall on the original characters.

``host/providers/offline_verify.py`` parses spoken phone numbers too; core cannot import host, so
this is a second reader, for detection only.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import NamedTuple

# Characters read as something else (besides NFKC): dashes, middle dots and slashes people
# separate digits with. Wave dashes mark ranges ("3〜5일"), so they stay.
_EXTRA_FOLDS = {"\u2212": "-", "\u00b7": ".", "\u2027": ".", "\u2219": ".", "\u22c5": ".", "\u30fb": ".", "\u318d": "."}
_EXTRA_FOLDS |= {"\uff65": ".", "\u2215": "/", "\u2044": "/"}
_NOT_DASHES = "\u301c\u3030"
# invisible beyond the format characters (Cf): combining grapheme joiner, Hangul fillers, the keycap
# mark and variation selectors ("0️⃣1️⃣0️⃣")
_INVISIBLE = frozenset(
    [0x034F, 0x115F, 0x1160, 0x20E3, 0x3164, 0xFFA0, *range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)]
)


# Text written decomposed (NFD, as macOS writes file names) reads as NFKC composes it: Hangul
# jamo into syllables ("공" from ᄀ ᅩ ᆼ, or from 고 ᆼ), a letter and its combining marks into one
# letter ("À" from A and U+0300, which is no longer an ASCII letter next to a number).
_JAMO = "\u1100-\u11ff\ua960-\ua97f\ud7b0-\ud7ff"


def _compose(m: re.Match[str]) -> str:
    return unicodedata.normalize("NFC", m.group())


class _Folding(NamedTuple):
    table: dict[int, str]  # code point -> what it reads as ("" for an invisible character)
    # a character that may fold: those of the BMP exactly, any other (rare, and a long list of
    # ranges would be tried one by one for every character of every text)
    any: re.Pattern[str]
    uneven: re.Pattern[str]  # likewise, one that folds to other than one character (⑩, U+200B)
    composing: re.Pattern[str]  # a combining mark or a conjoining jamo
    cluster: re.Pattern[str]  # what NFC composes: a character and the marks or jamo after it

    def fold(self, text: str) -> str:
        """``text`` folded: only the (few) characters that fold are looked up, then clusters composed."""
        table = self.table
        folded = self.any.sub(lambda m: table.get(ord(m.group()), m.group()), text)
        return self.cluster.sub(_compose, folded) if self.composing.search(folded) else folded


def _fold_char(ch: str) -> str | None:
    """What one character reads as by the rules beyond NFKC, or None when none applies."""
    category = unicodedata.category(ch)
    if category == "Cf" or ord(ch) in _INVISIBLE:
        return ""
    if ch in _EXTRA_FOLDS:
        return _EXTRA_FOLDS[ch]
    if category == "Nd":
        return str(unicodedata.decimal(ch))
    if category == "Pd" and ch not in _NOT_DASHES:
        return "-"
    return None


@functools.cache
def folding() -> _Folding:
    """The fold table, built on first use from the running Python's Unicode data (the data NFKC
    uses wherever the product normalises text), in about 100 ms: each character NFKC changes
    reads as what NFKC makes of it ("¼" as "1/4", "㏠" as "1日", "ㅇ" as a conjoining jamo), with
    the rules of :func:`_fold_char` applied to each character of that."""
    table: dict[int, str] = {}
    marks: list[int] = []
    for cp in itertools.chain(range(0x80, 0x20000), range(0xE0000, 0xE1000)):
        ch = chr(cp)
        if cp <= 0xFFFF and cp not in _INVISIBLE and unicodedata.category(ch) in ("Mn", "Mc", "Me"):
            marks.append(cp)
        read = _fold_char(ch)
        if read is None and unicodedata.decomposition(ch):
            nfkc = unicodedata.normalize("NFKC", ch)
            if nfkc != ch:
                read = "".join(c if (r := _fold_char(c)) is None else r for c in nfkc)
        if read is not None and read != ch:
            table[cp] = read
    composing = _char_class(cp for cp in marks if cp not in table)[1:-1] + _JAMO
    composes = re.compile(f"[{composing}]")
    # uneven: folds to other than one character, or to one that may compose with its neighbours
    uneven = [cp for cp, read in table.items() if len(read) != 1 or composes.search(read)]
    rest = composing + "\U00010000-\U0010ffff]"  # marks and jamo compose; astral characters: see ``any``
    return _Folding(
        table,
        re.compile(_char_class(cp for cp in table if cp <= 0xFFFF)[:-1] + rest),
        re.compile(_char_class(cp for cp in uneven if cp <= 0xFFFF)[:-1] + rest),
        composes,
        re.compile(f"[^{composing}]?[{composing}]+"),
    )


def _char_class(codepoints: Iterable[int]) -> str:
    ranges: list[list[int]] = []
    for cp in sorted(codepoints):
        if ranges and ranges[-1][1] == cp - 1:
            ranges[-1][1] = cp
        else:
            ranges.append([cp, cp])
    return "[" + "".join(f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges) + "]"


# Digits read out in Korean (sino-Korean: 공/영 0, 일 1, 이 2, ... 구 9), as an ASR transcript
# writes them: "공일공 구팔칠육 오사삼이", "공일공에 일이삼사 오육칠팔이요". A run of at least
# SPOKEN_MIN digits (six after a registration-number label, whose halves may be apart) is read as
# digits; shorter runs are words (이사, 일이, 오사카, 사이, 일일이 삼삼오오). Whether a read run is
# personal data is then up to the detectors, as for typed digits. (host.providers.offline_verify
# parses spoken phone numbers too; core cannot import host, hence this second reader.)
SPOKEN_MIN = 9
UNIT_CHARS = "0123456789공영일이삼사오육륙칠팔구"
_UNITS = frozenset(UNIT_CHARS)
# between digits: 에 ("공일공에 일이삼사"), a dash, dot or comma, or 다시 — a dash read out ("공일공 다시
# 구팔칠육"), as callers say phone and card numbers
_SPOKEN_RUN = re.compile(rf"[{UNIT_CHARS}](?:(?:에? {{0,2}}| {{0,2}}(?:[-.,]|다시) {{0,2}})[{UNIT_CHARS}]){{5,}}")
_SPOKEN_TOKEN = re.compile(r"[0-9]+|[공영일이삼사오육륙칠팔구]+")
_READ_SPOKEN = str.maketrans(dict(zip("공영일이삼사오육륙칠팔구에,다시", "001234566789  - ", strict=True)))


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣"


def read_spoken_digits(text: str, need: int = SPOKEN_MIN) -> tuple[str, list[tuple[int, int, list[str]]]]:
    """``text`` with spoken digit runs read as digits, and other readings of runs whose ends are
    unsure: a run glued to the word before ("메일공일공": 일 ends 메일) or ending in 이 before a
    syllable ("오육칠팔이요": 이 is a particle). The other readings keep those syllables as they are;
    they are tried after the first. Syllables glued to typed digits are words, not digits
    ("010-1234-5678이에요"): they split a run."""
    runs = [m for m in _SPOKEN_RUN.finditer(text) if not m.group().isascii()]
    if not runs:
        return text, []
    parts: list[str] = []
    unsure: list[tuple[int, int, list[str]]] = []
    pos = 0
    for start, end in _spoken_groups(runs):
        run = text[start:end]
        if run.isascii() or sum(ch in _UNITS for ch in run) < need:
            continue
        reading = run.translate(_READ_SPOKEN)
        parts += (text[pos:start], reading)
        pos = end
        lead = start > 0 and _is_hangul(text[start - 1]) and not run[0].isascii()
        trail = run[-1] == "이" and end < len(text) and _is_hangul(text[end])
        others = [reading[:-1] + "이"] if trail else []
        if lead:
            others += [run[0] + reading[1:]] + ([run[0] + reading[1:-1] + "이"] if trail else [])
        if others:
            unsure.append((start, end, others))
    if not parts:
        return text, []
    parts.append(text[pos:])
    return "".join(parts), unsure


def _spoken_groups(runs: list[re.Match[str]]) -> Iterator[tuple[int, int]]:
    """The spans of ``runs`` left after dropping syllables glued to typed digits (which split them)."""
    for m in runs:
        tokens = list(_SPOKEN_TOKEN.finditer(m.string, m.start(), m.end()))
        glued = set()
        for a, b in itertools.pairwise(tokens):
            if a.end() == b.start():  # a digit token and a syllable token, nothing between
                glued.add(b if b.group()[0] > "9" else a)
        group: list[re.Match[str]] = []
        for token in [*tokens, None]:
            if token is None or token in glued:
                if group:
                    yield group[0].start(), group[-1].end()
                group = []
            else:
                group.append(token)


def offsets(text: str) -> tuple[list[int], list[int]] | None:
    """For each character of ``text`` folded, the start and end in ``text`` of what it was read
    from; None when that is the same position (nothing folded to more or fewer characters)."""
    fold = folding()
    if not fold.uneven.search(text):
        return None
    table = fold.table
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for i, ch in enumerate(text):
        for read in table.get(ord(ch), ch):
            chars.append(read)
            starts.append(i)
            ends.append(i + 1)
    folded = "".join(chars)
    if not fold.composing.search(folded):
        return starts, ends
    composed_starts: list[int] = []
    composed_ends: list[int] = []
    pos = 0
    for m in fold.cluster.finditer(folded):  # a composed character spans the characters it came from
        composed_starts += starts[pos : m.start()]
        composed_ends += ends[pos : m.start()]
        parts = [k for k, ch in enumerate(m.group(), m.start()) for _ in unicodedata.normalize("NFD", ch)]
        at = 0
        for composed in unicodedata.normalize("NFC", m.group()):
            size = len(unicodedata.normalize("NFD", composed))
            composed_starts.append(starts[parts[at]])
            composed_ends.append(ends[parts[at + size - 1]])
            at += size
        pos = m.end()
    return composed_starts + starts[pos:], composed_ends + ends[pos:]
