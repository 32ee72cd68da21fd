"""Confirmation prompts built from facts, and applying a customer's correction.

The host writes the prompt itself; the model does not get to word what the customer agrees to.
A prompt names only values a server returned or the schema validated: the order number, the
product and the amount from the order lookup ('주문번호 8841, 무선 블루투스 이어폰 외 1건 50,000원
환불을 신청할까요?'). A reason the model collected is shown only as a short category ('단순 변심'),
never quoted, so whatever the customer or a hijacked model put in it is not read back or stored in
the prompt. A correction ('아니요, 8842번이에요') replaces the value it names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from core.pii import mask_text
from host import nlu
from host.spacing import unspaced
from host.tooling import HOST_MANAGED_ARGS, ExposedTool

ORDER_ARGS = ("order_id", "order_number", "order_no", "orderId", "order")
_REASON_ARGS = ("reason",)
_SHOWN_VALUE = 40  # characters of a free-text argument shown in a generic prompt

# reason → category ('배송이 너무 늦어서 화가 나서요' → '배송 지연'); first match wins
_REASON_CATEGORIES = (
    (re.compile(r"변심|마음이?\s*(바뀌|변)|필요\s*없|안\s*쓸|change.*mind|no longer need|don'?t need", re.I),
     ("단순 변심", "change of mind")),
    (re.compile(r"불량|고장|작동|안\s*(돼|되|켜)|결함|defect|broken|not work|faulty", re.I),
     ("상품 불량", "defective")),
    (re.compile(r"파손|깨져|깨짐|찢어|damage|crack", re.I), ("파손", "damaged")),
    (re.compile(r"오배송|잘못\s*(온|왔|배송)|다른\s*(상품|제품)|wrong (item|product)", re.I), ("오배송", "wrong item")),
    (re.compile(r"늦|지연|안\s*(와|옴|왔)|late|delay|never arrived", re.I), ("배송 지연", "late delivery")),
    (re.compile(r"사이즈|크기|색상|색깔|size|colou?r", re.I), ("사이즈·색상", "size or colour")),
)  # fmt: skip


FREE_TEXT_ARGS = ("reason", "text", "content", "note", "comment", "message", "memory", "fact")


def masked_arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """``arguments`` with personal data masked in free-text values (a refund reason, a memory's text).

    What the customer confirms, and what the server stores, never holds a raw card, account or
    registration number the customer happened to say; identifiers (order numbers) are untouched.
    """
    return {k: mask_text(v) if k in FREE_TEXT_ARGS and isinstance(v, str) else v for k, v in arguments.items()}


def reason_category(reason: str | None, language: str) -> str | None:
    """A short category for a refund reason, never the reason's own words."""
    if not reason or not reason.strip():
        return None
    index = 0 if language == "ko" else 1
    reason = unspaced(reason)  # "단 순 변 심" (ASR, a syllable at a time)
    for pattern, names in _REASON_CATEGORIES:
        if pattern.search(reason):
            return names[index]
    return ("기타", "other")[index]


def order_arg(arguments: dict[str, Any]) -> str | None:
    """The name of the argument that holds an order number, if any."""
    return next((name for name in ORDER_ARGS if name in arguments), None)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What the order server returned about the order a call acts on."""

    order_id: str
    product: str | None = None  # '무선 블루투스 이어폰 외 1건'
    amount_krw: int | None = None

    @classmethod
    def from_order(cls, data: Any, language: str) -> OrderFacts | None:
        if not isinstance(data, dict) or not data.get("order_id"):
            return None
        items = [i for i in data.get("items") or [] if isinstance(i, dict) and i.get("name")]
        product = None
        if items:
            first, more = str(items[0]["name"])[:60], len(items) - 1
            if language == "ko":
                product = f"{first} 외 {more}건" if more else first
            else:
                product = f"{first} and {more} more" if more else first
        amounts = data.get("amounts") if isinstance(data.get("amounts"), dict) else {}
        total = amounts.get("total_krw")
        amount = int(total) if isinstance(total, int) and not isinstance(total, bool) else None
        return cls(str(data["order_id"]), product, amount)

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "product": self.product, "amount_krw": self.amount_krw}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> OrderFacts | None:
        return cls(**raw) if raw else None

    def describe(self, language: str) -> str:
        """'주문번호 8841, 무선 블루투스 이어폰 외 1건 50,000원' / 'order 8841 (…, 50,000 KRW)'."""
        if language == "ko":
            parts = [f"주문번호 {self.order_id}"]
            extra = " ".join(p for p in (self.product, f"{self.amount_krw:,}원" if self.amount_krw else None) if p)
            return f"{parts[0]}, {extra}" if extra else parts[0]
        extra = ", ".join(p for p in (self.product, f"{self.amount_krw:,} KRW" if self.amount_krw else None) if p)
        return f"order {self.order_id} ({extra})" if extra else f"order {self.order_id}"


def confirm_prompt(tool: ExposedTool, arguments: dict[str, Any], language: str, facts: OrderFacts | None = None) -> str:
    """The question the customer answers before ``tool`` runs with ``arguments``."""
    name = order_arg(arguments)
    ko = language == "ko"
    if name is not None:
        order = str(arguments[name])
        if tool.is_read:
            return (
                f"주문번호 {order}{nlu.particle_ro(order)} 조회해도 될까요?"
                if ko
                else f"Shall I look up order {order}?"
            )
        what = facts.describe(language) if facts is not None else (f"주문번호 {order}" if ko else f"order {order}")
        if "refund" in tool.tool_name:
            reason = next((str(arguments[n]) for n in _REASON_ARGS if n in arguments), None)
            category = reason_category(reason, language)
            if ko:
                why = f" (사유: {category})" if category else ""
                return f"{what} 환불을 신청할까요?{why}"
            why = f" (reason: {category})" if category else ""
            return f"Shall I request a refund for {what}?{why}"
        if ko:
            return f"{what}에 대해 '{tool.title}'{nlu.particle_eul(tool.title)} 진행할까요?"
        return f"Shall I go ahead with '{tool.title}' for {what}?"
    shown = {k: _shown(v) for k, v in arguments.items() if k not in HOST_MANAGED_ARGS}
    details = ", ".join(f"{k}: {v}" for k, v in shown.items())
    if ko:
        return f"'{tool.title}'{nlu.particle_eul(tool.title)} 다음 내용으로 진행할까요? ({details})"
    return f"Shall I go ahead with '{tool.title}' ({details})?"


def _shown(value: Any) -> str:
    """A free-text value as a prompt may show it: personal data masked, cut short."""
    text = mask_text(str(value))
    return text if len(text) <= _SHOWN_VALUE else text[: _SHOWN_VALUE - 1] + "…"


def closed_question(prompt: str, language: str) -> str:
    """The prompt asked again as a closed question."""
    if language == "ko":
        return f"{prompt} '네' 또는 '아니요'로 답해 주세요."
    return f"{prompt} Please answer 'yes' or 'no'."


def expected_value(arguments: dict[str, Any]) -> str | None:
    """The value a reply may correct (the order number), as text."""
    name = order_arg(arguments)
    return str(arguments[name]) if name is not None else None


def apply_correction(tool: ExposedTool, arguments: dict[str, Any], correction_text: str) -> dict[str, Any] | None:
    """``arguments`` with the value the customer corrected, or None when no value can be found.

    An order number in the correction replaces the order argument; otherwise a single number
    replaces the single numeric-looking string argument.
    """
    text = correction_text or ""
    name = order_arg(arguments)
    if name is not None:
        order = nlu.extract_order_number(text)
        if order is None or str(order) == str(arguments[name]):
            return None
        current = arguments[name]
        value: Any = int(re.sub(r"\D", "", order)) if isinstance(current, int) else order
        if isinstance(current, str) and current.upper().startswith("ORD") and order.isdigit():
            value = f"{current[: len(current) - len(current.lstrip('ORDord-'))]}{order}"
        return {**arguments, name: value}
    numeric = [k for k, v in arguments.items() if isinstance(v, str) and v.isdigit() and k not in HOST_MANAGED_ARGS]
    numbers = re.findall(r"(?<![\d-])\d{2,}(?![\d-])", text)
    if len(numeric) == 1 and len(numbers) == 1 and numbers[0] != arguments[numeric[0]]:
        return {**arguments, numeric[0]: numbers[0]}
    return None
