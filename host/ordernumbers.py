"""Order numbers in what a customer says: digits, Korean digit syllables, numbers read as a quantity.

'주문번호는 8841입니다', '팔팔사일번', '주문번호 팔천팔백사십일이요' → '8841'. Personal data is masked
before anything is read, so an account, card, phone or registration number is never an order number.
"""

from __future__ import annotations

import re

from core.pii import mask_text
from core.pii_fillers import SPOKEN_DIGITS, SPOKEN_VALUES
from host.spacing import unspaced

_ORDER_PATTERNS = (
    re.compile(r"\b(ORD-?\d{3,12})\b", re.IGNORECASE),
    re.compile(r"주문\s*(?:번호)?\s*(?:는|은|이|가|:|=)?\s*#?\s*(\d{3,12})(?!\d|-)"),
    re.compile(r"(?<![\d-])(\d{3,12})\s*번(?!\s*째)"),
    re.compile(r"order\s*(?:number|no\.?|num|#)?\s*(?:is\s*)?#?\s*(\d{3,12})(?!\d|-)", re.IGNORECASE),
    re.compile(r"#(\d{3,12})(?!\d|-)"),
)
# an order number read out in Korean digits after its label or before 번, as ASR writes it
# ("주문번호 팔팔사일이요", "주문번호는 팔팔 사일", "팔팔사일번"): four or more digit syllables; the
# shortest reading that ends at a word's end wins, so "…사일이요" is 8841 and a particle
_SPOKEN_UNIT = f"[{SPOKEN_DIGITS}]"
_SPOKEN_ORDER = (
    re.compile(
        rf"주문\s*(?:번호)?\s*(?:는|은|이|가|:)?\s*({_SPOKEN_UNIT}(?:\s?{_SPOKEN_UNIT}){{3,19}}?)"
        r"(?=\s*(?:번(?!\s*째)|이요|이에요|입니다|이고|요|[\s.,?!]|$))"
    ),
    re.compile(rf"(?<![가-힣])({_SPOKEN_UNIT}{{4,20}})\s*번(?!\s*째)"),
)
# ... or alone, as a word of its own ("팔팔사일 환불 어떻게 됐어요", "팔팔사일이요"): only where a bare
# number would be taken (a short reply, or words about an order, a refund or a delivery)
_SPOKEN_ALONE = re.compile(
    rf"(?<![가-힣])({_SPOKEN_UNIT}{{4,20}}?)(?=\s*(?:이요|이에요|입니다|이고|요)?(?:[\s.,?!]|$))"
)
_READ_SPOKEN = str.maketrans(SPOKEN_DIGITS, SPOKEN_VALUES, " ")
# an order number read as a quantity ("팔천팔백이십이번", "주문번호 팔천팔백사십일이요"): with its
# label or 번 only, a thousand or more, the shortest reading that ends at a word's end
_SINO_RUN = "[일이삼사오육륙칠팔구십백천만]"
_SINO_ORDER = (
    re.compile(
        rf"주문\s*(?:번호)?\s*(?:는|은|이|가|:)?\s*({_SINO_RUN}{{3,16}}?)"
        r"(?=\s*(?:번(?!\s*째)|이요|이에요|입니다|이고|요|[\s.,?!]|$))"
    ),
    re.compile(rf"(?<![가-힣])({_SINO_RUN}{{3,16}})\s*번(?!\s*째)"),
)
# ... or alone before words about the order ("팔천팔백사십일 환불 어떻게 됐어요"); an amount or a
# date ("팔천 원", "이천이십육년") is never one
_SINO_ALONE = re.compile(rf"(?<![가-힣])({_SINO_RUN}{{3,16}})(?=\s*(?:이요|요)?\s+(?:주문|환불|배송|반품|교환))")
_SINO_DIGITS = {"일": 1, "이": 2, "삼": 3, "사": 4, "오": 5, "육": 6, "륙": 6, "칠": 7, "팔": 8, "구": 9}
_SINO_UNITS = {"십": 10, "백": 100, "천": 1000}


def _read_sino(word: str) -> int | None:
    """'팔천팔백이십이' → 8822; None when it is not a well-formed number (two digits in a row)."""
    total = section = 0
    digit: int | None = None
    for ch in word:
        if ch in _SINO_DIGITS:
            if digit is not None:
                return None
            digit = _SINO_DIGITS[ch]
        elif ch in _SINO_UNITS:
            section += (digit or 1) * _SINO_UNITS[ch]
            digit = None
        else:  # 만
            total += (section + (digit or 0) or 1) * 10_000
            section, digit = 0, None
    return total + section + (digit or 0)


# a bare number is never one a mask kept ("**4567", "010-****-5678") nor starts with 0 (a mobile
# prefix or an area code: "제 번호는 010" made 010 the session's order, and "환불해 주세요" looked it up)
_BARE_NUMBER = re.compile(r"(?<![\d*-])([1-9]\d{2,11})(?![\d*-])")
_MOBILE = re.compile(r"01[016789]\d{7,8}")  # a mobile number said without hyphens is not an order
_ORDER_CONTEXT = re.compile(r"주문|환불|배송|\border\b|\brefund\b|\bdeliver|\bship", re.IGNORECASE)


