"""The order store keeps a customer's phone number as a keyed HMAC, never as the number.

The standard is that personal data is masked in every store; the order store needs the number
only to compare it (find_orders, verify_caller), so it keeps ``phonekey.phone_key`` beside the
masked copy. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re

from fastmcp import Client

from tests.servers.orders.support import DEMO, OTHER, ok
from tests.servers.orders.test_erase import dump

STORY_PHONE = "010-1234-5678"
# the digits of any stored number of the demo shop (010-xxxx-xxxx in any spelling)
DIGITS = re.compile(r"(?:\+?82|0)\D?10\D?\d{4}\D?\d{4}")


async def test_no_phone_number_is_stored_and_every_spelling_still_finds_the_orders(shop: str, make_server) -> None:
    from servers.order_server.phonekey import phone_key

    for tenant in (DEMO, OTHER):
        tables = await dump(tenant)
        assert tables["ord_customer"], tenant
        for name, rows in tables.items():
            for row in rows:
                for column, value in row.items():
                    if column == "phone_key":  # an HMAC's hex may hold "010…" by chance (a CI run did)
                        assert re.fullmatch(r"[0-9a-f]{64}", str(value)), f"{name}.{column}={value!r}"
                        continue
                    assert not DIGITS.search(str(value)), f"{name}.{column}={value!r}"
    (stored,) = [r for r in (await dump(DEMO))["ord_customer"] if r["customer_ref"] == "C-1001"]
    assert stored["phone_key"] == phone_key(DEMO, "+821012345678") and stored["phone_masked"].endswith("5678")
    assert phone_key(OTHER, "+821012345678") != stored["phone_key"]  # another org, another key
    async with Client(make_server()) as client:
        for spelling in (STORY_PHONE, "01012345678", "+82 10 1234 5678", "+821012345678"):
            found = ok(await client.call_tool_mcp("find_orders", {"phone": spelling}))
            assert {o["customer_name_masked"] for o in found["orders"]} == {"김*수"}, spelling
            assert len(found["orders"]) == 4, spelling
        check = ok(
            await client.call_tool_mcp(
                "verify_caller", {"phone": STORY_PHONE, "factor_kind": "name", "factor": "김민수"}
            )
        )
        assert check["verified"] is True and check["customer_ref"] == "C-1001"
        assert ok(await client.call_tool_mcp("find_orders", {"phone": "010-9999-0000"}))["orders"] == []


async def test_orders_0003_turns_the_stored_numbers_into_keys(tmp_path, monkeypatch) -> None:
    """A store made at orders_0002 (numbers in clear) is upgraded in place: keys, no numbers."""
    import sqlalchemy as sa
    from alembic import command
    from sqlalchemy.ext.asyncio import create_async_engine

    from core.migrate import alembic_config
    from servers.order_server.phonekey import phone_key

    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "home"))
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.db'}")
    try:
        async with engine.begin() as conn:
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "orders_0002"))
            for ref, phone in (("C-1", "+821012345678"), ("C-2", "[erased]")):
                await conn.execute(
                    sa.text(
                        "INSERT INTO ord_customer (org_id, customer_ref, name, phone_e164, phone_masked, created_at)"
                        " VALUES ('acme', :ref, '김민수', :phone, '+82-10-****-5678', '2026-01-01 00:00:00')"
                    ),
                    {"ref": ref, "phone": phone},
                )
            await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "orders_0003"))
            rows = dict((await conn.execute(sa.text("SELECT customer_ref, phone_key FROM ord_customer"))).all())
            columns = await conn.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns("ord_customer")})
        assert rows == {"C-1": phone_key("acme", "+821012345678"), "C-2": "[erased]"}
        assert "phone_e164" not in columns and "phone_key" in columns
        async with engine.begin() as conn:
            try:
                await conn.run_sync(lambda c: command.downgrade(alembic_config(c), "orders_0002"))
            except RuntimeError as err:
                assert "cannot be undone" in str(err)
            else:
                raise AssertionError("the downgrade would have to invent phone numbers")
    finally:
        await engine.dispose()
