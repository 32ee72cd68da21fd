"""Personal data said across two turns: the rest of a number whose first part was masked.

A caller reads a card or registration number in pieces, and ASR cuts a turn where they pause:
"카드 앞 여덟자리 1234 5678" then "나머지는 9012 3456"; "주민번호 앞자리는 900101이요" then
"뒷자리는 1234567이요". The masker reads one text at a time, so the second turn's digits have no
cue of their own and were stored raw (a hostile walk found them in transcripts, session state and
the audit log). The host remembers which kinds of number the customer's last turn held (never the
digits), and when the next turn is a short continuation, every run of four or more digits in it is
masked before anything reads or stores it. A turn that names an order ("주문번호는 8841이요") is
not a continuation: order numbers must reach the lookup.

A mobile number goes on too ("제 번호가 010에" then "2345 6789예요": a walk found the rest read as
two order numbers, said back and stored raw). A number said whole carries nothing over. After the
prefix alone (``phone_start``) only a rest of 7-8 digits is masked, so an order number ("8841 환불
어떻게 됐어요") still reaches the lookup; after the prefix and the middle group (``phone_middle``,
"010-2345까지요") the last four digits are the rest of the number.
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

# a mobile number's start with nothing after it: "010", "010-2345" (a whole number is masked itself)
_MOBILE_START = re.compile(r"(?<![\d*])01[016789](?:[ \-.]?(\d{3,4}))?(?![\d*])")
_PHONE_REST = {  # what the rest of the number is, after each start
    "phone_start": re.compile(r"(?<!\d)\d{3,4}[ \-.]?\d{4}(?!\d)"),
    "phone_middle": re.compile(r"(?<!\d)\d{4}(?!\d)"),
}


def kinds_in(text: str) -> list[str]:
    """The kinds of number ``text`` holds that may go on in the next turn (``["card"]``)."""
    found = detect(text)
    kinds = {m.kind.value for m in found if m.kind in _KINDS}
    for start in _MOBILE_START.finditer(text):
        if not any(m.start < start.end() and start.start() < m.end for m in found):
            kinds.add("phone_middle" if start.group(1) else "phone_start")
    return sorted(kinds)


def mask_continuation(text: str, previous: list[str] | None) -> str:
    """``text`` with its digit runs masked when it goes on with a number of the last turn."""
    if not previous or len(text) > MAX_CONTINUATION or _ORDER_WORDS.search(text):
        return text
    hide = lambda m: re.sub(r"\d", "*", m.group())  # noqa: E731
    if set(previous) - set(_PHONE_REST):  # a card, registration or account number: every digit run
        return _DIGIT_RUN.sub(hide, text)
    for kind in previous:
        text = _PHONE_REST[kind].sub(hide, text)
    return text
