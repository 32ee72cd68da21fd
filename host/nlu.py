"""Deterministic Korean/English language rules: intents, order numbers, yes/no, escalation, anger.

Used by the offline planner (intents, order numbers) and by the engine's policies (escalation
requests, an angry customer, confirmation answers) whatever the provider.
"""

from __future__ import annotations

import re
from enum import StrEnum

from host.escalation_rules import (  # noqa: F401  (re-exported: the escalation rules live there)
    Escalation,
    escalation_reason,
    frustrated,
    is_angry,
    wants_human,
)
from host.ordernumbers import extract_order_number
from host.replies import ReplyLabel, read_reply

_HANGUL = re.compile(r"[\uac00-\ud7a3\u3131-\u318e]")


_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def language_of(text: str) -> str | None:
    """``ko`` (Hangul), ``en`` (a Latin word), or None when the text has no words to tell by: an
    emoji, digits, punctuation ("🙂", "8822", "?"). A walk opened a session with "🙂" and the
    whole Korean call went on in English."""
    if _HANGUL.search(text or ""):
        return "ko"
    return "en" if _LATIN_WORD.search(text or "") else None


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
    REFUND_WITHDRAW = "refund_withdraw"  # take back a refund already asked for: no tool does it
    UNKNOWN = "unknown"


ORDER_INTENTS = frozenset({Intent.REFUND_STATUS, Intent.REFUND_REQUEST, Intent.SHIPPING, Intent.ORDER_LOOKUP})


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(parts), re.IGNORECASE)


_REFUND = _rx(r"환불", r"\brefund")
_REFUND_REQUEST = _rx(
    r"환불\s*(을|를)?\s*(신청|요청|접수|진행해\s*주|해\s*주|받고\s*싶|하고\s*싶|원해)",
    r"(request|want|need|get|issue)\s+(a\s+|my\s+)?refund",
    r"refund\s+(my|the|this)\b",
    # code-switched: "8822 refund 해주세요 please", "refund 신청할게요", "please refund 8822", "환불 please"
    r"\brefund\s*(을|를)?\s*(신청|요청|접수|진행해\s*주|해\s*주|해줘|받고\s*싶|하고\s*싶|원해)",
    r"\bplease\s+refund\b",
    r"(\brefund|환불)\s*please\b",
)
_REFUND_STATUS = _rx(
    r"환불.*(상태|진행|상황|언제|됐|되었|됬|처리|확인|조회|어떻게\s*되)",
    r"refund.*(status|progress|processed|where|when|yet|update)",
    r"(status|progress|where|when).*refund",
)
# a refund asked for already ("환불을 신청했는데 언제 들어와요?", "I requested a refund last week"):
# a question about its status, not a new request
# "주문 취소해 주세요": the order server has no cancel tool; an order not yet shipped is cancelled by
# refunding it, so this asks for a refund (put to the customer as one: "…환불을 신청할까요?")
_CANCEL_ORDER = _rx(
    r"주문\s*(?:을|를|좀|건|한\s*거|한\s*것)?\s*(?:좀\s*)?취소\s*(?:좀\s*)?(?:해|하고|할|하려|요|부탁|원해|시켜)",
    r"\bcancel\s+(?:my|the|this|that)?\s*order\b",
)
# "환불 취소해 주세요", "환불 철회", "cancel my refund": taking back a refund already asked for
_WITHDRAW = _rx(
    r"환불\s*(?:요청|신청|접수)?\s*(?:을|를|은|는|건|한\s*거)?\s*(?:좀\s*)?(?:취소|철회|무르|없던\s*(?:걸|것)으로)",
    r"\b(?:cancel|withdraw|undo|take\s+back)\s+(?:my|the|this|that)?\s*refund",
)
_ALREADY_REQUESTED = _rx(
    r"(신청|요청|접수)\s*(했|하였|한\s*(거|것|건|지)|해\s*(놨|놓|뒀|두었))",
    r"\b(already\s+)?(requested|asked for|applied for|filed)\s+(a\s+|my\s+|the\s+)?refund",
)
_STATUS_WORDS = _rx(
    r"상태", r"진행\s*(상황|중)", r"상황", r"됐", r"되었", r"조회", r"\bstatus\b", r"\bprogress\b", r"\byet\b"
)
# a question about what is possible in general ('주말에도 환불이 되나요?', '환불하면 쿠폰도 돌려받나요',
# '이자도 붙나요'), not about the customer's own case ('제 환불 되나요', '환불 언제 되나요', '됐나요')
_GENERAL_QUESTION = re.compile(r"(?<!언제\s)(?:되|받|붙|돌려받|드리|주|하)나요|수\s*있(?:나요|어요|을까요|습니까)")
_MINE = re.compile(r"(?:^|\s)(?:제|내|저희|우리)\s|언제|어떻게\s*됐|아직|진행|어디쯤|왔|와요|오나요")
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
# with an order number only ("주문 8823도 같이 봐주세요", "8841 어떻게 됐어요"): without one these
# words ask about anything ("주문 취소 알려주세요" is a policy question)
_SEE_WORDS = _rx(
    r"봐\s*(?:주|줘|줄|달)", r"알려\s*(?:주|줘)", r"어떻게\s*(?:됐|되었|돼|되어)", r"찾아\s*(?:주|줘)", r"where is"
)
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
_THANKS = _rx(r"감사", r"고마", r"수고\s*(?:하|해|했|많)", r"^\s*(thanks|thank you|bye|goodbye)\b")