def extract_order_number(text: str) -> str | None:
    """The order number in an utterance ('주문번호는 8841입니다' → '8841'), or None.

    Numbers that look like phone, card or account numbers (hyphenated groups) are not taken, nor
    any digits of personal data (a bank account said as "신한 110123456789" was read back as an order).
    """
    text = mask_text(unspaced(text or ""), style="tag")  # "팔 팔 사 일", "8 8 4 1" (ASR, a syllable at a time)
    for pattern in _ORDER_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1).upper()
    for pattern in _SPOKEN_ORDER:
        match = pattern.search(text)
        if match and not (number := match.group(1).translate(_READ_SPOKEN)).startswith("0"):
            return number
    for pattern in (*_SINO_ORDER, _SINO_ALONE):
        for match in pattern.finditer(text):
            word = match.group(1)
            if any(u in word for u in "십백천만") and (value := _read_sino(word)) is not None and value >= 1000:
                return str(value)
    if len(text) <= 40 or _ORDER_CONTEXT.search(text):
        match = _SPOKEN_ALONE.search(text)
        if match and not (number := match.group(1).translate(_READ_SPOKEN)).startswith("0"):
            return number
    # one number, maybe repeated ("8841이요 8841", "eight eight four one i mean 8841"): in a short
    # reply, or in a longer one that talks about an order, a refund or a delivery
    bare = {n for n in _BARE_NUMBER.findall(text) if not _MOBILE.fullmatch(n)}
    if len(bare) == 1 and (len(text) <= 40 or _ORDER_CONTEXT.search(text)):
        return bare.pop()
    return None


# a number with a unit is an amount, a date or a count ('50,000원', '2026년', '3개'), never an order
_PLAIN_NUMBER = re.compile(
    r"(?<![\d*-])(?<!\d,)([1-9]\d{2,11})(?![\d*-])(?!,\d{3}(?!\d))"
    r"(?!\s*(?:원|개|일|시|분|초|%|월|년|주|명|건|won|krw|days?)(?![가-힣]))",
    re.IGNORECASE,
)


def order_numbers(text: str) -> list[str]:
    """Every distinct order number said plainly ("8841하고 8822 둘 다요" → ["8841", "8822"]), in order;
    personal data, phone-like numbers and amounts ('50,000원') are never among them."""
    text = spoken_as_digits(mask_text(unspaced(text or ""), style="tag"))
    found = [n for n in _PLAIN_NUMBER.findall(text) if not _MOBILE.fullmatch(n)]
    return list(dict.fromkeys(found))


# a number taken back in the same breath ("8822 환불해 주세요 아 아니다 8807이요", "8841 아니 8842",
# "8822 말고 8807", "8822 i mean 8807"): what follows the last take-back is what the customer means
_TAKEN_BACK = re.compile(
    r"\d[^\d]*?(?:아니(?:다|야|고|요|에요)?|말고|잘못\s*말|정정|\bi\s+mean\b|\bno\s+wait\b|\bsorry\b)"
    r"(?=[^\d]*\d)",
    re.IGNORECASE,
)


def said_last(text: str) -> str:
    """``text`` after its last take-back between two numbers (a walk was asked "주문번호 8822, 8807 중
    어느 주문부터…" after "8822 환불해 주세요 아 아니다 8807이요"); ``text`` when there is none, or
    when the rest adds an order rather than replacing one ("8822 말고 8807도요" is both)."""
    last = next(reversed(list(_TAKEN_BACK.finditer(text or ""))), None)
    if last is None or adds_order(text[last.end() :]):
        return text
    return text[last.end() :]


# a reply that adds an order to the one talked about ('네 8834도 같이요', '8822랑 8841 둘 다요', 'yes and
# 8834 too'): never a correction that replaces it
_ADDS_ORDER = re.compile(
    r"\d\s*번?\s*(?:도|까지|이랑|랑|하고|와|과|및)|(?:이랑|랑|하고|및|그리고)\s*\d|\d{3}\s*[,&]\s+\d{3}"
    r"|둘\s*다|셋\s*다|같이|모두|전부|함께|추가|\b(?:and|also|too|both|plus|as\s+well|another)\b",
    re.IGNORECASE,
)


def adds_order(text: str) -> bool:
    """Whether ``text`` asks for an order *besides* another ('도 같이', '랑 … 둘 다', 'and also')."""
    return _ADDS_ORDER.search(spoken_as_digits(text or "")) is not None


def spoken_as_digits(text: str) -> str:
    """``text`` with the order numbers said in Korean digits or as a quantity written as digits
    ('네 팔천팔백이십이번 맞아요' → '네 8822번 맞아요', '주문번호 팔팔사일이요' → '주문번호 8841이요'), so a reply
    to a confirmation prompt reads the number it names. Only the forms :func:`extract_order_number`
    takes (after the label or before 번, four or more digits / a thousand or more)."""

    def sino(match: re.Match[str]) -> str:
        word = match.group(1)
        value = _read_sino(word) if any(u in word for u in "십백천만") else None
        return match.group(0) if value is None or value < 1000 else match.group(0).replace(word, str(value), 1)

    def spoken(match: re.Match[str]) -> str:
        number = match.group(1).translate(_READ_SPOKEN)
        return match.group(0) if number.startswith("0") else match.group(0).replace(match.group(1), number, 1)

    for pattern in _SINO_ORDER:
        text = pattern.sub(sino, text)
    for pattern in _SPOKEN_ORDER:
        text = pattern.sub(spoken, text)
    if len(text) <= 40:  # a short reply: an order number said alone ("아니요 팔팔이이요")
        text = _SPOKEN_ALONE.sub(spoken, text)
    return text
