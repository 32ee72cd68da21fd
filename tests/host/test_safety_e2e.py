"""Issue 11 end to end: `switchboard chat` (piped) and the WebSocket app over real MCP servers."""

from __future__ import annotations

import asyncio
import json
import sys

from typer.testing import CliRunner

from host import cli
from tests.host.servers import publish_agent
from tests.host.test_cli import SCRIPT, _app
from tests.host.test_ws import connect, host  # noqa: F401  (the WebSocket host fixture)


async def _say(client, text: str) -> list[dict]:
    await client.send(type="user.message", text=text)
    return await client.until("turn.completed")


async def test_websocket_refusals_and_unclear_replies_never_refund(host):  # noqa: F811
    address, calls = host
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", customer_ref="cust-1", language="ko")
        await client.until("session.started")
        for reply in ("어떻게 되는 건데요? 환불은 아직 하지 마세요", "네 근데 환불은 하지 마세요"):
            await _say(client, "주문번호 8841 환불 신청하고 싶어요")
            if not any(c[0] == "get_order" for c in calls):
                await _say(client, "네")
            asked = await _say(client, "단순 변심이요")
            prompt = next(m for m in asked if m["type"] == "confirmation.requested")
            assert prompt["prompt"] == "주문번호 8841 환불을 신청할까요? (사유: 단순 변심)"
            answered = await _say(client, reply)
            if any(m["type"] == "confirmation.requested" for m in answered):  # unclear: one closed re-ask
                await _say(client, reply)
            assert not [c for c in calls if c[0] == "request_refund"]
        # the explicit button is a yes
        await _say(client, "주문번호 8841 환불 신청하고 싶어요")
        await _say(client, "단순 변심이요")
        await client.send(type="confirmation.response", confirmed=True)
        await client.until("turn.completed")
        assert [c[0] for c in calls].count("request_refund") == 1
        await client.send(type="session.end")
        await client.until("session.ended")


def test_chat_the_issue_conversation_does_not_refund(sb_env):
    from core.db import dispose_engines

    async def publish() -> None:
        try:
            await publish_agent(
                "demo",
                {"orders": (None, "1.0.0", [sys.executable, SCRIPT])},
                ["orders@1.0.0:get_order:confirm", "orders@1.0.0:request_refund:confirm"],
                risks={"orders": {"*": "read", "request_refund": "write"}},
            )
        finally:
            import audit

            await audit.close()
            await dispose_engines()

    asyncio.run(publish())
    lines = (
        "주문번호 8841 환불 신청하고 싶어요\n네\n단순 변심이요 카드 4111-1111-1111-1111 주민 900101-1234567\n"
        "어떻게 되는 건데요? 환불은 아직 하지 마세요\n응급이에요\n/end\n"
    )
    result = CliRunner().invoke(
        _app(cli.chat), ["chat", "--agent", "cs-agent", "--org", "demo", "--customer", "C-9001", "--json"], input=lines
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    started = [e["exposed_name"] for e in events if e["type"] == "tool.started"]
    assert started == ["orders__get_order"]  # the lookup only, never the refund
    prompts = [e["prompt"] for e in events if e["type"] == "confirmation.requested"]
    assert prompts[1] == "주문번호 8841 환불을 신청할까요? (사유: 단순 변심)"
    assert prompts[2].endswith("'네' 또는 '아니요'로 답해 주세요.")
    assert "4111" not in "".join(prompts) and "900101" not in "".join(prompts)
    assert any("진행하지 않았습니다" in (e.get("text") or "") for e in events if e["type"] == "assistant.message")


async def test_websocket_an_unverified_caller_gets_no_order(host):  # noqa: F811
    address, calls = host
    async with connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")  # no customer_ref
        await client.until("session.started")
        answered = await _say(client, "주문번호 8841 조회해 주세요 제 번호는 010-2222-3333이에요")
        # not even asked: a confirmation the gateway would refuse is never put to the caller
        assert not any(m["type"] == "confirmation.requested" for m in answered)
        message = next(m for m in answered if m["type"] == "assistant.message")
        assert "본인 확인" in message["text"] and "010-2222-3333" not in message["text"]
        answered = await _say(client, "네")
        assert calls == [] and not any(m["type"] == "tool.started" for m in answered)
        await client.send(type="session.end")
        await client.until("session.ended")
