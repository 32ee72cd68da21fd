"""Deterministic Korean/English language rules: intents, order numbers, yes/no, escalation, anger.

Used by the offline planner (intents, order numbers) and by the engine's policies (escalation
requests, an angry customer, confirmation answers) whatever the provider.
"""

from __future__ import annotations

import re
from enum import StrEnum

from host.replies import ReplyLabel, read_reply

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


def detect_language(text: str) -> str:
    """``ko`` when the text has Hangul, else ``en``."""
    return "ko" if _HANGUL.search(text or "") else "en"


class Intent(StrEnum):
    REFUND_STATUS = "refund_status"
    REFUND_REQUEST = "refund_request"
    SHIPPING = "shipping"
    ORDER_LOOKUP = "order_lookup"
    POLICY = "policy"
    MEMORY = "memory"
    GREETING = "greeting"
    THANKS = "thanks"
    ESCALATE = "escalate"
    UNKNOWN = "unknown"


ORDER_INTENTS = frozenset({Intent.REFUND_STATUS, Intent.REFUND_REQUEST, Intent.SHIPPING, Intent.ORDER_LOOKUP})


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts), re.IGNORECASE)


_ESCALATE = _rx(
    r"상담(원|사|직원)",
    r"(사람|직원|매니저|담당자)\s*(이랑|과|하고|와|에게|한테)?\s*(연결|통화|바꿔|얘기|이야기|상담)",
    r"사람\s*(좀)?\s*바꿔",
    r"\b(a |real |live )?(human|person|representative|operator)\b",
    r"\b(talk|speak) to (an? )?(agent|someone|manager)\b",
    r"\bescalate\b",
)
_ANGRY_STRONG = _rx(
    r"화가\s*(나|납)",
    r"화나",
    r"열\s*받",
    r"빡치",
    r"짜증",
    r"어이(가)?\s*없",
    r"장난(해|하나|하냐|치)",
    r"미치겠",
    r"최악",
    r"고소",
    r"소비자\s*원",
    r"\bfurious\b",
    r"\bangry\b",
    r"\bridiculous\b",
    r"\bunacceptable\b",
    r"\bworst\b",
    r"\bpissed\b",
    r"\bwtf\b",
    r"\bsue\b",
)
_REFUND = _rx(r"환불", r"\brefund")
_REFUND_REQUEST = _rx(
    r"환불\s*(을|를)?\s*(신청|요청|접수|진행해\s*주|해\s*주|받고\s*싶|하고\s*싶|원해)",
    r"(request|want|need|get|issue)\s+(a\s+|my\s+)?refund",
    r"refund\s+(my|the|this)\b",
)
_REFUND_STATUS = _rx(
    r"환불.*(상태|진행|상황|언제|됐|되었|됬|처리|확인|조회|어떻게\s*되)",
    r"refund.*(status|progress|processed|where|when|yet|update)",
    r"(status|progress|where|when).*refund",
)
# a refund asked for already ("환불을 신청했는데 언제 들어와요?", "I requested a refund last week"):
# a question about its status, not a new request
_ALREADY_REQUESTED = _rx(
    r"(신청|요청|접수)\s*(했|하였|한\s*(거|것|건|지)|해\s*(놨|놓|뒀|두었))",
    r"\b(already\s+)?(requested|asked for|applied for|filed)\s+(a\s+|my\s+|the\s+)?refund",
)
_STATUS_WORDS = _rx(
    r"상태", r"진행\s*(상황|중)", r"상황", r"됐", r"되었", r"조회", r"\bstatus\b", r"\bprogress\b", r"\byet\b"
)
_POLICY = _rx(
    r"정책",
    r"규정",
    r"약관",
    r"기간",
    r"얼마나\s*걸",
    r"며칠",
    r"방법",
    r"수수료",
    r"가능(한가요|할까요|해요\?|합니까)",
    r"어떻게\s*(하|되)나요",
    r"교환",
    r"반품",
    r"배송비",
    r"무료\s*배송",
    r"얼마\s*(이상|부터)",
    r"\bpolicy\b",
    r"\bhow (long|do|can|much)\b",
    r"\bfee\b",
    r"\breturn\b",
    r"\bexchange\b",
)
_SHIPPING = _rx(
    r"배송",
    r"택배",
    r"도착",
    r"언제\s*(와|오|받)",
    r"운송장",
    r"\bship",
    r"\bdeliver",
    r"\btrack",
    r"\bwhere(?:'s| is) (?:my |the )?(?:order|package|parcel)",
)
_ORDER = _rx(r"주문", r"\border\b")
_LOOKUP_WORDS = _rx(r"조회", r"확인", r"내역", r"상태", r"look ?up", r"status", r"check")
_MEMORY = _rx(
    r"지난\s*번",
    r"저번",
    r"이전\s*(상담|문의)",
    r"전에\s*(말|문의|얘기|상담)",
    r"기억",
    r"\blast time\b",
    r"\bremember\b",
    r"\bwhat do you know about me\b",
    r"\bprevious(ly)?\b",
)
_GREETING = _rx(
    r"^\s*(안녕|여보세요|반갑)", r"상담\s*도움", r"도와\s*주", r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b"
)
_THANKS = _rx(r"감사", r"고마", r"수고", r"^\s*(thanks|thank you|bye|goodbye)\b")


