"""Card numbers in text: which digit runs are a card's, and how long the card number is.

A run of 13-19 digits, or groups of 2-7 digits after a group of 4, split by any separator
("4111-1111-…", "4111 1111 …", "4111.1111.…", "4111/…", "4111_…", "4111 - 1111 - …", mixed).
Luhn decides, except that a 4-4-4-4 number written in groups is a card's shape even with a wrong
check digit (a typo, a test card), and that next to a card word ("카드", "card") any such run is
taken for one (:mod:`core.pii` decides that part), as is a number in a card network's groups right
after one (:func:`labelled_card`: speech recognition and typos make non-Luhn near-copies of real
numbers). A text that is nothing but a number in card groups is a card number too
(:func:`card_shaped_value`): a value typed alone (``switchboard audit find --value``) must be read
as what the masker took it for next to its label.
"""

from __future__ import annotations

import re

FIRST_DIGIT = r"[0-9](?<![0-9].)(?<!\*\*\*.)(?<!\*-.)"  # not inside a longer number or a mask
_CSEP = r"(?: {0,2}[-./_\u1173] {0,2}| {1,2})"  # up to two spaces each side: "4111 -  1111" (a dash read out as 다시)
CARD = re.compile(rf"{FIRST_DIGIT}(?:[0-9]{{12,18}}|[0-9]{{3}}(?:{_CSEP}[0-9]{{2,7}}){{2,4}})(?![0-9])")
_CARD_GROUPS_16 = re.compile(rf"\d{{4}}(?:{_CSEP}\d{{4}}){{3}}")
_CARD_SEPARATOR = re.compile(_CSEP)
_GROUP = re.compile(r"[0-9]+")
# the networks' groups: 4-4-4-4 (Visa, Mastercard, ...), 4-6-5 (American Express), 4-6-4 (Diners);
# after a card word also 4-4-4-4 missing a digit or two ("카드 1234-5678-9012-345": a typo, or ASR)
_LABELLED_LAYOUTS = frozenset({(4, 4, 4, 4), (4, 6, 5), (4, 6, 4), (4, 4, 4, 3), (4, 4, 4, 2)})
_VALUE_LAYOUTS = frozenset({(4, 4, 4, 4), (4, 6, 5)})  # 4-6-4 alone is a hyphenated account's shape
_CARD_LABEL_BEFORE = re.compile(r"(?i:카드|card|아멕스|amex)[^0-9]{0,15}\Z")


def luhn_ok(digits: str) -> bool:
    """True when ``digits`` passes the Luhn check (card numbers)."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _digits(text: str) -> str:
    return "".join(ch for ch in text if "0" <= ch <= "9")


def _is_card(digits: str, text: str, start: int, end: int) -> bool:
    """Luhn decides; a 4-4-4-4 number written in groups with no other digit group joined to it is
    a card's shape, whatever its check digit."""
    n = len(digits)
    if not 13 <= n <= 19:
        return False
    if luhn_ok(digits):  # Mastercard's 2-series (2221-2720) has 16 digits
        return digits[0] in "3456789" or (n == 16 and "2221" <= digits[:4] <= "2720")
    return (
        n == 16
        and digits[0] in "3456789"
        and _CARD_GROUPS_16.fullmatch(text, start, end) is not None
        and _alone(text, start, end)
    )


def card_size(text: str, start: int, end: int) -> int:
    """The length of the card number ``text[start:end]`` starts with (0: none). "4111 1111 1111
    1111 100" is a card and an amount: groups after a card's digits are dropped until it is one."""
    written = text[start:end]
    digits = _digits(written)
    if len(digits) < 13:
        return 0
    if _is_card(digits, text, start, end):
        return len(written)
    for sep in reversed(list(_CARD_SEPARATOR.finditer(written))):
        head = written[: sep.start()]
        digits = _digits(head)
        if len(digits) < 13:
            break
        if _is_card(digits, text, start, start + len(head)):
            return len(head)
    return 0


def _alone(text: str, start: int, end: int) -> bool:
    """True when no digit group joins the card-shaped ``text[start:end]`` with one of its own
    separators ("1234.4111.2222.3333.4444" is no 4-4-4-4 number; "4111.2222.3333.4444 110-…" is).
    A mask's stars count as digits, so masked text reads the same."""
    seps = {sep.group() for sep in _CARD_SEPARATOR.finditer(text, start, end)}
    before, after = text[max(0, start - 4) : start], text[end : end + 4]
    return not any(
        (before.endswith(sep) and before[: -len(sep)][-1:] in _DIGIT_OR_STAR)
        or (after.startswith(sep) and after[len(sep) : len(sep) + 1] in _DIGIT_OR_STAR)
        for sep in seps
    )


_DIGIT_OR_STAR = frozenset("0123456789*")


def _layout(written: str) -> tuple[int, ...]:
    return tuple(len(group) for group in _GROUP.findall(written))


def labelled_card(text: str, start: int, end: int) -> bool:
    """``text[start:end]`` is written in a card network's groups (4-4-4-4, 4-6-5, 4-6-4, or 4-4-4-4
    missing a digit or two) right after a card word ("카드번호는 1234-5678-9012-3456", "아멕스
    3756-123456-78901", "카드 1234-5678-9012-345"): the word decides, whatever the check digit."""
    return (
        _layout(text[start:end]) in _LABELLED_LAYOUTS
        and _CARD_LABEL_BEFORE.search(text, max(0, start - 24), start) is not None
    )


def card_shaped_value(text: str, start: int, end: int) -> bool:
    """``text`` is nothing but ``text[start:end]``, a number in 4-4-4-4 or 4-6-5 groups."""
    return not text[:start].strip() and not text[end:].strip() and _layout(text[start:end]) in _VALUE_LAYOUTS
