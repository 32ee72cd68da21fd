"""Speech recognised one syllable at a time: '네 환 불 해 주 세 요', '팔 팔 사 일', '8 8 4 1'.

ASR (and a caller typing slowly) can put a space after every syllable or digit. Read that way,
"네 환 불 해 주 세 요" is a yes followed by seven unknown words, and "팔 팔 사 일" no order number.
:func:`unspaced` joins three or more single-character words in a row back into one word; the
readers use it as a second reading (host/replies.py, only where the first reading is unsure)
or before looking for an order number (host/ordernumbers.py).
"""

from __future__ import annotations

import re

# three or more words of one Hangul syllable or one digit, single-spaced; digits also when a
# particle follows the last one ("8 8 2 2요" is 8822, never 882)
_DIGITS = r"(?<!\S)\d(?: \d){2,}(?!\d)"
_SPACED = re.compile(rf"{_DIGITS}|(?<!\S)(?:[가-힣0-9] ){{2,}}[가-힣0-9](?!\S)")
_SPACED_DIGITS = re.compile(_DIGITS)


def spaced(text: str) -> bool:
    """Whether ``text`` holds a run of three or more one-character words."""
    return _SPACED.search(text or "") is not None


def unspaced(text: str) -> str:
    """``text`` with each run of three or more one-character words joined into one word."""
    return _SPACED.sub(lambda m: m.group().replace(" ", ""), text or "")


def joined_digits(text: str) -> str:
    """``text`` with runs of three or more single-spaced digits joined ("8 8 2 2요" → "8822요")."""
    return _SPACED_DIGITS.sub(lambda m: m.group().replace(" ", ""), text or "")
