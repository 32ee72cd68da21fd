"""The refund reason in what a customer says, and whether a reply gives one.

A reason comes in three shapes: labelled ("사유는 단순 변심입니다"), a causal clause ("사이즈가 안
맞아서요", "배송이 너무 늦어서", "파손돼서 왔어요", "because it broke"), or a bare reason noun
("단순 변심이요", "불량이요"). A yes-word or filler in front of it ("네", "예", "음") is not part of
the reason: a walk stored "네 불량" as the reason of a refund and cut "달라서" to "달".

Causal clauses are found with kiwi (the reply reader's instance, host/replies.py): Korean fuses the
connective into the verb (맞아서, 늦어서, 돼서, 별로라서), which a pattern over syllables misses
or over-matches ("집에서" is a place, not a cause). Without kiwi the old patterns are used.

The reason is what the order server records with the refund; the customer is shown only its
category (host/confirm.py), never these words.
"""

from __future__ import annotations

import re

from host.confirm import reason_category
from host.replies import ReplyLabel, read_reply
from host.spacing import unspaced

# yes-words and fillers before the reason ("네 불량이라서요", "음 그게 사이즈가…")
_LEAD = re.compile(
    r"^(?:(?:네+|예+|넵|넹|응|어|음+|아+|그럼|그래요?|ㅇㅇ|yes|yeah|yep|ok(?:ay)?|sure)(?:[\s,.!~]+|$))+",
    re.IGNORECASE,
)
_NO_LEAD = re.compile(r"^\s*(?:아니|아뇨|노\b|no\b|nope|nah)", re.IGNORECASE)
# another request than a refund: an exchange is not a refund
_OTHER_REQUEST = re.compile(r"교환|바꿔\s*(?:주|줘|받)|exchange|replace", re.IGNORECASE)
_TRAILING = re.compile(r"(?:이요|입니다|이에요|예요|에요|요)?[\s.!~,]*$")

_REASON_KO = re.compile(r"([가-힣A-Za-z0-9 ]{2,40}?)\s*(?:이라서|라서|해서|여서|이어서|때문에|로 인해)")
_REASON_EN = re.compile(r"\b(?:because|since|as)\s+(.{2,120}?)(?:[.!?]|$)", re.IGNORECASE)
_REASON_LABELED = re.compile(r"(?:사유|이유)\s*(?:는|은|:)\s*(.{2,80}?)(?:입니다|이에요|예요|[.!?]|$)")
_ORDER_PREFIX = re.compile(r"^(주문\s*(번호)?\s*\d+\s*(번)?\s*(은|는|이|가)?\s*)")

# kiwi's connective endings of cause, and 때문 (때문에)
_CAUSAL_EC = frozenset({"어서", "아서", "라서", "이라서", "여서", "해서", "길래", "니까", "으니까", "므로", "으므로"})
_MAX_NOUN_REASON = 40  # characters: a bare reason noun phrase is short ("단순 변심이요")


def _tidy(reason: str) -> str | None:
    reason = _ORDER_PREFIX.sub("", reason.strip(" ,.")).strip()
    return reason if len(reason) >= 2 else None


def _causal_clause(body: str) -> str | None:
    """``body`` up to the end of the word holding its first causal connective, or None."""
    from host.replies import load

    kiwi = load()
    if kiwi is None:
        match = _REASON_KO.search(body)
        return match.group(0).strip() if match else None
    for token in kiwi.tokenize(body):
        tag = str(token.tag)
        causal = (tag == "EC" and token.form in _CAUSAL_EC) or (tag == "NNB" and token.form == "때문")
        if causal:
            end = token.start + token.len
            space = body.find(" ", end)
            return body[: space if space >= 0 else len(body)]
    return None


def refund_reason(text: str) -> str | None:
    """Why the customer wants a refund, when ``text`` says it; None when it does not.

    '네 사이즈가 안 맞아서요' → '사이즈가 안 맞아서', '예 단순 변심이요' → '단순 변심',
    '단순 변심이라서 환불하려고요' → '단순 변심이라서', '사유는 상품 불량입니다' → '상품 불량'.
    """
    text = unspaced((text or "").strip())  # "단 순 변 심" (ASR, a syllable at a time)
    if not text:
        return None
    if match := _REASON_LABELED.search(text):
        return _tidy(match.group(1))
    if match := _REASON_EN.search(text):
        return _tidy(match.group(1))
    body = _LEAD.sub("", text).strip()
    if not body:
        return None
    if clause := _causal_clause(body):
        return _tidy(_TRAILING.sub("", clause))
    if len(body) <= _MAX_NOUN_REASON and reason_category(body, "ko") not in (None, "기타"):
        return _tidy(_TRAILING.sub("", body))  # "불량이요", "단순 변심이요", "파손됐어요"
    return None


# a "but" or a "not yet" after the reason ("네 불량이라서요 근데 아직요"): the offer is not taken; a reason
# said softly with -는데 ("사이즈가 좀 작은데요") still is
_BUT = re.compile(
    r"(?<![가-힣])(?:근데|그런데|그렇지만|하지만|다만|아직)(?![가-힣])|(?<![가-힣])아직[은도요]|\bbut\b", re.IGNORECASE
)


def says_but(text: str) -> bool:
    """Whether ``text`` holds a "but" or a "not yet" as a word of its own ("네 불량이라서요 근데 아직요")."""
    return _BUT.search(text or "") is not None


def gives_reason(text: str) -> bool:
    """Whether ``text``, said to "환불을 신청하시겠어요?", is a yes that gives its reason.

    A yes-word is not needed ("사이즈가 안 맞아서요" answers the offer), but a no-word, a question,
    a hesitation, a condition ("예 불량이면 해주세요"), a take-back or another request (an exchange)
    is never one: "아니요 사이즈가 안
    맞아서 교환하려고요" is not a refund. The refund still asks for its own confirmation.
    """
    if _NO_LEAD.match(text or "") or _OTHER_REQUEST.search(text or "") or _BUT.search(text or ""):
        return False
    if refund_reason(text) is None:
        return False
    reading = read_reply(text)
    if {"question", "hesitation"} & set(reading.cues) or reading.label is ReplyLabel.CORRECT or on_condition(text):
        return False
    from host.nlu import takes_back

    return not takes_back(text)


def on_condition(text: str) -> bool:
    """Whether ``text`` asks for the refund on a condition: "배송비 안 내면 환불해 주세요", "네 무료면요",
    "예 불량이면 해주세요", "if shipping is free then refund it". A reason that holds a condition
    ("세탁하면 줄어들어서요") is not one: only a condition outside the reason's causal clause counts.
    The refund is never asked for with the condition dropped (a walk: reason 기타, condition lost)."""
    if "condition" not in read_reply(text or "").cues:
        return False
    body = _LEAD.sub("", (text or "").strip()).strip()
    clause = _causal_clause(body) if body else None
    if clause is None:
        return True
    return "condition" in read_reply(body.replace(clause, " ", 1)).cues
