"""An erase reaches what operators wrote in the console about the customer: the audit records of
their notes, resolutions and takeover messages are sealed under the customer's key (so the erase
shreds them), not under the org's (readable for ever)."""

from __future__ import annotations

from tests.host.consolehost import ORG, console_host
from tests.host.test_console import _escalate

NAME = "한지영"


async def test_erase_shreds_the_console_audit_records_about_the_customer(database_url):
    from audit import find
    from host.console import queue, takeover
    from host.console.operators import get_operator_by_username
    from switchboard_erase import erase_customer

    async with console_host() as (address, _):
        session_id = await _escalate(address, "환불 문의드려요")
        joon = await get_operator_by_username("joon")
        item = (await queue.list_items(joon))[0]
        await queue.add_note(joon, item["id"], f"{NAME} 고객, 010-4821-7730 로 콜백 예정")
        await takeover.take_over(joon, session_id)
        await takeover.reply(joon, session_id, f"{NAME}님, 곧 연락드리겠습니다")
        await takeover.hand_back(joon, session_id)
        await queue.resolve(joon, item["id"], "resolved", f"{NAME} 고객 통화 완료")

        def operator_records(records):
            return [r for r in records if r.event_type.startswith("operator_") and r.session_id == session_id]

        before = operator_records(await find(org_id=ORG, session_id=session_id, limit=1000))
        assert {r.event_type for r in before} >= {"operator_note", "operator_message", "operator_resolve"}
        assert all(r.customer_ref == "cust-7" for r in before), [(r.event_type, r.customer_ref) for r in before]
        assert any(NAME in str(r.details) for r in before)

        await erase_customer(ORG, "cust-7", actor="test")

        after = operator_records(await find(org_id=ORG, session_id=session_id, limit=1000))
        assert len(after) == len(before)
        assert not [r.event_type for r in after if NAME in str(r.details)]
