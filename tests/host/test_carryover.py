"""A number said over two turns is masked in both (host/carryover.py).

A hostile walk: "주민번호 앞자리는 900101이요" then "뒷자리는 1234567이요", and "카드 앞 여덟자리 1234
5678" then "나머지는 9012 3456": the second turn's digits had no cue of their own and were stored
raw in the transcript, the session state and the audit log. Engine level, offline planner.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.db import get_engine
from host.carryover import kinds_in, mask_continuation
from host.records import event_logs, sessions, turns
from tests.host.conftest import make_layer
from tests.host.test_safety import _rows


async def _stored(session_id: str) -> str:
    """Everything the session left in the turns, event logs and its saved state, as one text."""
    stored = json.dumps(
        [await _rows(turns, session_id), await _rows(event_logs, session_id)], ensure_ascii=False, default=str
    )
    engine = await get_engine()
    async with engine.connect() as conn:
        state = (await conn.execute(select(sessions.c.state).where(sessions.c.id == session_id))).scalar_one()
    return stored + json.dumps(state, ensure_ascii=False, default=str)


@pytest.mark.parametrize(
    ("first", "second", "raw"),
    [
        ("주민번호 앞자리는 900101이요", "뒷자리는 1234567이요", "1234567"),
        ("카드 앞 여덟자리 1234 5678", "나머지는 9012 3456", "9012 3456"),
        ("카드번호 4111 1111 1111", "그리고 1111", None),  # the rest is four digits: masked all the same
    ],
)
async def test_the_rest_of_a_number_is_masked_in_every_store(start, first, second, raw):
    conv = await start(make_layer())
    await conv.user_message(first)
    await conv.user_message(second)
    await conv.end()
    stored = await _stored(conv.session_id)
    if raw:
        assert raw not in stored, raw
    assert second.split()[0] in stored  # the words stay


@pytest.mark.parametrize(
    ("previous", "text"),
    [
        (["card"], "주문번호는 8841이요"),  # an order named: it reaches the lookup
        (["card"], "8841번 배송 언제 와요"),
        ([], "8841이요"),  # nothing said before
        (["card"], "그런데 제가 지난번에 주문한 거 환불이 언제 되는지 궁금한데 알려주실 수 있나요 8841이에요"),
    ],
)
def test_not_a_continuation(previous, text):
    assert mask_continuation(text, previous) == text


def test_a_phone_number_carries_nothing_over():
    """A caller verifying gives the number whole; the next turn is often the order number."""
    assert kinds_in("010-1234-5678이요") == []
    assert kinds_in("카드 4111 1111 1111 1111") == ["card"]


# --- a mobile number said in two turns (a fifth walk: "제 번호가 010에" then "2345 6789예요" was read
# as two order numbers, said back as "주문번호 2345, 6789 중 어느 주문부터…" and stored raw)


@pytest.mark.parametrize(
    ("first", "second", "raw"),
    [
        ("제 번호가 010에", "2345 6789예요", "2345 6789"),
        ("연락처는 공일공 아니 010이요", "23456789요", "23456789"),
        ("010-2345까지요", "6789요", "6789"),
    ],
)
async def test_the_rest_of_a_mobile_number_is_masked_and_not_read_as_orders(start, first, second, raw):
    layer = make_layer()
    conv = await start(layer)
    await conv.user_message(first)
    result = await conv.user_message(second)
    assert raw.split()[0] not in (result.answer or ""), result.answer
    assert result.confirm_prompt is None
    await conv.end()
    stored = await _stored(conv.session_id)
    assert raw not in stored, raw
    assert not [c for c in layer.calls if c[0] != "kb_search" and raw.split()[0] in json.dumps(c[1])]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("제 번호는 010이요", "8841 환불 어떻게 됐어요"),  # after the prefix alone, only a 7-8 digit rest
        ("010-2345-6789이요", "8841 환불 어떻게 됐어요"),  # the number was whole
        ("010-2345까지요", "주문번호 8841 환불 어떻게 됐어요"),  # an order named
    ],
)
async def test_an_order_number_after_a_mobile_number_still_reaches_the_lookup(start, first, second):
    conv = await start(make_layer())
    await conv.user_message(first)
    result = await conv.user_message(second)
    assert result.confirm_prompt is not None and "8841" in result.confirm_prompt, result


def test_a_mobile_prefix_is_kept_as_a_kind_not_its_digits():
    assert kinds_in("제 번호가 010에") == ["phone_start"]
    assert kinds_in("010-2345까지요") == ["phone_middle"]
    assert kinds_in("010 2345 6789요") == []
    assert kinds_in("주문번호 0103이요") == []
    assert mask_continuation("2345 6789예요", ["phone_start"]) == "**** ****예요"
    # a lone group after the prefix alone is the number's middle ("010", "1234", "5678": a sixth walk);
    # with words about an order or a refund it is an order ("8841 환불 어떻게 됐어요", above)
    assert mask_continuation("8841이요", ["phone_start"]) == "****이요"
    assert mask_continuation("8841 환불이요", ["phone_start"]) == "8841 환불이요"
    assert mask_continuation("6789요", ["phone_middle"]) == "****요"
