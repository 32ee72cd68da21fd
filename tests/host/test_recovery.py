"""Issue 19: the host killed (SIGKILL, a real process) at each step of a refund turn, restarted, resumed.

``SWITCHBOARD_CRASH_AT`` (host/crashpoints.py) stops a real ``switchboard host`` exactly at one
step of ``orders__request_refund``: before its call record, after it, after the order server's
write, after the result record. The session is then resumed on a fresh host, and the records,
the audit log, the refunds in the order database and what the customer is told must agree.
A read (``orders__get_order``) killed after its call record, or after the server answered, must
be closed interrupted and never repeated.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.host.test_ws import connect

ORG = "demo"
SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")
REFUND = "orders__request_refund"


@pytest.fixture(scope="module")
def shop(module_database_url: str) -> dict[str, str]:
    """Demo orders and the demo agent (the real order server, published and approved) in one database."""
    from registry.demo import publish_and_approve_demo
    from servers.order_server.seed import seed

    async def setup() -> None:
        from core.db import dispose_engines

        await seed(ORG)
        await publish_and_approve_demo(ORG, ["orders"])
        await dispose_engines()

    asyncio.run(setup())
    return {
        "SWITCHBOARD_HOME": os.environ["SWITCHBOARD_HOME"],
        "SWITCHBOARD_DATABASE_URL": module_database_url,
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_LOG_LEVEL": "ERROR",
    }


async def _refundable_orders() -> list[tuple[str, str]]:
    """(order id, its customer) for every demo order a refund can be requested for now."""
    from core.context import RequestContext
    from core.db import dispose_engines, get_engine
    from servers.order_server import service
    from servers.order_server.tables import order

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(order.c.order_id, order.c.customer_ref).where(order.c.org_id == ORG))).all()
    out = []
    for order_id, customer in rows:
        status = await service.get_refund_status(RequestContext(org_id=ORG, customer_ref=customer), order_id)
        if status.refundable:
            out.append((order_id, customer))
    await dispose_engines()
    return sorted(out)


async def _refunds(order_id: str) -> int:
    from core.db import dispose_engines, get_engine
    from servers.order_server.tables import refund

    engine = await get_engine()
    async with engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count()).select_from(refund).where(refund.c.org_id == ORG, refund.c.order_id == order_id)
            )
        ).scalar()
    await dispose_engines()
    return int(count or 0)


async def _unresolved(session_id: str) -> list:
    from audit.orphans import unresolved_calls
    from core.db import dispose_engines

    found = await unresolved_calls(ORG, session_id=session_id, grace_s=0)
    await dispose_engines()
    return found


async def verify(*flags: str):
    """``switchboard audit verify --org demo`` (in a thread: the command runs its own event loop)."""
    from typer.testing import CliRunner

    from audit.cli import app

    return await asyncio.to_thread(CliRunner().invoke, app, ["verify", "--org", ORG, *flags])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def running_host(env: dict[str, str], crash_at: str | None = None, tool: str = REFUND):
    port = _free_port()
    full = {**os.environ, **env}
    full.pop("SWITCHBOARD_CRASH_AT", None)
    if crash_at:
        full["SWITCHBOARD_CRASH_AT"] = f"{crash_at}:{tool}"
    proc = subprocess.Popen(
        [SWITCHBOARD, "host", "--port", str(port), "--org", ORG, "--provider", "offline"],
        env=full,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(proc.stderr.read().decode()[-2000:]) from None
                await asyncio.sleep(0.2)
        yield proc, f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        proc.stderr.close()


def _session(address: str, session_id: str) -> dict:
    with urllib.request.urlopen(f"http://{address}/v1/sessions/{session_id}", timeout=10) as response:
        return json.loads(response.read())


async def crash_during_refund(env: dict[str, str], point: str) -> tuple[str, str]:
    """Ask for a refund, confirm it, and let the host kill itself at ``point``: (session id, order id)."""
    from websockets.exceptions import ConnectionClosed

    order_id, customer = (await _refundable_orders())[0]
    async with running_host(env, crash_at=point) as (proc, address):
        async with connect(address) as client:
            await client.send(type="session.start", agent="cs-agent", customer_ref=customer, language="ko")
            session_id = (await client.until("session.started"))[-1]["session_id"]
            await client.send(type="user.message", text=f"주문번호 {order_id} 환불 신청할게요 단순 변심이라서요")
            asked = await client.until("turn.completed")
            prompt = next(m for m in asked if m["type"] == "confirmation.requested")
            for _ in range(3):  # the order is looked up (and confirmed) before the refund is put to the customer
                if prompt["exposed_name"] == REFUND:
                    break
                await client.send(type="confirmation.response", confirmed=True)
                asked = await client.until("turn.completed")
                prompt = next(m for m in asked if m["type"] == "confirmation.requested")
            assert prompt["exposed_name"] == REFUND
            assert order_id in prompt["prompt"]
            await client.send(type="confirmation.response", confirmed=True)
            with pytest.raises((ConnectionClosed, TimeoutError)):
                await client.until("turn.completed", timeout=60)
        assert await asyncio.to_thread(proc.wait, 30) == -9  # SIGKILL, by the crash point
    return session_id, order_id


async def _resume_and_end(shop: dict[str, str], session_id: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """Restart the host, resume ``session_id`` (no confirmation pending), say "네 고마워요", end the
    session: (what the customer was told, the session.ended message, GET /v1/sessions/{id})."""
    async with running_host(shop) as (_, address):
        async with connect(address) as client:
            await client.send(type="session.start", session_id=session_id)
            resumed = (await client.until("session.started"))[-1]
            assert resumed["resumed"] is True and resumed["pending_confirmation"] is None
            await client.send(type="user.message", text="네 고마워요")
            after = await client.until("turn.completed")
            said = " ".join(m["text"] for m in after if m["type"] == "assistant.message")
            await client.send(type="session.end")
            ended = (await client.until("session.ended"))[-1]
        detail = await asyncio.to_thread(_session, address, session_id)
    return said, ended, detail


# point -> (unresolved calls right after the crash, refunds made, what the customer hears)
CASES = {
    "before_call_record": (0, 0, "환불 요청은 처리되지 않았습니다"),
    "after_call_record": (1, 0, "환불 요청은 처리되지 않았습니다"),
    "after_server_write": (1, 1, "환불 요청은 처리되었습니다"),
    "after_result_record": (0, 1, "환불 요청은 처리되었습니다"),
}


@pytest.mark.parametrize("point", list(CASES))
async def test_host_killed_mid_refund_then_resumed(
    shop: dict[str, str], point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    orphans_after_crash, refunds_made, told = CASES[point]
    session_id, order_id = await crash_during_refund(shop, point)

    assert len(await _unresolved(session_id)) == orphans_after_crash
    assert await _refunds(order_id) == refunds_made
    if point == "after_call_record":
        monkeypatch.setenv("SWITCHBOARD_AUDIT_ORPHAN_GRACE_S", "0")
        warned = await verify("--json")
        assert warned.exit_code == 0, warned.output  # a warning by default
        listed = json.loads(warned.stdout)["unresolved_calls"]
        assert [(c["session_id"], c["tool"]) for c in listed] == [(session_id, REFUND)]
        strict = await verify("--strict")
        assert strict.exit_code == 1 and "have no recorded result" in " ".join(strict.output.split())

    said, ended, detail = await _resume_and_end(shop, session_id)
    assert told in said, said
    if refunds_made:
        assert "접수번호 RF" in said

    assert await _refunds(order_id) == refunds_made  # nothing was repeated
    assert await _unresolved(session_id) == []  # every call has its result now
    if point == "after_call_record":
        assert (await verify("--strict")).exit_code == 0
    killed = detail["turns"][-2]  # the turn the confirmation ran in; the last one is "네 고마워요"
    assert [t["seq"] for t in detail["turns"] if t["status"] == "failed"] == [killed["seq"]]
    assert killed["status"] == "failed" and killed["error_code"] == "INTERRUPTED"
    assert all(t["status"] != "open" for t in detail["turns"])
    refund_calls = [c for c in detail["tool_calls"] if c["exposed_name"] == REFUND]
    if point == "before_call_record":
        assert refund_calls == [] and killed["tool_call_ids"] == []
    else:
        assert len(refund_calls) == 1 and refund_calls[0]["ok"] is bool(refunds_made)
        assert killed["tool_call_ids"] == [refund_calls[0]["call_id"]]
    notified = [e for e in detail["events"] if e["event_type"] == "CUSTOMER_NOTIFIED"]
    assert len(notified) == 1 and told in notified[0]["payload"]["notice"]
    assert ended["outcome"] == "미해결"  # a failed turn: never "해결"
    if refunds_made:
        assert "환불 요청 처리됨(RF" in ended["summary"]
    else:
        assert "환불 요청 처리 안 됨" in ended["summary"]


# --- a read killed mid-call -------------------------------------------------------------------

LOOKUP = "orders__get_order"
# point -> how many times the order server ran the killed lookup
READ_CASES = {"after_call_record": 0, "after_server_write": 1}


async def _an_order() -> tuple[str, str]:
    """(order id, its customer) of one demo order (any order can be looked up)."""
    from core.db import dispose_engines, get_engine
    from servers.order_server.tables import order

    engine = await get_engine()
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(order.c.order_id, order.c.customer_ref).where(order.c.org_id == ORG).order_by(order.c.order_id)
            )
        ).first()
    await dispose_engines()
    return row[0], row[1]


async def _records(session_id: str) -> list:
    """Every audit record of the session (the host's and the servers'), oldest first."""
    from audit.store import find
    from core.db import dispose_engines

    found = await find(org_id=ORG, session_id=session_id, limit=1000)
    await dispose_engines()
    return found


async def crash_during_lookup(env: dict[str, str], point: str) -> tuple[str, str]:
    """Ask about an order, confirm the lookup, and let the host kill itself at ``point`` of it: (session, order)."""
    from websockets.exceptions import ConnectionClosed

    order_id, customer = await _an_order()
    async with running_host(env, crash_at=point, tool=LOOKUP) as (proc, address):
        async with connect(address) as client:
            await client.send(type="session.start", agent="cs-agent", customer_ref=customer, language="ko")
            session_id = (await client.until("session.started"))[-1]["session_id"]
            await client.send(type="user.message", text=f"주문번호 {order_id} 주문 내역 조회해 주세요")
            asked = await client.until("turn.completed")
            prompt = next(m for m in asked if m["type"] == "confirmation.requested")  # "조회해도 될까요?"
            assert prompt["exposed_name"] == LOOKUP and order_id in prompt["prompt"]
            await client.send(type="confirmation.response", confirmed=True)
            with pytest.raises((ConnectionClosed, TimeoutError)):
                await client.until("turn.completed", timeout=60)
        assert await asyncio.to_thread(proc.wait, 30) == -9  # SIGKILL, by the crash point
    return session_id, order_id


@pytest.mark.parametrize("point", list(READ_CASES))
async def test_host_killed_mid_lookup_then_resumed(
    shop: dict[str, str], point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_runs = READ_CASES[point]
    session_id, order_id = await crash_during_lookup(shop, point)

    def calls(records: list, source: str) -> list:
        return [r for r in records if r.source == source and r.event_type == "tool_call"]

    after_crash = await _records(session_id)
    lookups = [r for r in calls(after_crash, "host") if r.exposed_name == LOOKUP]
    assert len(lookups) == 1, [(r.source, r.event_type, r.exposed_name) for r in after_crash]
    call_id = lookups[0].trace_id
    assert [c.trace_id for c in await _unresolved(session_id)] == [call_id]
    ran = [r for r in calls(after_crash, "server:orders") if r.trace_id == call_id]
    assert len(ran) == server_runs and all(r.tool_name == "get_order" for r in ran)
    monkeypatch.setenv("SWITCHBOARD_AUDIT_ORPHAN_GRACE_S", "0")
    assert (await verify("--strict")).exit_code == 1  # the lookup has no result yet

    said, ended, detail = await _resume_and_end(shop, session_id)

    # the read was not repeated: no new lookup by the host, the order server ran it as often as before
    records = await _records(session_id)
    assert [r.trace_id for r in calls(records, "host") if r.exposed_name == LOOKUP] == [call_id]
    assert len([r for r in calls(records, "server:orders") if r.tool_name == "get_order"]) == server_runs
    # its result is the one recovery appended, and the audit log is whole again
    results = [r for r in records if r.source == "host" and r.event_type == "tool_result" and r.trace_id == call_id]
    assert len(results) == 1
    assert results[0].is_error and results[0].error_code == "INTERRUPTED" and results[0].result is None
    assert results[0].details["recovered"] is True and results[0].details["outcome"] == "interrupted"
    assert await _unresolved(session_id) == []
    strict = await verify("--strict")
    assert strict.exit_code == 0, strict.output

    killed = next(t for t in detail["turns"] if call_id in (t["tool_call_ids"] or []))
    assert killed["status"] == "failed" and killed["error_code"] == "INTERRUPTED"
    assert killed["tool_call_ids"] == [call_id]
    assert [t["seq"] for t in detail["turns"] if t["status"] == "failed"] == [killed["seq"]]
    assert all(t["status"] != "open" for t in detail["turns"])
    lookup_calls = [c for c in detail["tool_calls"] if c["exposed_name"] == LOOKUP]
    assert [c["call_id"] for c in lookup_calls] == [call_id]
    assert lookup_calls[0]["ok"] is False
    called = [e["payload"] for e in detail["events"] if e["event_type"] == "TOOL_CALLED"]
    called = [p for p in called if p.get("call_id") == call_id]
    assert len(called) == 1 and called[0]["error_code"] == "INTERRUPTED"
    assert called[0]["recovered"] is True and called[0]["outcome"] == "interrupted"

    # the customer is asked to say it again: nothing is claimed done, no order details made up
    notified = [e for e in detail["events"] if e["event_type"] == "CUSTOMER_NOTIFIED"]
    assert len(notified) == 1
    notice = notified[0]["payload"]["notice"]
    assert "다시 말씀해 주세요" in notice and said.startswith(notice), said
    for claim in ("처리되었습니다", "처리됨", "접수번호", order_id):
        assert claim not in notice, notice
    assert ended["outcome"] == "미해결"  # an interrupted turn: never "해결"
    for claim in ("처리됨", "접수번호", "확인 후 안내"):  # the lookup never answered anything
        assert claim not in ended["summary"], ended["summary"]
