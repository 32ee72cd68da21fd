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

from host.spacing import unspaced

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
# a label that names a name, with or without its particle ("제 이름 김민수예요", "성함 김민수입니다", "이름이
# …인데요", "주문자명은 김민수", "수령인 박영희예요", "받는 사람 박영희"): the name ends at its closing
# ending or at the word's end; words that talk about the name rather than say it are not one
_LABEL = (
    r"(?:(?:제|내|저희)\s*)?(?:이름|성함|주문자\s*(?:명|이름|성함)?|수령인|수령자|받는\s*(?:사람|분)|예약자"
    r"|주문하신\s*분|주문한\s*사람|명의자?)(?:\s*(?:은|는|이|가|:)\s*|\s+)"
)
_NOT_A_NAME = (
    r"(?!정보|주소|번호|연락|변경|확인|수정|정정|본인|명의|오류|다른|다르|잘못|없|틀|바뀌|바꾸|바꿔|이름|성함|도\s"
    r"|어떻게|어디|뭐|뭔|무엇|누구|알려|안\s|모르|정하|정해|같|맞|이상)"
)
_LABEL_NAME = re.compile(
    rf"(?<![가-힣]){_LABEL}{_NOT_A_NAME}({_NAME}?)(?=(?:{_CLOSE}|이라고\s*해요|라고\s*해요)?(?![가-힣]))"
)
_SAID_AS = re.compile(rf"(?<![가-힣]){_SELF}\s+({_NAME}?)(?=(?:이)?라고\s*(?:해요|하는데요|합니다|불러)(?![가-힣]))")
_PEOPLE = (
    r"(?:남편|아내|와이프|집사람|신랑|엄마|아빠|어머니|아버지|어머님|아버님|부모님|아들|딸|동생|언니|오빠|누나|형"
    r"|친구|시어머니|장모님|장인어른|할머니|할아버지|사장님|직원)"
)
_PERSON_NAME = re.compile(
    rf"(?<![가-힣]){_PEOPLE}\s*(?:분\s*)?(?:이름은\s*|성함은\s*)?(?!이름|성함)({_NAME}?)(?=\s|의|이|가|씨|님|$)"
)
_EN_NAME = re.compile(r"\b(my name is|name is|I'm|I am|this is)\s+((?:[A-Z][a-z'-]+)(?:\s+[A-Z][a-z'-]+){0,2})")
# "my name is jane doe" in lower case (ASR): the words after it, up to two, that are no common word
_EN_COMMON = (
    r"(?:and|call|calling|but|i|please|my|the|from|here|speaking|so|about|with|is|it|to|for|a|an|in|on|at|me|you"
    r"|order|refund|phone|number|email|fine|good|ok|okay|sorry|not|no|yes)\b"
)
_EN_LOWER_NAME = re.compile(rf"(?i)\b(my name is|name is)\s+((?!{_EN_COMMON})[a-z'-]+(?:\s+(?!{_EN_COMMON})[a-z'-]+)?)")


def hide_names(text: str) -> str:
    """``text`` with the names it introduces replaced by ``***``."""
    if not text:
        return text
    text = unspaced(text)  # "제 이름은 김 민 수 요" (ASR, a syllable at a time)
    for pattern in (_SELF_NAME, _SAID_AS, _LABEL_NAME, _PERSON_NAME):
        text = pattern.sub(lambda m: m.group(0).replace(m.group(1), HIDDEN) if m.group(1) else m.group(0), text)
    text = _EN_NAME.sub(lambda m: f"{m.group(1)} {HIDDEN}", text)
    return _EN_LOWER_NAME.sub(lambda m: f"{m.group(1)} {HIDDEN}", text)
