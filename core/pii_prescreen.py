"""The pre-screen of personal-data detection: tests that tell, cheaply, that a text holds none.

:func:`core.pii.detect` runs these before its patterns, and the audit's one-pass encoder
(``audit/payload.py``) runs them on every string of a payload: a text they turn away is one
:func:`core.pii.detect` finds nothing in. ``tests/audit/test_prescreen.py`` checks the split
ASCII form against the one regular expression it replaced.
"""

from __future__ import annotations

import re

from core.pii_email import PLAIN_AT
from core.pii_folding import UNIT_CHARS, folding

# Every kind needs an "@", nine digits (02-123-4567) or a label: a written-out e-mail's [at], dot,
# 골뱅이 or 앳, a CVC, expiry (masked only next to a card word or number) or registration-number
# label. Most text fails this at once. ASCII text: one scan whose first character class ("@",
# digits, v, x, brackets) is rare in words, then the few alternatives after it, and "dot" as a
# substring (a spoken dot is "dot", "DOT" or "Dot"). Folded non-ASCII text: HINT_DIGITS, and the
# words as literal-first alternatives on lower-case text; everyday words (카드, 주민, 보안) are
# left out. Both forms are ones the regular expression engine scans fast.
_NINE_DIGITS = r"(?:[-., ()/_~]{0,5}[0-9]){8}"  # after a digit: eight more, separators between
_LABELS = (
    r"(?:(?<=[Cc][Vv])[CcVv]|(?<=[Ee][Xx])[Pp](?![A-Za-z])|(?<=[Ee][Xx])[Pp][Ii][Rr]"
    r"|(?<=[Vv])[Aa][Ll][Ii][Dd]\s*(?:[Tt][Hh][Rr][Uu]|[Tt][Hh][Rr][Oo][Uu][Gg][Hh]|[Uu][Nn][Tt][Ii][Ll])"
    r"|(?<=[\[({<])\s*(?:[Aa][Tt]|[Dd][Oo][Tt]))"
)
HINT_ASCII = re.compile(
    r"[@0-9VvXx\[({<](?:(?<=[0-9])" + _NINE_DIGITS + r"|(?<=@)(?<!\*@)|(?<=[VvXx\[({<])" + _LABELS + ")"
)  # "u***@x.kr" is masked: an "@" after a star starts nothing
# HINT_ASCII searched as its two halves (each alternative is chosen by its first character, so
# the verdict is the same): the digit half only when the text, its separators deleted, has nine
# digits in a row (it cannot match otherwise). A date or a time stamp ("2026-12-03T20:14:00+09:00",
# 14 digits, none nine in a row) then costs one byte translation instead of a regular-expression
# attempt at every digit. tests/audit/test_prescreen.py checks the halves against HINT_ASCII.
_ASCII_DIGITS = re.compile(r"[0-9]" + _NINE_DIGITS)
_ASCII_OTHER = re.compile(r"[@VvXx\[({<](?:(?<=@)(?<!\*@)|(?<=[VvXx\[({<])" + _LABELS + ")")
_DIGITS_AS_ZERO = bytes(48 if 48 <= i <= 57 else 120 for i in range(256))  # digits "0", the rest "x"
_HINT_SEPARATORS = b"-., ()/_~"
_NINE_ZEROS = b"0" * 9


def hint_ascii(text: str) -> bool:
    """``HINT_ASCII.search(text) is not None`` for ASCII ``text``, faster on digit-heavy text."""
    nine = _NINE_ZEROS in text.encode("ascii").translate(_DIGITS_AS_ZERO, _HINT_SEPARATORS)
    if nine and _ASCII_DIGITS.search(text) is not None:
        return True
    return _ASCII_OTHER.search(text) is not None


HINT_DIGITS = re.compile(r"[@0-9](?:(?<=@)(?<!\*@)|(?<=[0-9])(?:[-., ()/_~\u1173]{0,5}[0-9]){8})")
HINT_WORDS = re.compile(
    r"dot|cvc|cvv|exp(?![a-z])|expir|valid\s*(?:thru|through|until)|\[\s*at|\(\s*at|\{\s*at|<\s*at"
    r"|골뱅이|앳|닷|보안\s*코드|씨브이|주민\s*(?:등록|번호)|외국인\s*등록|유효\s*기간|만료"
)
# Folded non-ASCII text: nine digits or spoken digits with the separators they may have before
# spoken digits are read ("에", ","), or an "@": without one, neither HINT_DIGITS nor a spoken
# run of nine can match once runs are read.
_UNITS_TAIL = rf"(?<=@)(?<!\*@)|(?<=[{UNIT_CHARS}])(?:(?:[-. ()/_~\u1173,에]|다시){{0,5}}[{UNIT_CHARS}]){{8}}"
UNITS_HINT = re.compile(rf"[@{UNIT_CHARS}](?:{_UNITS_TAIL})")


def hint(text: str) -> bool:
    """The pre-screen of ASCII text (inlined in :func:`core.pii.detect`)."""
    return hint_ascii(text) or "dot" in text or "DOT" in text or "Dot" in text or plain_at(text)


def plain_at(text: str) -> bool:
    """An address written with a plain " at " and a typed domain may be here ("kim at gmail.com")."""
    return (" at " in text or " AT " in text or " At " in text) and PLAIN_AT.search(text) is not None


# A text shorter than 9 characters holds a value only with an "@" or a CVC label ("cvc 987"), or
# with characters that fold ("ａ＠ｂ．ｃｏ", "⓪㉑㉓㊺㊼").
_SHORT_HINT = re.compile(r"(?i)@|cv[cv]|보안|씨브이")


def too_short_for_pii(text: str) -> bool:
    """True when ``text`` is too short to hold any personal value (then :func:`detect` finds nothing).

    Fewer than 9 characters, and no "@", no CVC label and no character that folds (full-width,
    circled numbers); an ASCII text of fewer than 6 characters always. ``audit.payload`` copies
    such strings without looking further.
    """
    n = len(text)
    if n >= 9:
        return False
    if text.isascii():
        return n < 6 or not _SHORT_HINT.search(text)
    return not (_SHORT_HINT.search(text) or folding().any.search(text))
