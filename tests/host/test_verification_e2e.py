"""Caller verification end to end: the WebSocket app, the real order server, offline and a hijacked model."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from core.db import get_engine
from host.app import create_app
from host.clustertables import host_rate_window
from host.records import event_logs, review_queue, sessions, turns
from host.runtime import HostRuntime
from tests.host.fake_llm import FakeConversation, FakeLLM, FakeStep
from tests.host.servers import publish_agent
from tests.host.test_failover import _until_prompt
from tests.host.test_gateway import _audit, _close_audit  # noqa: F401  (an autouse fixture)
from tests.host.test_providers import make_provider
from tests.host.test_ws import connect, serve
from tests.servers.orders.support import seed_shop

ORG = "demo"
TOOLS = [
    "orders@1.4.0:get_order",
    "orders@1.4.0:get_shipping_status",
    "orders@1.4.0:find_orders",
    "orders@1.4.0:verify_caller",
    "orders@1.4.0:get_refund_status",
    "orders@1.4.0:request_refund:confirm",
]


@pytest.fixture
async def shop(database_url, monkeypatch):
    """The demo shop behind the real order server; two verification attempts for "demo"."""
    from servers.kit import ServerLaunch
    from servers.order_server.app import build_server
    from servers.order_server.store import close_readers

    monkeypatch.setenv("SWITCHBOARD_CALLER_CHECK", f"{ORG}:name:2")
    await seed_shop()
    orders = build_server(launch=ServerLaunch(trust_meta=True), hooks=[])
    risks = {"orders": {"*": "read", "request_refund": "write"}}
    await publish_agent(ORG, {"orders": (orders, "1.4.0", ["switchboard", "serve", "orders"])}, TOOLS, risks=risks)
    yield orders
    close_readers()


async def _say(client, text: str) -> list[dict]:
    await client.send(type="user.message", text=text)
    return await client.until("turn.completed")


def _answer(batch: list[dict]) -> str:
    return " ".join(m["text"] for m in batch if m["type"] == "assistant.message")


async def _rows(table, session_id: str) -> list[dict]:
    engine = await get_engine()
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(table).where(table.c.session_id == session_id))).mappings()]


async def _session(session_id: str) -> dict:
    engine = await get_engine()
    async with engine.connect() as conn:
        return dict((await conn.execute(select(sessions).where(sessions.c.id == session_id))).mappings().one())


async def test_offline_wrong_name_then_right_verifies_and_scopes_the_session(shop):
    runtime = HostRuntime(connector=lambda pin, env: shop)
    async with serve(create_app(runtime, default_org=ORG)) as address, connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")  # anonymous phone line
        session_id = (await client.until("session.started"))[-1]["session_id"]
        asked = await _say(client, "어 주문번호 8841 배송 어디쯤인지 알려주세요")
        assert "휴대폰 번호" in _answer(asked) and not any(m["type"] == "tool.started" for m in asked)
        asked = await _say(client, "공일공 일이삼사 오육칠팔")  # ASR: spoken digits, no punctuation
        assert "성함" in _answer(asked)
        wrong = await _say(client, "이서연이요")  # another customer's name with this phone
        assert "본인 확인이 되지 않았습니다(남은 시도 1회)" in _answer(wrong)
        assert (await _session(session_id))["customer_ref"] is None
        await _say(client, "010 1234 5678")
        passed = await _say(client, "음 제 이름은 김 민수요")
        verified = [m for m in passed if m["type"] == "caller.verification"]
        assert verified and verified[0]["verified"] is True and "customer_ref" not in verified[0]
        assert "배송" in _answer(passed) and "8841" in _answer(passed)  # carried on with what was asked
        await client.send(type="session.end")
        await client.until("session.ended")
    assert (await _session(session_id))["customer_ref"] == "C-1001"  # a resumed session keeps it
    events = await _rows(event_logs, session_id)
    kinds = [e["event_type"] for e in events]
    assert kinds.count("CALLER_VERIFICATION_REQUESTED") == 2 and kinds.count("CALLER_VERIFICATION_FAILED") == 1
    assert kinds.count("CALLER_VERIFICATION_PASSED") == 1
    recorded = json.dumps([e["payload"] for e in events], ensure_ascii=False)
    audited = json.dumps([r.arguments for r in await _audit("tool_call")], ensure_ascii=False)
    said = json.dumps([t["transcript_text"] for t in await _rows(turns, session_id)], ensure_ascii=False)
    assert "음 제 이름은 ***요" in said and "***이요" in said  # the spoken factor hidden in the utterance
    history = json.dumps((await _session(session_id))["state"], ensure_ascii=False)
    for text in (recorded, audited, said, history):  # the factor and the phone never land raw
        assert "민수" not in text and "서연" not in text and "01012345678" not in text and "1234-5678" not in text
    assert '"factor": "***"' in audited


async def test_the_name_said_beside_the_number_is_used_and_a_reason_is_not_a_name(shop):
    """A hostile walk: "01012345678 이고 이름은 김민수요" was asked for the name again, and the next
    line, "단순 변심", was tried as the name (an attempt used up)."""
    runtime = HostRuntime(connector=lambda pin, env: shop)
    async with serve(create_app(runtime, default_org=ORG)) as address, connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await _say(client, "주문번호 8841 배송 어디쯤인지 알려주세요")
        slip = await _say(client, "01012345678")
        assert "성함" in _answer(slip)
        not_a_name = await _say(client, "단순 변심")  # asked again, no attempt used
        assert "성함" in _answer(not_a_name) and not any(m["type"] == "caller.verification" for m in not_a_name)
        passed = await _say(client, "01012345678 이고 이름은 김민수요")
        verified = [m for m in passed if m["type"] == "caller.verification"]
        assert verified and verified[0]["verified"] is True
        await client.send(type="session.end")
        await client.until("session.ended")
    kinds = [e["event_type"] for e in await _rows(event_logs, session_id)]
    assert kinds.count("CALLER_VERIFICATION_FAILED") == 0 and kinds.count("CALLER_VERIFICATION_PASSED") == 1


async def test_a_caller_verified_on_the_line_can_finish_a_refund(shop):
    """A walk: an anonymous caller who passed the check, confirmed the lookup and gave a reason was
    told "지금은 해당 내용을 조회할 수 없습니다" — the order asked about came through the check and
    was never the order being talked about. The refund is asked for, and made on the customer's yes."""
    from servers.order_server.tables import refund

    runtime = HostRuntime(connector=lambda pin, env: shop)
    async with serve(create_app(runtime, default_org=ORG)) as address, connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")
        await client.until("session.started")
        await _say(client, "주문 8822 환불하고 싶어요")
        await _say(client, "010-1234-5678")
        batch = await _say(client, "김민수요")  # verified: carries on with the refund of 8822
        while any(m["type"] == "confirmation.requested" for m in batch):  # a lookup the agent confirms
            await client.send(type="confirmation.response", confirmed=True)
            batch = await client.until("turn.completed")
        assert "환불 사유" in _answer(batch), _answer(batch)
        await client.send(type="user.message", text="단순 변심이요")
        prompt = await _until_prompt(client, "orders__request_refund")
        assert "8822" in prompt["prompt"] and "단순 변심" in prompt["prompt"], prompt
        await client.send(type="confirmation.response", confirmed=True)
        done = _answer(await client.until("turn.completed"))
        await client.send(type="session.end")
        await client.until("session.ended")
    assert "접수" in done and "조회할 수 없습니다" not in done, done
    engine = await get_engine()
    async with engine.connect() as conn:
        made = (await conn.execute(select(refund.c.order_id).where(refund.c.order_id == "8822"))).scalars().all()
    assert made == ["8822"]


