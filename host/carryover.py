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

Three pieces ("010", "1234", "5678"; a sixth walk found both groups stored raw): after the prefix
alone, a turn that is a lone group of three or four digits and nothing about an order or a refund
is the middle group, masked, and the four digits after it are the rest. Digits said in Korean
("공일공", "일이삼사요", "오육칠팔이요") are read as digits for this, and masked the same way.
"""

from __future__ import annotations

import re

from core.pii import PiiKind, detect
from core.pii_fillers import SPOKEN_DIGITS, SPOKEN_VALUES
from host.spacing import joined_digits

# what a number read out in pieces can be; not a phone number: a caller verifying gives it whole,
# and the next turn is often an order number ("8841이요"), which must reach the lookup
_KINDS = frozenset({PiiKind.CARD, PiiKind.RRN, PiiKind.ACCOUNT})
_DIGIT_RUN = re.compile(r"(?<!\d)\d(?:[ \-.]?\d){3,}(?!\d)")  # 4+ digits, spaced or grouped
# an order asked about is no continuation; nor is a refund asked for ("팔 팔 이 이 환불해 주세요" after an
# account number), though "환불 계좌 나머지는 …" goes on with it
_ORDER_WORDS = re.compile(
    r"주문|order|운송장|송장|tracking|배송|환불\s*(?:해|하|신청|요청|돼|되|언제|어떻게|상태|진행)", re.IGNORECASE
)
MAX_CONTINUATION = 60  # characters: "나머지는 9012 3456이요", not a new request

# a mobile number's start with nothing after it: "010", "010-2345" (a whole number is masked itself)
_MOBILE_START = re.compile(r"(?<![\d*])01[016789](?:[ \-.]?(\d{3,4}))?(?![\d*])")
_PHONE_REST = {  # what the rest of the number is, after each start
    "phone_start": re.compile(r"(?<!\d)\d{3,4}[ \-.]?\d{4}(?!\d)"),
    "phone_middle": re.compile(r"(?<!\d)\d{4}(?!\d)"),
}


# digits said in Korean, three or more in a row ("공일공", "일이삼사"), not inside a word; a 이 at the
# end of a run before more Hangul is a particle ("오육칠팔이요")
_SPOKEN_RUN = re.compile(rf"(?<![가-힣])[{SPOKEN_DIGITS}](?: ?[{SPOKEN_DIGITS}]){{2,}}")
_AS_DIGIT = str.maketrans(SPOKEN_DIGITS, SPOKEN_VALUES)
# after the prefix alone: a lone group of three or four digits is the number's middle, unless the
# turn talks about an order or a refund ("8841 환불 어떻게 됐어요" reaches the lookup)
_LONE_GROUP = re.compile(r"(?<![\d*])\d{3,4}(?![\d*])")
# a card's first groups said after its name, the rest to follow ("카드번호 4111", "카드 앞자리 4111 1111")
_CARD_START = re.compile(
    r"(?i:카드|card)\s*(?i:번호|넘버|number|no\b|앞)[^\d]{0,12}?(?<!\d)(\d{4}(?:[ \-.]?\d{4}){0,2})"
    r"(?!\d|,\d|\s*(?:원|개|건|일|월|년|시|분|%|won))"
)  # an amount ("카드로 5000원") is none
_OTHER_WORDS = 6  # characters besides the digits in a turn that only goes on with them ("나머지는", "그리고")
_ORDER_OR_REFUND = re.compile(r"주문|환불|배송|order|refund|deliver|ship", re.IGNORECASE)


def _as_digits(text: str) -> str:
    """``text`` with digits said in Korean written as digits, one character for one, so a span
    found in it is the same span of ``text``."""

    def read(m: re.Match[str]) -> str:
        run = m.group()
        if run.endswith("이") and m.end() < len(text) and "가" <= text[m.end()] <= "힣":
            return run[:-1].translate(_AS_DIGIT) + "이"
        return run.translate(_AS_DIGIT)

    return _SPOKEN_RUN.sub(read, text)


def _starts(text: str) -> tuple[set[str], list[tuple[int, int]]]:
    """The kinds of number ``text`` starts without finishing, and the spans of their pieces that are
    masked at once (a mobile number's middle group, a card's first groups)."""
    found = detect(text)
    kinds = {m.kind.value for m in found if m.kind in _KINDS}
    spans: list[tuple[int, int]] = []
    digits = _as_digits(text)
    for start in _MOBILE_START.finditer(digits):
        if not any(m.start < start.end() and start.start() < m.end for m in found):
            kinds.add("phone_middle" if start.group(1) else "phone_start")
            if start.group(1):
                spans.append(start.span(1))  # "010-2345까지요": the middle is masked, as in a whole number
    for start in _CARD_START.finditer(digits):
        if not any(m.start < start.end(1) and start.start(1) < m.end for m in found):
            kinds.add("card")
            spans.append(start.span(1))
    return kinds, spans


def kinds_in(text: str) -> list[str]:
    """The kinds of number ``text`` holds that may go on in the next turn (``["card"]``)."""
    return sorted(_starts(text)[0])


def _hide(text: str, spans: list[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            if not chars[i].isspace():
                chars[i] = "*"
    return "".join(chars)


def carry(text: str, previous: list[str] | None) -> tuple[str, list[str]]:
    """``text`` with the rest of a number of the last turn masked (and the pieces of one it starts),
    and the kinds it carries on. Digits said one at a time are joined first ("010 1 2 3 4 5 6 7 8" is
    a mobile number to the masker only as "010 12345678")."""
    text = joined_digits(text)
    masked = mask_continuation(text, previous)
    found, spans = _starts(text)
    kinds = set(found)
    if masked != text and "phone_start" in (previous or []) and "phone_middle" not in kinds:
        digits = _as_digits(text)
        if len(_LONE_GROUP.findall(digits)) == 1 and not re.search(r"\d", _LONE_GROUP.sub("", digits)):
            kinds.add("phone_middle")  # "010", then "1234": "5678" is the rest
    pieces = set(previous or []) - set(_PHONE_REST)
    if masked != text and pieces and len(_DIGIT_RUN.sub("", _as_digits(text)).strip()) <= _OTHER_WORDS:
        kinds |= pieces  # "카드번호 4111", "1111", "1111", "1234": each group alone, the number goes on
    return _hide(masked, spans), sorted(kinds)


def mask_continuation(text: str, previous: list[str] | None) -> str:
    """``text`` with its digit runs masked when it goes on with a number of the last turn."""
    if not previous or len(text) > MAX_CONTINUATION or _ORDER_WORDS.search(text):
        return text
    digits = _as_digits(text)
    if set(previous) - set(_PHONE_REST):  # a card, registration or account number: every digit run
        return _hide(text, [m.span() for m in _DIGIT_RUN.finditer(digits)])
    spans: list[tuple[int, int]] = []
    for kind in previous:
        spans += [m.span() for m in _PHONE_REST[kind].finditer(digits)]
    if "phone_start" in previous and not spans and not _ORDER_OR_REFUND.search(text):
        groups = list(_LONE_GROUP.finditer(digits))
        if len(groups) == 1 and not re.search(r"\d", _LONE_GROUP.sub("", digits)):
            spans.append(groups[0].span())  # the middle group, alone
    return _hide(text, spans)
