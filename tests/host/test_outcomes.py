"""A session is 해결 only when what the customer asked was done or answered.

A hostile walk ended these sessions 해결: a failed caller check ("본인 확인이 되지 않았습니다(남은
시도 2회)…" and the caller hung up), a check passed with nothing looked up ("…확인할 주문번호를
말씀해 주세요"), a refund offered and never answered ("…환불을 신청하시겠어요?"), and a WebSocket
client that sent ``{"type": "session.end", "outcome": "해결"}`` after an unanswered turn. The first
three are 미해결 now; a customer's token cannot set the outcome, and a service's (a softphone, a
person's console) may, from the legacy vocabulary only, with the host's own reading kept beside it.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.db import get_engine
from core.errors import ErrorCode, SwitchboardError
from host.app import create_app
from host.records import event_logs, sessions
from host.runtime import HostRuntime
from tests.host.conftest import make_layer
from tests.host.test_refund_offer import _no_refund, _offered
from tests.host.test_verification_e2e import ORG, _answer, _say, shop  # noqa: F401  (a fixture)
from tests.host.test_ws import connect, running_host, serve


async def test_a_refund_offered_and_never_answered_is_not_resolved(start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    conv, result = await _offered(start, layer)
    assert result.answer.endswith("환불을 신청하시겠어요?")
    assert (await conv.end())["outcome"] == "미해결"


async def test_a_refund_offered_and_declined_is_resolved(start):
    layer = make_layer(request_refund="confirm")
    layer.handlers["orders_get_refund_status"] = _no_refund()
    conv, _ = await _offered(start, layer)
    await conv.user_message("아니요 괜찮아요")
    assert (await conv.end())["outcome"] == "해결"


@pytest.mark.parametrize(("given", "stored"), [("resolved", "해결"), ("미해결", "미해결"), (" Escalated ", "이관")])
async def test_an_outcome_set_by_the_client_is_from_the_vocabulary(start, given, stored):
    conv = await start(make_layer())
    await conv.user_message("환불 정책 알려주세요")
    assert (await conv.end(outcome=given))["outcome"] == stored


async def test_an_outcome_outside_the_vocabulary_is_refused_and_the_session_stays_open(start):
    conv = await start(make_layer())
    with pytest.raises(SwitchboardError) as err:
        await conv.end(outcome="done, all good")
    assert err.value.code is ErrorCode.INVALID_ARGUMENT
    assert (await conv.end())["outcome"] in {"해결", "미해결"}  # still open: it ends now


async def _end_row(session_id: str) -> tuple[dict, list[dict]]:
    engine = await get_engine()
    async with engine.connect() as conn:
        row = dict((await conn.execute(select(sessions).where(sessions.c.id == session_id))).mappings().one())
        events = [
            dict(e)
            for e in (
                await conn.execute(
                    select(event_logs).where(
                        event_logs.c.session_id == session_id, event_logs.c.event_type == "SESSION_ENDED"
                    )
                )
            ).mappings()
        ]
    return row, events


async def test_a_customer_token_cannot_set_the_outcome_a_service_token_can(database_url):
    from servers.kit.tokens import create_token

    customer, _ = await create_token(ORG, label="web chat", customer_ref="cust-1")
    service, _ = await create_token(ORG, label="softphone")
    async with running_host(require_token=True) as (address, _calls):
        app_address = address
        async with connect(app_address, Authorization=f"Bearer {customer}") as client:
            await client.send(type="session.start", agent="cs-agent", language="ko")
            session_id = (await client.until("session.started"))[-1]["session_id"]
            await client.send(type="user.message", text="주문번호 9999 조회해 주세요")
            await client.until("turn.completed")
            await client.send(type="session.end", outcome="해결")
            refused = (await client.until("error"))[-1]
            assert refused["code"] == "FORBIDDEN", refused
            await client.send(type="session.end")
            ended = (await client.until("session.ended"))[-1]
        assert ended["outcome"] == "미해결"  # the question back was never answered
        async with connect(app_address, Authorization=f"Bearer {service}") as client:
            await client.send(type="session.start", agent="cs-agent", language="ko", customer_ref="cust-1")
            other = (await client.until("session.started"))[-1]["session_id"]
            await client.send(type="user.message", text="주문번호 알려드릴게요")
            await client.until("turn.completed")
            await client.send(type="session.end", outcome="해결")  # a person on the softphone closed it
            assert (await client.until("session.ended"))[-1]["outcome"] == "해결"
    row, events = await _end_row(other)
    assert row["outcome"] == "해결"
    assert events[0]["payload"]["outcome"] == "해결" and events[0]["payload"]["host_outcome"] == "미해결"
    row, _ = await _end_row(session_id)
    assert row["outcome"] == "미해결"


async def test_a_failed_caller_check_or_a_check_with_nothing_looked_up_is_not_resolved(shop):  # noqa: F811
    runtime = HostRuntime(connector=lambda pin, env: shop)
    outcomes = []
    async with serve(create_app(runtime, default_org=ORG)) as address:
        for lines in (["주문 조회요", "010-1234-5678", "정하늘"], ["주문 조회요", "010-1234-5678", "김민수"]):
            async with connect(address) as client:
                await client.send(type="session.start", agent="cs-agent", language="ko")
                await client.until("session.started")
                said = [await _say(client, line) for line in lines]
                await client.send(type="session.end")
                outcomes.append(((await client.until("session.ended"))[-1]["outcome"], _answer(said[-1])))
    (failed, failed_text), (passed, passed_text) = outcomes
    assert "본인 확인이 되지 않았습니다" in failed_text and failed == "미해결", outcomes
    assert "주문번호를 말씀해 주세요" in passed_text and passed == "미해결", outcomes
    assert json.dumps(outcomes, ensure_ascii=False).count("해결") == 2  # both 미해결, nothing else


async def test_a_customer_bound_token_acts_for_its_customer_only(database_url):
    """Found writing the test above: the host dropped a local token's customer binding, so a token
    made with `tokens create --org demo --customer cust-1` could start a session for any customer."""
    import httpx2

    from servers.kit.tokens import create_token

    customer, _ = await create_token(ORG, label="web chat", customer_ref="cust-1")
    async with running_host(require_token=True) as (address, _calls):
        async with connect(address, Authorization=f"Bearer {customer}") as client:
            await client.send(type="session.start", agent="cs-agent", language="ko", customer_ref="cust-2")
            refused = (await client.until("error"))[-1]
            assert refused["code"] == "FORBIDDEN", refused
            await client.send(type="session.start", agent="cs-agent", language="ko")
            session_id = (await client.until("session.started"))[-1]["session_id"]
            await client.send(type="session.end")
            await client.until("session.ended")
        async with httpx2.AsyncClient(base_url=f"http://{address}") as http:
            auth = {"Authorization": f"Bearer {customer}"}
            other = await http.get("/v1/customers/cust-2/sessions", headers=auth)
            own = await http.get("/v1/customers/cust-1/sessions", headers=auth)
    assert other.status_code == 403 and own.status_code == 200, (other.text, own.text)
    assert [s["id"] for s in own.json()["sessions"]] == [session_id]