def confirmation_answer(text: str) -> bool | None:
    """True for a clear yes, False for a no, None otherwise (see :func:`host.replies.read_reply`)."""
    label = read_reply(text).label
    if label is ReplyLabel.CONFIRM:
        return True
    return False if label is ReplyLabel.DENY else None


# The customer takes back what they asked for ("아니요 환불 안 할래요", "됐어요", "취소요", "하지
# 마세요"), as opposed to a reason that happens to hold a negation ("사이즈가 안 맞아요", "작동이 안
# 돼요", "필요 없어졌어요"): a bare no, or a no to doing it at all.
_BARE_NO = re.compile(r"^(?:아니[요오]?|아뇨|아니에요|노|no|nope|nah)[\s.!~]*$", re.IGNORECASE)
_NOT_DOING_IT = re.compile(
    r"안\s*(?:할|하)(?:래|게|겠)|안\s*해도\s*(?:돼|되|됩)|하지\s*마|그만\s*(?:할|둘|하)|관둘|"
    r"^(?:그냥\s*)?(?:됐어요|됐습니다|됐어|괜찮아요|괜찮습니다|취소(?:요|할게요|할래요|해\s*주세요)?)[\s.!~]*$|"
    r"나중에\s*(?:할게|하겠|다시)|\b(?:never mind|forget it|don'?t do it|cancel it)\b",
    re.IGNORECASE,
)


def takes_back(text: str) -> bool:
    """Whether ``text`` withdraws the request in progress (a refund awaiting its reason)."""
    text = (text or "").strip()
    return bool(_BARE_NO.match(text) or _NOT_DOING_IT.search(text))


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
    if _WITHDRAW.search(text):
        return Intent.REFUND_WITHDRAW
    if _CANCEL_ORDER.search(text):
        return Intent.REFUND_REQUEST
    if _REFUND.search(text):
        if _REFUND_REQUEST.search(text) and not _ALREADY_REQUESTED.search(text):
            return Intent.REFUND_REQUEST
        if _POLICY.search(text) and not has_order and not _STATUS_WORDS.search(text):
            return Intent.POLICY
        if _GENERAL_QUESTION.search(text) and not has_order and not _MINE.search(text):
            return Intent.POLICY  # '주말에도 환불이 되나요?': how refunds work, not where mine is
        return Intent.REFUND_STATUS
    if _SHIPPING.search(text):
        general = _POLICY.search(text) or (_GENERAL_QUESTION.search(text) and not _MINE.search(text))
        return Intent.POLICY if general and not has_order and "언제" not in text else Intent.SHIPPING
    if _MEMORY.search(text):
        return Intent.MEMORY
    if _POLICY.search(text):
        return Intent.POLICY
    if (_ORDER.search(text) or has_order) and _LOOKUP_WORDS.search(text):
        return Intent.ORDER_LOOKUP
    if has_order and _SEE_WORDS.search(text):
        return Intent.ORDER_LOOKUP
    if _GREETING.search(text):
        return Intent.GREETING
    if _THANKS.search(text):
        return Intent.THANKS
    return Intent.UNKNOWN


# --- order numbers: host/ordernumbers.py -------------------------------------------------------

# --- refund reasons: host/reasons.py -----------------------------------------------------------


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
