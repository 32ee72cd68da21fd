"""Korean mobile numbers: parse the ways people write them, store E.164, show them masked.

Accepted: ``010-1234-5678``, ``01012345678``, ``010 1234 5678``, ``010.1234.5678``,
``+82 10 1234 5678``, ``+82-10-1234-5678``, ``+821012345678``, ``+82 (0)10-1234-5678``,
``(010) 1234-5678``. Mobile prefixes 010 (8 more digits) and the older 011/016/017/018/019
(7 or 8 more digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from core.errors import invalid

_SEPARATORS = re.compile(r"[\s\-.()]")
_ALLOWED = re.compile(r"^\+?[0-9\s\-.()]+$")
_NATIONAL = re.compile(r"^01(?:0[0-9]{8}|[16789][0-9]{7,8})$")

PHONE_PATTERN = r"^[+(]?[0-9][0-9 ().-]{7,30}$"
"""A loose shape check for schemas; :func:`parse_phone` does the real validation."""

ERASED = "[erased]"
"""What an erased customer's name and phone fields hold (``switchboard customer erase``): not a
name, and no number :func:`parse_phone` accepts, so no lookup by a real number can match it."""


@dataclass(frozen=True, slots=True)
class Phone:
    """A validated Korean mobile number."""

    national: str  # 01012345678

    @property
    def e164(self) -> str:
        return "+82" + self.national[1:]

    @property
    def masked(self) -> str:
        """``+82-10-****-5678``: the middle block hidden, the last four kept."""
        rest = self.national[1:]
        prefix, middle, last = rest[:2], rest[2:-4], rest[-4:]
        return f"+82-{prefix}-{'*' * len(middle)}-{last}"


def parse_phone(raw: str) -> Phone:
    """Parse a Korean mobile number; raises INVALID_ARGUMENT with a hint when it is not one."""
    text = raw.strip()
    if not text or len(text) > 32 or not _ALLOWED.match(text):
        raise invalid("phone must be a Korean mobile number such as 010-1234-5678 or +82 10 1234 5678")
    digits = _SEPARATORS.sub("", text)
    if digits.startswith("+"):
        if not digits.startswith("+82"):
            raise invalid("phone must be a Korean (+82) mobile number")
        digits = digits[3:]
        digits = digits if digits.startswith("0") else "0" + digits
    if "+" in digits or not _NATIONAL.match(digits):
        raise invalid("phone must be a Korean mobile number such as 010-1234-5678 or +82 10 1234 5678")
    return Phone(digits)


def mask_name(name: str) -> str:
    """Korean-style name masking: 김민수 → 김*수, 이준 → 이*, John Smith → J*** S****; an erased
    customer's placeholder is shown as it is."""
    name = name.strip()
    if name == ERASED:
        return name
    if not name:
        return ""
    if " " in name:
        return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split())
    if len(name) <= 2:
        return name[0] + "*" * (len(name) - 1) if len(name) == 2 else name
    return name[0] + "*" * (len(name) - 2) + name[-1]
