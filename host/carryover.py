"""Personal data said across two turns: the rest of a number whose first part was masked.

A caller reads a card or registration number in pieces, and ASR cuts a turn where they pause:
"카드 앞 여덟자리 1234 5678" then "나머지는 9012 3456"; "주민번호 앞자리는 900101이요" then
"뒷자리는 1234567이요". The masker reads one text at a time, so the second turn's digits have no
cue of their own and were stored raw (a hostile walk found them in transcripts, session state and
the audit log). The host remembers which kinds of number the customer's last turn held (never the
digits), and when the next turn is a short continuation, every run of four or more digits in it is
masked before anything reads or stores it. A turn that names an order ("주문번호는 8841이요") is
not a continuation: order numbers must reach the lookup.
"""

from __future__ import annotations

import re

from core.pii import PiiKind, detect

# what a number read out in pieces can be; not a phone number: a caller verifying gives it whole,
# and the next turn is often an order number ("8841이요"), which must reach the lookup
_KINDS = frozenset({PiiKind.CARD, PiiKind.RRN, PiiKind.ACCOUNT})
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ \-.]?\d){3,}(?!\d)")  # 4+ digits, spaced or grouped
_ORDER_WORDS = re.compile(r"주문|order|운송장|송장|tracking|배송", re.IGNORECASE)
MAX_CONTINUATION = 60  # characters: "나머지는 9012 3456이요", not a new request


def kinds_in(text: str) -> list[str]:
    """The kinds of number ``text`` holds that may go on in the next turn (``["card"]``)."""
    return sorted({m.kind.value for m in detect(text) if m.kind in _KINDS})


def mask_continuation(text: str, previous: list[str] | None) -> str:
    """``text`` with its digit runs masked when it goes on with a number of the last turn."""
    if not previous or len(text) > MAX_CONTINUATION or _ORDER_WORDS.search(text):
        return text
    return _DIGIT_RUN.sub(lambda m: re.sub(r"\d", "*", m.group()), text)
