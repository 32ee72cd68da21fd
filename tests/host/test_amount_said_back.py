"""The prompt's own amount said back agrees; another amount never does (engine level).

A hostile walk: "네 35,500원 맞아요" to "주문번호 8841, … 35,500원 환불을 신청할까요?" was asked again:
the amount read as a second number. The reply reader takes the amount of the order being
confirmed (host/dialogue.py passes it); "네 35,000원 맞아요" (not the order's amount) moves nothing.
"""

from __future__ import annotations

import pytest

from tests.host.conftest import make_layer
from tests.host.test_safety import _refunds

PROMPT = "주문번호 8841, 무선 블루투스 이어폰 35,500원 환불을 신청할까요? (사유: 단순 변심)"


async def _at_refund_prompt(start, layer):
    conv = await start(layer)
    await conv.user_message("주문번호 8841 환불 신청하고 싶어요")
    await conv.user_message("네")  # the lookup
    asked = await conv.user_message("단순 변심이요")
    assert asked.confirm_prompt == PROMPT, asked.confirm_prompt
    return conv


def _priced_layer():
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_order"] = lambda a: {
        "order_id": a["order_id"],
        "status": "delivered",
        "status_label": "배송 완료",
        "items": [{"name": "무선 블루투스 이어폰"}],
        "amounts": {"total_krw": 35500},
    }
    return layer


async def test_the_orders_own_amount_said_back_is_a_yes(start):
    layer = _priced_layer()
    conv = await _at_refund_prompt(start, layer)
    await conv.user_message("네 35,500원 맞아요")
    assert [c[1]["order_id"] for c in _refunds(layer)] == ["8841"]


@pytest.mark.parametrize("reply", ["네 35,000원 맞아요", "네 3만5천원 맞죠?", "35,500원이요?"])
async def test_another_amount_or_a_question_moves_nothing(start, reply):
    layer = _priced_layer()
    conv = await _at_refund_prompt(start, layer)
    result = await conv.user_message(reply)
    assert _refunds(layer) == [], (reply, result)