def wants_human(text: str) -> bool:
    """The customer asks for a person ('상담원 연결해 주세요', 'I want a human')."""
    return bool(_ESCALATE.search(text or ""))


def is_angry(text: str) -> bool:
    """Strong anger or a threat ('화가 나요', '최악', 'this is ridiculous')."""
    return bool(_ANGRY_STRONG.search(text or ""))


def confirmation_answer(text: str) -> bool | None:
    """True for a clear yes, False for a no, None otherwise (see :func:`host.replies.read_reply`)."""
    label = read_reply(text).label
    if label is ReplyLabel.CONFIRM:
        return True
    return False if label is ReplyLabel.DENY else None


def is_question(text: str) -> bool:
    """The utterance asks something ('그러니까 언제 들어온다고요?'): a '?', a question word, an
    interrogative ending (the same cues the confirmation reading uses)."""
    return "question" in read_reply(text or "").cues


def classify(text: str) -> Intent:
    """The customer's intent in one utterance (rules, first match wins)."""
    text = text or ""
    if wants_human(text):
        return Intent.ESCALATE
    has_order = extract_order_number(text) is not None
    if _REFUND.search(text):
        if _REFUND_REQUEST.search(text) and not _ALREADY_REQUESTED.search(text):
            return Intent.REFUND_REQUEST
        if _POLICY.search(text) and not has_order and not _STATUS_WORDS.search(text):
            return Intent.POLICY
        return Intent.REFUND_STATUS
    if _SHIPPING.search(text):
        return Intent.POLICY if _POLICY.search(text) and not has_order and "언제" not in text else Intent.SHIPPING
    if _MEMORY.search(text):
        return Intent.MEMORY
    if _POLICY.search(text):
        return Intent.POLICY
    if (_ORDER.search(text) or has_order) and _LOOKUP_WORDS.search(text):
        return Intent.ORDER_LOOKUP
    if _GREETING.search(text):
        return Intent.GREETING
    if _THANKS.search(text):
        return Intent.THANKS
    return Intent.UNKNOWN


# --- order numbers ---------------------------------------------------------------------------

