"""Personal data said at a confirmation prompt is no answer and no order number (a hostile walk).

"900101-1234567" said to "주문번호 8841로 조회해도 될까요?" was read as a correction to order
1234567 (the registration number's sensitive half), looked up at once and stored raw in the
events and the session state; an account number was read back as an order number.
"""

from __future__ import annotations

import json

import pytest

from host.records import event_logs, sessions
from tests.host.conftest import make_layer
from tests.host.test_safety import _rows


async def _session_state(session_id: str):
    from sqlalchemy import select

    from core.db import get_engine

    engine = await get_engine()
    async with engine.connect() as conn:
        return (await conn.execute(select(sessions.c.state).where(sessions.c.id == session_id))).scalar_one()


SAID = [
    ("900101-1234567", "1234567"),
    ("제 번호는 010-9876-5432예요", "5432"),
    ("카드 4111-1111-1111-1111 이요", "1111"),
    ("계좌 110-123-456789", "456789"),
]


@pytest.mark.parametrize(("said", "digits"), SAID)
async def test_personal_data_at_a_lookup_prompt_is_not_a_correction(start, said, digits):
    layer = make_layer()  # get_order asks to confirm
    conv = await start(layer)
    asked = await conv.user_message("주문번호 8841 배송 조회해 주세요")
    assert asked.confirm_prompt is not None
    result = await conv.user_message(said)
    assert not any(c[1].get("order_id") == digits for c in layer.calls), layer.calls
    assert result.confirm_prompt is None or digits not in result.confirm_prompt
    events = json.dumps([e["payload"] for e in await _rows(event_logs, conv.session_id)], ensure_ascii=False)
    state = json.dumps(await _session_state(conv.session_id), ensure_ascii=False)
    assert f'"{digits}"' not in events and f'"{digits}"' not in state


async def test_an_account_number_is_not_read_back_as_an_order(start):
    layer = make_layer()
    conv = await start(layer)
    result = await conv.user_message("환불 계좌 바꾸고 싶어요 신한 110123456789 예요")
    assert "110123456789" not in (result.confirm_prompt or "") and "110123456789" not in (result.answer or "")
    assert not any(c[1].get("order_id") == "110123456789" for c in layer.calls)
