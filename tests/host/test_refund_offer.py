"""A status question about an order with no refund offers to request one; only a yes takes it there.

"8822 환불이요" reads as a status question (the safe reading: nothing moves). When the order has
no refund and could have one, the answer says so and asks "환불을 신청하시겠어요?". A yes leads to
the reason and to the refund's own confirmation; anything else — a no, a hesitation, a question —
leaves the order as it was. Offline planner, engine level.
"""

from __future__ import annotations

import pytest

from tests.host.conftest import make_layer
from tests.host.test_safety import _refunds

OFFER = "환불을 신청하시겠어요?"


def _no_refund(refundable: bool = True):
    def status(args):
        return {
            "order_id": args["order_id"],
            "state": "none",
            "state_label": "환불 내역 없음",
            "refund_id": None,
            "refundable": refundable,
            "not_refundable_code": None if refundable else "window_passed",
            "summary_ko": "이 주문에는 환불 요청 내역이 없습니다.",
        }

    return status


async def _offered(start, layer, asked: str = "8822 환불이요"):
    conv = await start(layer)
    await conv.user_message(asked)
    result = await conv.user_message("네")  # the lookup
    return conv, result


@pytest.mark.parametrize("asked", ["8822 환불이요", "주문번호 팔팔이이 환불이요", "8822 환불 언제 돼요?"])
async def test_no_refund_on_a_refundable_order_is_offered_not_made(start, asked):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    _conv, result = await _offered(start, layer, asked)
    assert result.answer.endswith(OFFER) and "환불 요청 내역이 없습니다" in result.answer, result.answer
    assert result.confirm_prompt is None and _refunds(layer) == []


@pytest.mark.parametrize(
    ("reply", "reason_asked"),
    [("네", True), ("네 해주세요", True), ("네 불량이라서요", False), ("예 색상이 사진이랑 달라서요", False)],
)
async def test_a_yes_to_the_offer_leads_to_the_refunds_own_confirmation(start, reply, reason_asked):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    conv, _ = await _offered(start, layer)
    result = await conv.user_message(reply)
    if reason_asked:
        assert "환불 사유" in result.answer and result.confirm_prompt is None, result.answer
        result = await conv.user_message("단순 변심이요")
    assert result.confirm_prompt is not None and "8822" in result.confirm_prompt and "환불" in result.confirm_prompt
    assert _refunds(layer) == []  # asked, not made
    await conv.user_message("네")
    assert [c[1]["order_id"] for c in _refunds(layer)] == ["8822"]


@pytest.mark.parametrize(
    "reply",
    [
        "아니요",
        "아니요 괜찮아요",
        "음 글쎄요",
        "네? 얼마나 걸려요?",
        "네 근데 잠깐만요",
        "아 그냥 물어본 거예요",
        "그럼 됐어요",
        # a cause, but no yes to the refund
        "아니요 사이즈가 안 맞아서 교환하려고요",  # an exchange, not a refund
        "사이즈가 안 맞아서 교환하고 싶어요",
        "네 근데 사이즈가 안 맞아서 그런데 교환 되나요?",
        "음 잠깐만요 사이즈가 안 맞아서요",  # a hesitation first
        "배송이 늦어서 그런데 언제 와요?",  # a question with a cause in it
        "아니요 배송이 늦어서 물어본 거예요",
    ],
)
async def test_anything_but_a_yes_to_the_offer_moves_nothing(start, reply):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    conv, _ = await _offered(start, layer)
    result = await conv.user_message(reply)
    assert result.confirm_prompt is None or "환불" not in result.confirm_prompt, (reply, result.confirm_prompt)
    assert "환불 사유" not in (result.answer or ""), (reply, result.answer)
    await conv.user_message("네")  # a later bare yes is no answer to an offer made two turns ago
    assert _refunds(layer) == []


async def test_an_order_that_cannot_be_refunded_is_not_offered(start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund(refundable=False)
    _conv, result = await _offered(start, layer)
    assert OFFER not in (result.answer or "")


async def test_no_offer_without_the_refund_tool(start):
    layer = make_layer()
    layer.tools = [t for t in layer.tools if t.tool_name != "request_refund"]
    layer.handlers["orders_get_refund_status"] = _no_refund()
    _conv, result = await _offered(start, layer)
    assert OFFER not in (result.answer or "")


@pytest.mark.parametrize(
    ("reply", "category", "reason"),
    [
        # a walk: "예 사이즈가 안 맞아서요" was read as a no ("진행하지 않았습니다"), "네 배송이 너무
        # 늦어서요" as a shipping question, "예 단순 변심이요" (the prompt's own example) and
        # "네 파손돼서 왔어요" had their reason asked again; "네 불량이라서요" stored "네 불량"
        ("예 사이즈가 안 맞아서요", "사이즈·색상", "사이즈가 안 맞아서"),
        ("네 사이즈가 작아서요", "사이즈·색상", "사이즈가 작아서"),
        ("네 마음이 바뀌어서요", "단순 변심", "마음이 바뀌어서"),
        ("네 배송이 너무 늦어서요", "배송 지연", "배송이 너무 늦어서"),
        ("예 단순 변심이요", "단순 변심", "단순 변심"),
        ("네 파손돼서 왔어요", "파손", "파손돼서"),
        ("네 불량이라서요", "상품 불량", "불량이라서"),
        ("사이즈가 안 맞아서요", "사이즈·색상", "사이즈가 안 맞아서"),
        ("yes because it arrived broken", "상품 불량", "it arrived broken"),
    ],
)
async def test_a_yes_with_its_reason_goes_to_the_refunds_confirmation(start, reply, category, reason):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    conv, _ = await _offered(start, layer)
    result = await conv.user_message(reply)
    assert result.confirm_prompt is not None and f"(사유: {category})" in result.confirm_prompt, (reply, result.answer)
    assert _refunds(layer) == []  # asked, not made
    await conv.user_message("네")
    made = _refunds(layer)
    assert [c[1]["order_id"] for c in made] == ["8822"] and made[0][1]["reason"] == reason, made
