"""A customer erased while their session is still open (a privacy walk, `switchboard chat` kept
open while `switchboard customer erase` ran): the session's end sent what the customer had said
before the erase back to the memory server, which stored it again, and the chat then died with
a raw ``sqlite3.IntegrityError: FOREIGN KEY constraint failed``. Now nothing more is stored for
the erased session (no memory, no turn, no event) and the caller hears why."""

from __future__ import annotations

import pytest

from core.errors import ErrorCode, SwitchboardError
from tests.host.conftest import make_layer
from tests.host.fake_tools import record_memory_writes


async def _erased_mid_session(start):
    from host.erase import erase_customer_records

    layer = make_layer()
    stored = record_memory_writes(layer)
    conv = await start(layer, customer_ref="cust-erase")
    await conv.user_message("저 다음 주에 이사 가요. 배송지 바꿔야 해요")
    erased = await erase_customer_records(conv.profile.org_id, "cust-erase", retention_days=0)
    assert erased.sessions == 1
    return conv, stored


async def test_the_end_of_an_erased_session_stores_nothing_and_says_why(start):
    conv, stored = await _erased_mid_session(start)
    with pytest.raises(SwitchboardError) as raised:
        await conv.end()
    assert raised.value.code is ErrorCode.CONFLICT
    assert "erased" in raised.value.message and "new session" in raised.value.message
    assert stored == [], "the erased customer's words were stored again as memories"


async def test_a_turn_after_the_erase_is_refused_with_a_stable_code(start):
    from host.store import RecordStore

    conv, stored = await _erased_mid_session(start)
    with pytest.raises(SwitchboardError) as raised:
        await conv.user_message("주문번호 8841이요")
    assert raised.value.code is ErrorCode.CONFLICT and "erased" in raised.value.message
    with pytest.raises(SwitchboardError) as gone:
        await RecordStore().get_session(conv.session_id)
    assert gone.value.code is ErrorCode.NOT_FOUND  # nothing re-created
    assert stored == []
