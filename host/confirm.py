"""Confirmation with the customer: the prompt for a pending call, and applying a correction.

The host writes the prompt itself (the model does not get to word what the customer agrees to):
'주문번호 8841로 조회해도 될까요?'. A correction ('아니요, 8842예요') replaces the value it names.
"""

from __future__ import annotations

import re
from typing import Any

from host import nlu
from host.tooling import HOST_MANAGED_ARGS, ExposedTool

_ORDER_ARGS = ("order_id", "order_number", "order_no", "orderId", "order")
_REASON_ARGS = ("reason",)


def _order_arg(arguments: dict[str, Any]) -> str | None:
    return next((name for name in _ORDER_ARGS if name in arguments), None)


def confirm_prompt(tool: ExposedTool, arguments: dict[str, Any], language: str) -> str:
    """The question the customer answers before ``tool`` runs with ``arguments``."""
    order_arg = _order_arg(arguments)
    shown = {k: v for k, v in arguments.items() if k not in HOST_MANAGED_ARGS}
    reason = next((str(arguments[n]) for n in _REASON_ARGS if n in arguments), None)
    if order_arg is not None:
        order = str(arguments[order_arg])
        if language == "ko":
            if tool.is_read:
                return f"주문번호 {order}{nlu.particle_ro(order)} 조회해도 될까요?"
            if "refund" in tool.tool_name:
                why = f" '{reason}' 사유로" if reason else ""
                return f"주문번호 {order}의 환불을{why} 요청해도 될까요?"
            return f"주문번호 {order}에 대해 '{tool.title}'{nlu.particle_eul(tool.title)} 진행해도 될까요?"
        if tool.is_read:
            return f"Shall I look up order {order}?"
        if "refund" in tool.tool_name:
            why = f" (reason: {reason})" if reason else ""
            return f"Shall I request a refund for order {order}{why}?"
        return f"Shall I go ahead with '{tool.title}' for order {order}?"
    details = ", ".join(f"{k}: {v}" for k, v in shown.items())
    if language == "ko":
        return f"'{tool.title}'{nlu.particle_eul(tool.title)} 다음 내용으로 진행해도 될까요? ({details})"
    return f"Shall I go ahead with '{tool.title}' ({details})?"


def apply_correction(tool: ExposedTool, arguments: dict[str, Any], correction_text: str) -> dict[str, Any] | None:
    """``arguments`` with the value the customer corrected, or None when no value can be found.

    An order number in the correction replaces the order argument; otherwise a single number
    replaces the single numeric-looking string argument.
    """
    text = correction_text or ""
    order_arg = _order_arg(arguments)
    if order_arg is not None:
        order = nlu.extract_order_number(text)
        if order is None or str(order) == str(arguments[order_arg]):
            return None
        current = arguments[order_arg]
        value: Any = int(re.sub(r"\D", "", order)) if isinstance(current, int) else order
        if isinstance(current, str) and current.upper().startswith("ORD") and order.isdigit():
            value = f"{current[: len(current) - len(current.lstrip('ORDord-'))]}{order}"
        return {**arguments, order_arg: value}
    numeric = [k for k, v in arguments.items() if isinstance(v, str) and v.isdigit() and k not in HOST_MANAGED_ARGS]
    numbers = re.findall(r"(?<![\d-])\d{2,}(?![\d-])", text)
    if len(numeric) == 1 and len(numbers) == 1 and numbers[0] != arguments[numeric[0]]:
        return {**arguments, numeric[0]: numbers[0]}
    return None
