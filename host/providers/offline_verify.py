"""The offline planner's side of caller verification: ask for the phone number, then the factor.

When an anonymous caller (``context["verified"]`` false) asks about an order and the agent has
the order server's ``verify_caller``, the planner asks for the mobile number on record, then the
name on the orders ("본인 확인을 위해 주문하신 분 성함을 말씀해 주세요"), and calls
``verify_caller``. The host reads the answer (:mod:`host.verification`); the planner is told only
whether it passed and how many tries are left, and then carries on with what the caller asked.

Numbers are read the way people say them: ``010-1234-5678``, ``010 1234 5678``, ``+82 10…`` and
spoken digits ("공일공 일이삼사 오육칠팔"). Names come out of replies such as "김민수입니다",
"어 제 이름은 김 민수요", "John Smith".
"""

from __future__ import annotations

import re
from typing import Any

from host import nlu
from host.nlu import Intent
from host.providers.base import ModelReply, ModelRequest, ToolResult, ToolSpec

TOOL = "verify_caller"
TEXT: dict[str, dict[str, str]] = {
    "ask_phone": {
        "ko": "주문 정보를 안내해 드리려면 본인 확인이 필요합니다. 주문하신 분의 휴대폰 번호를 말씀해 주세요.",
        "en": "I need to verify you before I can share order details. What is the mobile number on the order?",
    },
    "ask_phone_whole": {
        "ko": "휴대폰 번호를 010부터 끝까지 한 번에 말씀해 주세요.",
        "en": "Please say the whole mobile number in one go, from 010 to the end.",
    },
    "ask_factor": {
        "ko": "본인 확인을 위해 주문하신 분 성함을 말씀해 주세요.",
        "en": "To verify you, please tell me the name the order was placed under.",
    },
    "retry": {
        "ko": "말씀하신 정보로 본인 확인이 되지 않았습니다(남은 시도 {left}회). 휴대폰 번호를 다시 말씀해 주세요.",
        "en": "I couldn't verify you with that ({left} tries left). Could you tell me the mobile number again?",
    },
    "passed": {
        "ko": "본인 확인이 완료되었습니다. 확인할 주문번호를 말씀해 주세요.",
        "en": "Thank you, you're verified. Which order number should I check?",
    },
    "failed": {
        "ko": "지금은 본인 확인을 할 수 없습니다. 상담원 연결을 원하시면 말씀해 주세요.",
        "en": "I can't verify you right now. Say so if you'd like to talk to a person.",
    },
}

_SPOKEN = {"공": "0", "영": "0", "일": "1", "이": "2", "삼": "3", "사": "4", "오": "5", "육": "6", "륙": "6"}
_SPOKEN |= {"칠": "7", "팔": "8", "구": "9"}
_SPOKEN_RUN = re.compile(r"[공영][공영일이삼사오육륙칠팔구에\s-]{8,}[공영일이삼사오육륙칠팔구]")
_DIGIT_RUN = re.compile(r"\+?\d[\d\s().-]{7,}\d")
_MOBILE = re.compile(r"^01[016789]\d{7,8}$")
# a piece of a phone number: what the host masked, a group of digits, or one said in Korean ("공일공")
_PHONE_PIECE = re.compile(
    r"\*{3,}|(?<![\d*])\d{3,4}(?![\d*])|(?<![가-힣])[공영일이삼사오육륙칠팔구]{3,4}(?![가-힣]|\s*[가-힣]{2})"
)
_NAME_LEADS = re.compile(
    r"(?:제\s*이름은|이름은|성함은|주문자는|주문하신\s*분은|저는|전|제가|my name is|name is|it's|i am|i'm|this is)\s*",
    re.IGNORECASE,
)
_NAME_ENDS = re.compile(r"(?:이라고\s*합니다|라고\s*합니다|이라고요|라고요|입니다|이에요|예요|이고요|이요|요|님|씨)$")
_FILLERS = frozenset({"어", "음", "아", "저", "네", "예", "그", "저기", "um", "uh", "er", "well", "yes", "ok"})
_HANGUL_NAME = re.compile(r"^[가-힣]{2,5}$")
# words of the call itself, never a person's name: "단순 변심" said to "성함을 말씀해 주세요" is the
# refund's reason said one question late, and would use up a verification attempt
_NOT_NAME_WORDS = frozenset(
    {"단순", "변심", "불량", "환불", "교환", "반품", "배송", "주문", "취소", "문의", "상품", "고객", "상담원",
     "사이즈", "색상", "파손", "주문번호", "전화번호", "번호", "모르겠어요", "몰라요", "왜요"}
)  # fmt: skip
_LATIN_NAME = re.compile(r"^[A-Za-z][A-Za-z' -]{1,40}$")