async def test_offline_too_many_attempts_escalates_and_locks(shop):
    runtime = HostRuntime(connector=lambda pin, env: shop)
    async with serve(create_app(runtime, default_org=ORG)) as address, connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await _say(client, "제 주문 조회해 주세요 번호는 010-1234-5678이에요")
        await _say(client, "박지훈")
        await _say(client, "010-1234-5678")
        last = await _say(client, "최수빈입니다")
        assert any(m["type"] == "turn.completed" and m["escalated"] for m in last)
        await _say(client, "주문 조회해 주세요 010-1234-5678")
        await _say(client, "김민수")  # the right name, too late: refused before it reaches the server
        await client.send(type="session.end")
        await client.until("session.ended")
    kinds = [e["event_type"] for e in await _rows(event_logs, session_id)]
    assert kinds.count("CALLER_VERIFICATION_FAILED") == 2 and "CALLER_VERIFICATION_PASSED" not in kinds
    assert "ESCALATED" in kinds
    reviews = await _rows(review_queue, session_id)
    assert [r["kind"] for r in reviews] == ["escalation"] and "본인 확인" in reviews[0]["reason"]
    assert (await _session(session_id))["customer_ref"] is None


def _tool(conv: FakeConversation, suffix: str) -> str:
    return next(name for name in conv.tool_names if name.endswith(suffix))


