"""A correction of the order at a refund confirmation is checked with the server before it is asked.

A walk: at "주문번호 8822, … 환불을 신청할까요?" the customer answered "네 8801이요". The host asked
the refund confirmation again for 8801 at once, without asking the order server whether 8801 could
be refunded (its 7-day window had passed), so the customer confirmed an impossible refund and heard
it failed (CONFLICT) only after their yes. A corrected refund now goes the way a fresh one does:
its refund status is checked first, and only a refundable order is put to the customer; otherwise
the customer hears why and nothing is asked. The check is in the shared confirmation dialogue
(host/dialogue.py), so it holds for every provider. The real order server (the demo shop, customer
C-1001: 8822 refundable, 8801 past its window, 8841 refund under way; 8802 is C-1003's) where the
refund window matters; the fake tool layer elsewhere.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from host.providers.offline_texts import TEXT
from tests.host.conftest import make_layer
from tests.host.fake_llm import FakeConversation, FakeLLM, FakeStep
from tests.host.test_gateway import _close_audit  # noqa: F401  (an autouse fixture)
from tests.host.test_providers import PROVIDERS, make_provider
from tests.host.test_safety import _refunds
from tests.host.test_walk_changed_mind import _status

ORG = "demo"
CUSTOMER = "C-1001"
TOOLS = [
    "orders@1.4.0:get_order:confirm",
    "orders@1.4.0:get_refund_status",
    "orders@1.4.0:request_refund:confirm",
]


@pytest.fixture
async def shop(database_url):
    """The seeded demo shop behind the real order server, through the host's gateway."""
    from host.gateway import Gateway
    from host.pool import ConnectionPool
    from host.runtime import profile_of
    from servers.kit import ServerLaunch
    from servers.order_server.app import build_server
    from servers.order_server.store import close_readers
    from tests.host.servers import publish_agent
    from tests.servers.orders.support import seed_shop

    await seed_shop()
    orders = build_server(launch=ServerLaunch(trust_meta=True), hooks=[])
    risks = {"orders": {"*": "read", "request_refund": "write"}}
    launch = ["switchboard", "serve", "orders", "--trust-meta"]
    pinned = await publish_agent(ORG, {"orders": (orders, "1.4.0", launch)}, TOOLS, risks=risks)
    pool = ConnectionPool(connector=lambda pin, env: orders)
    gateway = Gateway(await pool.acquire(ORG, "cs-agent"))
    gateway.profile = profile_of(pinned, "offline")  # what the session's records and audit name
    yield gateway
    await pool.close()
    close_readers()


async def _refund_rows() -> int:
    from core.db import get_engine
    from servers.order_server.tables import refund

    engine = await get_engine()
    async with engine.connect() as conn:
        query = select(func.count()).select_from(refund).where(refund.c.org_id == ORG)
        return (await conn.execute(query)).scalar()


async def _audited(tool_name: str) -> list[dict]:
    """The arguments of each audited call of ``tool_name`` (the gateway's ``tool_call`` records)."""
    from audit.store import tail

    records = await tail(ORG, limit=500)
    return [r.arguments for r in records if r.event_type == "tool_call" and r.tool_name == tool_name]


async def _at_8822_refund_prompt(start, layer):
    profile = getattr(layer, "profile", None)
    conv = await start(layer, customer_ref=CUSTOMER, **({"profile": profile} if profile else {}))
    await conv.user_message("8822 환불해 주세요")
    await conv.user_message("네")  # the lookup
    asked = await conv.user_message("단순 변심이요")
    assert asked.confirm_prompt is not None and asked.confirm_prompt.startswith("주문번호 8822"), asked
    assert "환불을 신청할까요?" in asked.confirm_prompt
    return conv


async def test_a_correction_to_an_order_past_its_window_is_not_put_to_the_customer(shop, start):
    before = await _refund_rows()
    conv = await _at_8822_refund_prompt(start, shop)
    corrected = await conv.user_message("네 8801이요")
    assert corrected.confirm_prompt is None and conv.state.pending is None, corrected.confirm_prompt
    assert corrected.answer == TEXT["blocked_window_passed"]["ko"], corrected.answer  # why, from the server's code
    assert any(str(a.get("order_id")) == "8801" for a in await _audited("get_refund_status"))  # asked the server
    after = await conv.user_message("네")  # a yes now takes the offer of a person, never a refund
    assert after.confirm_prompt is None
    assert not [a for a in await _audited("request_refund") if str(a.get("order_id")) == "8801"]
    assert await _refund_rows() == before


async def test_a_correction_to_an_order_with_a_refund_under_way_says_so(shop, start):
    before = await _refund_rows()
    conv = await _at_8822_refund_prompt(start, shop)
    corrected = await conv.user_message("아니요 8841이요")
    assert corrected.confirm_prompt is None and conv.state.pending is None, corrected.confirm_prompt
    assert "환불" in corrected.answer and "신청할까요" not in corrected.answer, corrected.answer
    assert await _audited("request_refund") == []
    assert await _refund_rows() == before


