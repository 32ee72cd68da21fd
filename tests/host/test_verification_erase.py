"""A caller verified on the line is that customer's from the check on, in the audit too: the
records of the verify_caller call that matched (the host's and the order server's) are sealed
under the customer's key, so `switchboard customer erase` shreds them. They were sealed under
the org's key (the session had no customer yet) and after the erase still read
'{"customer_ref":"C-1001","phone_masked":"+82-10-****-5678","verified":true}'."""

from __future__ import annotations

import pytest

from audit.middleware import AuditHook
from host.app import create_app
from host.runtime import HostRuntime
from tests.host.servers import publish_agent
from tests.host.test_gateway import _close_audit  # noqa: F401  (an autouse fixture)
from tests.host.test_verification_e2e import ORG, TOOLS, _say
from tests.host.test_ws import connect, serve
from tests.servers.orders.support import seed_shop


@pytest.fixture
async def audited_shop(database_url, monkeypatch):
    from servers.kit import ServerLaunch
    from servers.order_server.app import build_server
    from servers.order_server.store import close_readers

    monkeypatch.setenv("SWITCHBOARD_CALLER_CHECK", f"{ORG}:name:2")
    await seed_shop()
    orders = build_server(launch=ServerLaunch(trust_meta=True), hooks=[AuditHook("orders")])
    risks = {"orders": {"*": "read", "request_refund": "write"}}
    await publish_agent(ORG, {"orders": (orders, "1.4.0", ["switchboard", "serve", "orders"])}, TOOLS, risks=risks)
    yield orders
    close_readers()


async def test_the_matching_verification_is_the_customers_record_and_is_shredded(audited_shop):
    from audit.store import tail
    from switchboard_erase import erase_customer

    runtime = HostRuntime(connector=lambda pin, env: audited_shop)
    async with serve(create_app(runtime, default_org=ORG)) as address, connect(address) as client:
        await client.send(type="session.start", agent="cs-agent", language="ko")
        session_id = (await client.until("session.started"))[-1]["session_id"]
        await _say(client, "주문번호 8841 배송 어디쯤인지 알려주세요")
        await _say(client, "010 1234 5678")
        passed = await _say(client, "제 이름은 김민수요")
        assert any(m["type"] == "caller.verification" and m["verified"] for m in passed)
        await client.send(type="session.end")
        await client.until("session.ended")

    def matched(records):
        return [
            r
            for r in records
            if r.session_id == session_id and r.tool_name == "verify_caller" and "C-1001" in str(r.result)
        ]

    before = matched(await tail(ORG, limit=500))
    assert {r.source for r in before} == {"host", "server:orders"}
    assert all(r.customer_ref == "C-1001" for r in before), [(r.source, r.event_type, r.customer_ref) for r in before]

    await erase_customer(ORG, "C-1001", actor="test")
    after = [
        r
        for r in await tail(ORG, limit=500)
        if r.session_id == session_id and r.tool_name == "verify_caller" and "5678" in str(r.result)
    ]
    assert after == []