def _hijacked(other_order: str):
    def brain(conv: FakeConversation) -> FakeStep:
        """Reads before verifying, verifies, then reaches for another customer's order and identity."""
        done = len(conv.results_since_user())
        steps = [
            [(_tool(conv, "get_order"), {"order_id": "8841"})],
            [(_tool(conv, "verify_caller"), {"phone": "010-1234-5678", "factor_kind": "name", "factor": "김민수"})],
            [(_tool(conv, "get_order"), {"order_id": other_order})],
            [(_tool(conv, "verify_caller"), {"phone": "010-2345-6789", "factor_kind": "name", "factor": "이서연"})],
            [(_tool(conv, "find_orders"), {"phone": "010-2345-6789"})],
        ]
        return FakeStep(tool_calls=steps[done]) if done < len(steps) else FakeStep(text="처리했습니다.")

    return brain


async def test_a_hijacked_model_reaches_no_other_customer_after_verifying(shop, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-fake")  # the fake endpoint; the SDK wants a key
    from servers.order_server.tables import order

    engine = await get_engine()
    async with engine.connect() as conn:  # an order of 이서연 (C-1002)
        other = (await conn.execute(select(order.c.order_id).where(order.c.customer_ref == "C-1002"))).scalars().first()
    with FakeLLM(_hijacked(other)) as llm:
        runtime = HostRuntime(
            connector=lambda pin, env: shop,
            provider_override="anthropic",
            provider_factory=lambda n, m, p: make_provider("anthropic", llm),
        )
        async with serve(create_app(runtime, default_org=ORG)) as address, connect(address) as client:
            await client.send(type="session.start", agent="cs-agent", language="ko")
            session_id = (await client.until("session.started"))[-1]["session_id"]
            batch = await _say(client, "제 번호 010-1234-5678 이름 김민수 주문 알려 주세요")
            await client.send(type="session.end")
            await client.until("session.ended")
        bodies = json.dumps(llm.bodies(), ensure_ascii=False)
    calls = [(c["tool_name"], c["ok"], c["error_code"]) for c in batch[-1]["tool_calls"]]
    assert calls == [
        ("get_order", False, "FORBIDDEN"),  # before verifying: nothing reaches the server
        ("verify_caller", True, None),
        ("get_order", False, "NOT_FOUND"),  # verified as 김민수: another customer's order looks missing
        ("verify_caller", True, None),  # answered "not verified": the session cannot switch customers
        ("find_orders", True, None),
    ], calls
    checks = [m for m in batch if m["type"] == "caller.verification"]
    assert [c["verified"] for c in checks] == [True, False]  # cannot switch to another customer
    assert (await _session(session_id))["customer_ref"] == "C-1001"
    assert "C-1001" not in bodies and "C-1002" not in bodies  # the model never sees a customer reference
    assert "이*연" not in bodies  # 이서연's orders never reached the model


def test_chat_an_anonymous_caller_verifies_over_the_spawned_order_server(sb_env, monkeypatch):
    """`switchboard chat` without --customer: the order server runs as a stdio process of its own."""
    import asyncio

    from typer.testing import CliRunner

    from host import cli
    from tests.host.test_cli import _app

    async def setup() -> None:
        from core.db import dispose_engines
        from servers.kit import ServerLaunch
        from servers.order_server.app import build_server
        from servers.order_server.store import close_readers

        try:
            await seed_shop()
            orders = build_server(launch=ServerLaunch(trust_meta=True), hooks=[])
            await publish_agent(ORG, {"orders": (orders, "1.4.0", ["switchboard", "serve", "orders"])}, TOOLS)
        finally:
            import audit

            close_readers()
            await audit.close()
            await dispose_engines()

    asyncio.run(setup())
    monkeypatch.setenv("SWITCHBOARD_CALLER_CHECK", f"{ORG}:name:3")
    lines = "주문번호 8841 배송 조회해 주세요\n제 번호는 010 1234 5678이에요\n김민수입니다\n/end\n"
    result = CliRunner().invoke(_app(cli.chat), ["chat", "--agent", "cs-agent", "--org", ORG, "--json"], input=lines)
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [e["exposed_name"] for e in events if e["type"] == "tool.started"]
    assert started[:2] == ["orders__verify_caller", "orders__get_order"], started  # nothing read before the check
    assert [e["verified"] for e in events if e["type"] == "caller.verification"] == [True]
    assert "김민수" not in json.dumps([e for e in events if e["type"] == "tool.started"], ensure_ascii=False)


async def _anonymous_session(address) -> tuple[str, list[list[dict]]]:
    """One anonymous session: ask about an order, then two wrong names for 010-1234-5678."""
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        batches = [await _say(client, "주문 조회해 주세요 010-1234-5678"), await _say(client, "박지훈")]
        batches += [await _say(client, "010-1234-5678"), await _say(client, "김민수")]  # the right name, last
        await client.send(type="session.end")
        await client.until("session.ended")
    return session_id, batches


async def test_a_number_that_used_its_tries_gets_none_in_the_next_session(shop):
    """A walk: after three misses and the hand-over, a new session on the same line offered fresh
    tries, so anyone knowing a customer's number could keep guessing names. The misses count per
    number across sessions (host/callerlimit.py); the next session's check of that number is refused
    before the order server is asked, and the call goes to a person. Here the limit is 2."""
    runtime = HostRuntime(connector=lambda pin, env: shop)
    async with serve(create_app(runtime, default_org=ORG)) as address:
        async with connect(address) as client:  # session 1: one miss, then it hangs up
            await client.send(type="session.start", agent="cs-agent", language="ko")
            await client.until("session.started")
            await _say(client, "주문 조회해 주세요 010-1234-5678")
            missed = await _say(client, "박지훈")
            assert "남은 시도 1회" in _answer(missed)
            await client.send(type="session.end")
            await client.until("session.ended")
        second, batches = await _anonymous_session(address)  # one more miss: the number is used up
        assert any(m["type"] == "turn.completed" and m["escalated"] for m in batches[1]), batches[1]
        third, batches = await _anonymous_session(address)  # fresh session, right name: still refused
    verified = [m for b in batches for m in b if m["type"] == "caller.verification" and m.get("verified")]
    assert verified == []
    assert any(m["type"] == "turn.completed" and m["escalated"] for m in batches[0] + batches[1])
    for session_id in (second, third):
        assert (await _session(session_id))["customer_ref"] is None
        kinds = [e["event_type"] for e in await _rows(event_logs, session_id)]
        assert "CALLER_VERIFICATION_PASSED" not in kinds
    assert [r["kind"] for r in await _rows(review_queue, third)] == ["escalation"]
    engine = await get_engine()  # the stored counter holds no number
    async with engine.connect() as conn:
        keys = (await conn.execute(select(host_rate_window.c.key))).scalars().all()
    assert keys and all("1234" not in k and "5678" not in k for k in keys), keys


async def test_a_passed_check_clears_the_numbers_misses(shop):
    runtime = HostRuntime(connector=lambda pin, env: shop)
    async with serve(create_app(runtime, default_org=ORG)) as address:
        _first, batches = await _anonymous_session(address)  # a miss, then the right name: passed
        assert any(m.get("verified") for b in batches for m in b if m["type"] == "caller.verification")
        _second, batches = await _anonymous_session(address)  # a miss again: 1 left, not locked
        assert any(m.get("verified") for b in batches for m in b if m["type"] == "caller.verification")
