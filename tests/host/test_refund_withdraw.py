"""What a customer says to cancel an order or take a refund back (found by a hostile walk).

"주문 취소해 주세요" was read as declining an action ("알겠습니다. 진행하지 않았습니다") and the
session ended 해결; "환불 취소해 주세요" and "방금 거 취소해 주세요 환불 안 할래요" right after a
refund read the refund's status back. No tool cancels an order or withdraws a refund: cancelling
is asking for a refund (put to the customer as one), and withdrawing goes to a person.
Offline planner, engine level.
"""

from __future__ import annotations

import pytest

from tests.host.conftest import make_layer
from tests.host.test_safety import _refunds

WITHDRAW = "접수된 환불 요청은 제가 여기서 취소해 드릴 수 없습니다. 상담원을 연결해 드릴까요?"


async def test_cancelling_an_order_asks_for_its_refund_and_moves_money_only_on_yes(start):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    asked = await conv.user_message("주문 취소해 주세요")
    assert "주문번호" in asked.answer and "진행하지 않았습니다" not in asked.answer, asked.answer
    await conv.user_message("8841이요")
    await conv.user_message("네")  # the lookup
    prompt = await conv.user_message("단순 변심이요")
    assert prompt.confirm_prompt is not None and "환불" in prompt.confirm_prompt
    assert _refunds(layer) == []
    await conv.user_message("아니요")
    assert _refunds(layer) == []


@pytest.mark.parametrize("taken_back", ["아 잠깐만요 방금 거 취소해 주세요 환불 안 할래요", "환불 철회해 주세요"])
async def test_taking_a_refund_back_offers_a_person_and_makes_nothing_more(start, taken_back):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    await conv.user_message("주문번호 8841 환불 신청하고 싶어요")
    await conv.user_message("네")
    await conv.user_message("단순 변심이요")
    await conv.user_message("네")
    assert len(_refunds(layer)) == 1
    back = await conv.user_message(taken_back)
    assert back.answer == WITHDRAW and back.confirm_prompt is None, back.answer
    handed = await conv.user_message("네")  # yes to the person
    assert handed.status == "escalated" and len(_refunds(layer)) == 1
    summary = await conv.end()
    assert summary["outcome"] != "해결"


async def test_asking_to_withdraw_with_no_refund_made_is_not_resolved(start):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    back = await conv.user_message("환불 취소해 주세요")
    assert back.answer == WITHDRAW
    await conv.user_message("아니요")
    summary = await conv.end()
    assert summary["outcome"] == "미해결" and _refunds(layer) == []


async def test_two_orders_at_once_are_taken_one_at_a_time(start):
    """A walk: "8841하고 8822 둘 다 환불해 주세요" was asked for an order number as if none was said."""
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    asked = await conv.user_message("8841하고 8842 둘 다 환불해 주세요")
    assert "8841, 8842" in asked.answer and "한 주문씩" in asked.answer and asked.confirm_prompt is None
    assert layer.calls == []
    picked = await conv.user_message("8842요")
    assert picked.confirm_prompt == "주문번호 8842로 조회해도 될까요?"
    summary = await conv.end()  # ended before it was answered: not resolved
    assert summary["outcome"] != "해결" and _refunds(layer) == []