def find_check(tools: list[ToolSpec]) -> ToolSpec | None:
    return next((t for t in tools if (t.tool_name or t.name) == TOOL and not t.host_builtin), None)


def extract_phone(text: str) -> str | None:
    """The Korean mobile number in an utterance, as 11 (or 10) digits, or None."""
    for match in _DIGIT_RUN.finditer(text):
        digits = re.sub(r"\D", "", match.group())
        digits = "0" + digits[2:] if match.group().startswith("+82") else digits
        if _MOBILE.match(digits):
            return digits
    for match in _SPOKEN_RUN.finditer(text):  # "공일공에 일이삼사 오육칠팔이요": a trailing 이 may be a particle
        digits = "".join(_SPOKEN.get(c, "") for c in match.group())
        for size in (11, 10):
            if _MOBILE.match(digits[:size]) and (size == 11 or not digits.startswith("010")):
                return digits[:size]
    return None


def without_phone(text: str) -> str:
    return _DIGIT_RUN.sub(" ", _SPOKEN_RUN.sub(" ", text))


def extract_name(text: str) -> str | None:
    """The name in a reply to "성함을 말씀해 주세요", or None when there is none."""
    rest = without_phone(text).strip(" .,!?~")
    leads = list(_NAME_LEADS.finditer(rest))
    if leads:  # "01012345678 이고 이름은 김민수요": what follows the last lead is the name
        rest = rest[leads[-1].end() :]
    words = rest.split()
    words = [w.strip(".,!?~\"'") for w in words]
    words = [w for w in words if w and w.lower() not in _FILLERS]
    if not words:
        return None
    if any(_NAME_ENDS.sub("", w) in _NOT_NAME_WORDS for w in words):
        return None
    if all(re.fullmatch(r"[가-힣]+", w) for w in words):
        joined = _NAME_ENDS.sub("", "".join(words))
        return joined if _HANGUL_NAME.match(joined) else None
    latin = " ".join(words)
    return latin if _LATIN_NAME.match(latin) and len(words) <= 4 else None


def _ask(key: str, lang: str, state: dict[str, Any], **values: Any) -> ModelReply:
    return ModelReply(text=TEXT[key]["ko" if lang == "ko" else "en"].format(**values), state=state)


def on_user(planner: Any, request: ModelRequest, text: str, lang: str, state: dict[str, Any]) -> ModelReply | None:
    """The handshake's step for this utterance, or None when it has nothing to do with it."""
    spec = find_check(request.tools)
    if spec is None or request.context.get("verified", True):
        state.pop("verify", None)
        return None
    pending: dict[str, Any] | None = state.get("verify")
    phone = extract_phone(text)
    intent = nlu.classify(without_phone(text))
    if pending is None:
        if intent not in nlu.ORDER_INTENTS:
            return None
        pending = state["verify"] = {"intent": intent.value, "order": nlu.extract_order_number(without_phone(text))}
    elif not phone and pending.get("asked") != "factor" and intent not in nlu.ORDER_INTENTS | {Intent.UNKNOWN}:
        state.pop("verify")  # a question about something else: answered, the check waits for an order question
        return None
    if phone:
        pending["phone"] = phone
    if not pending.get("phone"):
        # a piece of the number ("공일공", "1234"; masked as it comes in): the whole number, in one go
        piece = pending.get("asked") == "phone" and _PHONE_PIECE.search(text) is not None
        pending["asked"] = "phone"
        return _ask("ask_phone_whole" if piece else "ask_phone", lang, state)
    # the name is read when asked for, or beside the number with its lead ("01012345678 이고 이름은 김민수요")
    named = pending.get("asked") == "factor" or (phone is not None and _NAME_LEADS.search(text) is not None)
    name = extract_name(text) if named else None
    if not name:
        pending["asked"] = "factor"
        return _ask("ask_factor", lang, state)
    pending["asked"] = "check"
    args = {"phone": pending["phone"], "factor_kind": "name", "factor": name}
    return planner._call(request, spec, args, state)


def after_check(
    planner: Any, request: ModelRequest, result: ToolResult, lang: str, state: dict[str, Any]
) -> ModelReply:
    """The planner's next step after ``verify_caller`` answered."""
    pending: dict[str, Any] = state.pop("verify", None) or {}
    data = result.data if isinstance(result.data, dict) else {}
    if result.is_error:
        return _ask("failed", lang, state)
    if data.get("verified") is True:
        intent, order = pending.get("intent"), pending.get("order")
        if order and intent:
            return planner._order_intent(request, Intent(intent), order, "", lang, state)
        if intent:
            state["awaiting"] = intent
        return _ask("passed", lang, state)
    left = int(data.get("attempts_left") or 0)
    state["verify"] = {"intent": pending.get("intent"), "order": pending.get("order")}
    return _ask("retry", lang, state, left=left)