async def test_a_correction_to_another_customers_order_is_not_found(shop, start):
    before = await _refund_rows()
    conv = await _at_8822_refund_prompt(start, shop)
    corrected = await conv.user_message("네 8802요")  # C-1003's order
    assert corrected.confirm_prompt is None and conv.state.pending is None, corrected.confirm_prompt
    assert corrected.answer == TEXT["not_found"]["ko"], corrected.answer
    assert await _audited("request_refund") == []
    assert await _refund_rows() == before


async def test_a_refund_confirmed_after_no_correction_is_made_once(shop, start):
    """The path the correction now shares still refunds a refundable order on a clear yes."""
    before = await _refund_rows()
    conv = await _at_8822_refund_prompt(start, shop)
    done = await conv.user_message("네")
    assert done.confirm_prompt is None and "8822" in json.dumps(await _audited("request_refund"))
    assert await _refund_rows() == before + 1


async def test_a_correction_to_a_refundable_order_is_checked_then_asked(start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _status(True)
    conv = await _at_8822_refund_prompt(start, layer)
    checked = len([c for c in layer.calls if c[0] == "orders_get_refund_status"])
    corrected = await conv.user_message("네 8801이요")
    statuses = [c[1]["order_id"] for c in layer.calls if c[0] == "orders_get_refund_status"]
    assert statuses[checked:] == ["8801"], statuses  # checked with the server before anything is asked
    assert corrected.confirm_prompt is not None and corrected.confirm_prompt.startswith("주문번호 8801")
    assert "환불을 신청할까요?" in corrected.confirm_prompt and _refunds(layer) == []
    await conv.user_message("네")
    assert [c[1]["order_id"] for c in _refunds(layer)] == ["8801"]


async def test_a_corrected_refund_status_that_fails_asks_nothing(start):
    from core.errors import unavailable

    layer = make_layer(request_refund="confirm")
    refundable = _status(True)

    def status(args):
        if args["order_id"] == "8801":
            raise unavailable("the order backend is down")
        return refundable(args)

    layer.handlers["orders_get_refund_status"] = status
    conv = await _at_8822_refund_prompt(start, layer)
    corrected = await conv.user_message("네 8801이요")
    assert corrected.confirm_prompt is None and conv.state.pending is None, corrected.confirm_prompt
    await conv.user_message("네")
    assert _refunds(layer) == []


async def test_a_correction_at_a_lookup_confirmation_still_runs_the_corrected_lookup(start):
    """A read is not a refund: the corrected lookup runs at once, and no refund status is asked."""
    layer = make_layer()
    conv = await start(layer)
    asked = await conv.user_message("8807 배송 언제 와요")
    assert asked.confirm_prompt is not None and "8807" in asked.confirm_prompt
    result = await conv.user_message("아니요 8801이요")
    assert ("orders_get_order", {"order_id": "8801"}) in layer.calls
    assert not [c for c in layer.calls if c[0] == "orders_get_refund_status"]
    assert result.confirm_prompt is None and "8801" in (result.answer or ""), result.answer


def _refunding_brain(conv: FakeConversation) -> FakeStep:
    """A model that asks for 8822's refund, and reports what the tools said."""
    results = conv.results_since_user()
    if results:
        return FakeStep(text=f"결과: {results[-1]['content']}")
    if "8822" in conv.last_user_text:
        return FakeStep(tool_calls=[("orders_request_refund", {"order_id": "8822", "reason": "단순 변심"})])
    return FakeStep(text="무엇을 도와드릴까요?")


@pytest.mark.parametrize("kind", PROVIDERS)
async def test_every_provider_gets_the_check_on_a_corrected_refund(kind, start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = lambda a: _status(
        a["order_id"] != "8801", None if a["order_id"] != "8801" else "window_passed"
    )(a)
    with FakeLLM(_refunding_brain) as llm:
        conv = await start(layer, provider=make_provider(kind, llm))
        asked = await conv.user_message("8822 단순 변심으로 환불해 주세요")
        assert asked.confirm_prompt is not None and "8822" in asked.confirm_prompt, asked
        corrected = await conv.user_message("네 8801이요")
        assert corrected.confirm_prompt is None and conv.state.pending is None, corrected.confirm_prompt
        assert "8801 cannot be refunded now" in (corrected.answer or ""), corrected.answer  # the model was told
        told = json.dumps(llm.bodies(), ensure_ascii=False)
        assert "window_passed" in told and '"refundable": false' in told.replace('\\"', '"')  # …why, and the facts
        await conv.user_message("네")
    assert _refunds(layer) == []
