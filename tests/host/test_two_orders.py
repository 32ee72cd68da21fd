"""Two orders in one breath: "yes, and this one too" at a confirmation prompt, and several order
numbers in one request (a hostile-customer walk).

"네 8834도 같이요" at the prompt for 8823 was read as a correction to 8834: the refund was asked again
for 8834 only and 8823 was dropped silently. A reply that adds an order is unclear now (cue
``more_orders``: nothing moves, the asked order is asked again); the offline planner takes one order
at a time and asks which first ("주문번호 8822 8841 8807 환불 상태" picked 8822 without asking).
"""

from __future__ import annotations

import pytest

from host.replies import ReplyLabel, read_reply
from tests.host.conftest import make_layer
from tests.host.test_refund_offer import _no_refund, _offered
from tests.host.test_safety import REFUND_PROMPT, _at_refund_prompt, _refunds

ONE_AT_A_TIME = "한 번에 한 주문씩"


@pytest.mark.parametrize(
    "reply",
    [
        "네 8834도 같이요",
        "네 8841이랑 8822 둘 다요",
        "네 8822랑 8841 둘 다요",
        "yes and 8834 too",
        "네 팔천팔백삼십사번도요",
    ],
)
def test_a_reply_that_adds_an_order_is_unclear_never_a_correction(reply):
    reading = read_reply(reply, expected="8841")
    assert reading.label is ReplyLabel.UNCLEAR and "more_orders" in reading.cues, reading


@pytest.mark.parametrize(
    "reply", ["아니요 8842번이에요", "아니요, 8842번이에요.", "8842요", "아니요 팔천팔백사십이번이요"]
)
def test_a_correction_is_still_a_correction(reply):
    reading = read_reply(reply, expected="8841")
    assert reading.label is ReplyLabel.CORRECT and reading.value == "8842", reading


@pytest.mark.parametrize("reply", ["네 8834도 같이요", "네 8841이랑 8822 둘 다요"])
async def test_yes_and_another_order_keeps_the_asked_order_and_moves_nothing(start, reply):
    layer = make_layer(request_refund="confirm")
    conv = await _at_refund_prompt(start, layer)
    again = await conv.user_message(reply)
    assert _refunds(layer) == []
    lead = "한 번에 한 주문씩 진행할게요. 다른 주문은 이 주문 다음에 말씀해 주세요. "
    assert again.confirm_prompt is not None and again.confirm_prompt.startswith(lead + REFUND_PROMPT), again
    assert "8834" not in again.confirm_prompt and "8822" not in again.confirm_prompt
    await conv.user_message("네")
    assert [c[1]["order_id"] for c in _refunds(layer)] == ["8841"]


@pytest.mark.parametrize(
    ("said", "orders"),
    [
        ("주문번호 8822 8841 8807 환불 상태", "8822, 8841, 8807"),
        ("8822랑 8841 배송 언제 와요", "8822, 8841"),
        ("주문 팔천팔백이십이번하고 8841번 조회해 주세요", "8822, 8841"),
    ],
)
async def test_several_orders_in_one_request_ask_which_first_before_any_lookup(start, said, orders):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    result = await conv.user_message(said)
    assert ONE_AT_A_TIME in result.answer and orders in result.answer, result.answer
    assert result.confirm_prompt is None and layer.calls == []
    picked = await conv.user_message("8841")
    assert picked.confirm_prompt is not None and "8841" in picked.confirm_prompt, picked.answer


async def test_an_amount_is_not_a_second_order(start):
    layer = make_layer(request_refund="confirm")
    conv = await start(layer)
    result = await conv.user_message("주문번호 8841 50,000원 환불 상태 알려 주세요")
    assert ONE_AT_A_TIME not in (result.answer or "") and "8841" in (result.confirm_prompt or ""), result


async def test_yes_and_another_order_to_the_refund_offer_asks_which_first(start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    conv, offered = await _offered(start, layer)  # "8822 환불이요" → "…환불을 신청하시겠어요?"
    assert offered.answer.endswith("환불을 신청하시겠어요?")
    result = await conv.user_message("네 8834도 같이요")
    assert ONE_AT_A_TIME in result.answer and "8822, 8834" in result.answer, result.answer
    assert result.confirm_prompt is None and _refunds(layer) == []
    picked = await conv.user_message("8822")
    assert "환불 사유" in (picked.answer or "") or "8822" in (picked.confirm_prompt or ""), picked
    assert _refunds(layer) == []
