"""People's names in what a customer says about themselves, hidden before it is kept as a memory.

A name is not a pattern :mod:`core.pii` can find, so the caller check hides the name it asked for
(host/verification.py), and nothing hid a name said unasked: a fifth walk found "저 박영희인데요",
"제 이름은 김민수고요 연락처는 010-****-6789예요" and a third person's "제 남편 김철수 주문인데요" stored
as the customer's memories. Here a name is hidden where the words around it say it is one:

- after a self-introduction ("제 이름은", "이름은", "성함은", "저는", "제가", "전", "저") and before the ending
  that closes it ("김민수고요", "박영희인데요", "김 민수입니다", "이서연이에요", "김민수라고 합니다");
  the name starts with a common surname, so "저는 오후 5시 이후에 통화 가능해요" keeps its words;
- after a family member or another person ("남편", "아내", "엄마", "친구", …), as the next word;
- "my name is Jane Doe".

What is hidden becomes ``***``, as the caller check's factor does. A name said with no such words
("김민수요" alone) is not seen here.
"""

from __future__ import annotations

import re

HIDDEN = "***"

# the common Korean surnames (about 95 % of people): a name's first syllable
_SURNAMES = (
    "김이박최정강조윤장임한오서신권황안송류유전홍고문양손배백허남심노하곽성차주우구민진나지엄채원천방공현"
    "함변염여추도소석선설마길연위표명기반왕금옥육인맹제모탁국어은편용"
)
_NAME = rf"[{_SURNAMES}]\s?[가-힣]{{1,3}}"
_SELF = r"(?:제\s*이름은|이름은|성함은|저는|제가|전|저)"
_CLOSE = (
    r"(?:이라고\s*합니다|라고\s*합니다|이라고요|라고요|이고요|고요|이구요|구요|인데요|인데|입니다|이에요|예요"
    r"|이요|요|씨|님)"
)
_SELF_NAME = re.compile(rf"(?<![가-힣]){_SELF}\s+({_NAME}?)(?={_CLOSE}(?![가-힣]))")
_PEOPLE = (
    r"(?:남편|아내|와이프|집사람|신랑|엄마|아빠|어머니|아버지|어머님|아버님|부모님|아들|딸|동생|언니|오빠|누나|형"
    r"|친구|시어머니|장모님|장인어른|할머니|할아버지|사장님|직원)"
)
_PERSON_NAME = re.compile(
    rf"(?<![가-힣]){_PEOPLE}\s*(?:분\s*)?(?:이름은\s*|성함은\s*)?(?!이름|성함)({_NAME}?)(?=\s|의|이|가|씨|님|$)"
)
_EN_NAME = re.compile(r"\b(my name is|name is)\s+((?:[A-Z][a-z'-]+)(?:\s+[A-Z][a-z'-]+){0,2})")


def hide_names(text: str) -> str:
    """``text`` with the names it introduces replaced by ``***``."""
    if not text:
        return text
    text = _SELF_NAME.sub(lambda m: m.group(0).replace(m.group(1), HIDDEN), text)
    text = _PERSON_NAME.sub(lambda m: m.group(0).replace(m.group(1), HIDDEN), text)
    return _EN_NAME.sub(lambda m: f"{m.group(1)} {HIDDEN}", text)