_ORDER_PATTERNS = (
    re.compile(r"\b(ORD-?\d{3,12})\b", re.IGNORECASE),
    re.compile(r"주문\s*(?:번호)?\s*(?:는|은|이|가|:|=)?\s*#?\s*(\d{3,12})(?!\d|-)"),
    re.compile(r"(?<![\d-])(\d{3,12})\s*번(?!\s*째)"),
    re.compile(r"order\s*(?:number|no\.?|num|#)?\s*(?:is\s*)?#?\s*(\d{3,12})(?!\d|-)", re.IGNORECASE),
    re.compile(r"#(\d{3,12})(?!\d|-)"),
)
_BARE_NUMBER = re.compile(r"(?<![\d-])(\d{3,12})(?![\d-])")
_MOBILE = re.compile(r"01[016789]\d{7,8}")  # a mobile number said without hyphens is not an order
_ORDER_CONTEXT = re.compile(r"주문|환불|배송|\border\b|\brefund\b|\bdeliver|\bship", re.IGNORECASE)


def extract_order_number(text: str) -> str | None:
    """The order number in an utterance ('주문번호는 8841입니다' → '8841'), or None.

    Numbers that look like phone, card or account numbers (hyphenated groups) are not taken.
    """
    text = text or ""
    for pattern in _ORDER_PATTERNS:
        match = pattern.search(text)
        if match:
            return match.group(1).upper()
    # one number, maybe repeated ("8841이요 8841", "eight eight four one i mean 8841"): in a short
    # reply, or in a longer one that talks about an order, a refund or a delivery
    bare = {n for n in _BARE_NUMBER.findall(text) if not _MOBILE.fullmatch(n)}
    if len(bare) == 1 and (len(text) <= 40 or _ORDER_CONTEXT.search(text)):
        return bare.pop()
    return None


_REASON_KO = re.compile(r"([가-힣A-Za-z0-9 ]{2,40}?)\s*(?:이라서|라서|해서|여서|이어서|때문에|로 인해)")
_REASON_EN = re.compile(r"\b(?:because|since|as)\s+(.{2,120}?)(?:[.!?]|$)", re.IGNORECASE)
_REASON_LABELED = re.compile(r"(?:사유|이유)\s*(?:는|은|:)\s*(.{2,80}?)(?:입니다|이에요|예요|[.!?]|$)")


def extract_reason(text: str) -> str | None:
    """Why the customer wants a refund, when the utterance says it ('단순 변심이라서 …' → '단순 변심')."""
    text = text or ""
    for pattern in (_REASON_LABELED, _REASON_KO, _REASON_EN):
        match = pattern.search(text)
        if match:
            reason = match.group(1).strip(" ,.")
            reason = re.sub(r"^(주문\s*(번호)?\s*\d+\s*(번)?\s*(은|는|이|가)?\s*)", "", reason).strip()
            if len(reason) >= 2:
                return reason
    return None


# --- Korean particles --------------------------------------------------------------------------

_DIGIT_HAS_BATCHIM = {"0": True, "1": True, "2": False, "3": True, "4": False, "5": False,
                      "6": True, "7": True, "8": True, "9": False}  # fmt: skip
_DIGIT_RIEUL = {"1", "7", "8"}  # 일, 칠, 팔 end in ㄹ: '로' not '으로'


def particle_ro(word: str) -> str:
    """'로' or '으로' after ``word`` ('8841로', '8843으로', '주문으로')."""
    if not word:
        return "로"
    last = word[-1]
    if last.isdigit():
        return "로" if (not _DIGIT_HAS_BATCHIM[last] or last in _DIGIT_RIEUL) else "으로"
    code = ord(last) - 0xAC00
    if 0 <= code < 11172:
        final = code % 28
        return "로" if final in (0, 8) else "으로"  # no final consonant, or ㄹ
    return "로"


def particle_eul(word: str) -> str:
    """'을' or '를' after ``word``."""
    if not word:
        return "를"
    last = word[-1]
    if last.isdigit():
        return "을" if _DIGIT_HAS_BATCHIM[last] else "를"
    code = ord(last) - 0xAC00
    if 0 <= code < 11172:
        return "을" if code % 28 else "를"
    return "를"
