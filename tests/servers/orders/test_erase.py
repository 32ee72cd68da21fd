"""The order side of `switchboard customer erase`: the customer is pseudonymised, the orders stay.

Orders are business records the Korean e-commerce act (전자상거래법) makes a shop keep for years,
so the order rows, amounts, items, payments and shipments are kept; the customer's name and phone
numbers, the recipient, the delivery region, the tracking events' places and texts and every
refund reason of their orders are replaced by ``[erased]`` (docs/audit.md). SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

from fastmcp import Client
from sqlalchemy import select

from core.context import RequestContext
from tests.servers.orders.support import DEMO, OTHER, OTHER_ORDER, ok

CUSTOMER, NEIGHBOUR = "C-1001", "C-1002"
ERASED = "[erased]"
STORY_PHONE = "010-1234-5678"
# What of 김민수 (C-1001) the demo shop holds, in every spelling the order tables use: the name,
# the masked name (recipient), the phone (E.164, national, masked) and the delivery district.
NEEDLES = ("김민수", "김*수", "1012345678", "1234-5678", "****-5678", "강남")


async def dump(org_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of every order table for ``org_id``, in a stable order."""
    from core.db import get_engine
    from servers.order_server.tables import ALL_TABLES

    engine = await get_engine()
    out: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for table in ALL_TABLES:
            rows = (await conn.execute(select(table).where(table.c.org_id == org_id))).mappings().all()
            out[table.name] = sorted((dict(r) for r in rows), key=lambda r: repr(sorted(r.items(), key=str)))
    return out


def hits(tables: dict[str, list[dict[str, Any]]]) -> list[str]:
    """``table.column=value`` for every value that holds one of the NEEDLES."""
    return [
        f"{name}.{column}={value!r}"
        for name, rows in tables.items()
        for row in rows
        for column, value in row.items()
        if value is not None and any(n in str(value) for n in NEEDLES)
    ]


def customer_orders(tables: dict[str, list[dict[str, Any]]], ref: str) -> set[str]:
    return {r["order_id"] for r in tables["ord_order"] if r["customer_ref"] == ref}


def split(tables: dict[str, list[dict[str, Any]]], ref: str) -> tuple[dict[str, list], dict[str, list]]:
    """(the customer's rows, everybody else's rows) of a dump."""
    orders = customer_orders(tables, ref)
    mine: dict[str, list] = {}
    rest: dict[str, list] = {}
    for name, rows in tables.items():
        for row in rows:
            owned = row.get("customer_ref") == ref or row.get("order_id") in orders
            (mine if owned else rest).setdefault(name, []).append(row)
    return mine, rest


async def erase(org_id: str = DEMO, ref: str = CUSTOMER) -> Any:
    from servers.order_server.erase import pseudonymise_customer

    return await pseudonymise_customer(org_id, ref)


async def test_erase_pseudonymises_the_customer_and_keeps_the_orders(shop: str) -> None:
    before = await dump(DEMO)
    other_tenant = await dump(OTHER)
    assert hits(before), "the demo shop holds 김민수 before the erase"
    orders = customer_orders(before, CUSTOMER)
    assert len(orders) == 4 and "8841" in orders

    report = (await erase()).to_dict()

    after = await dump(DEMO)
    assert hits(after) == []  # no name, masked name, phone (any form) or district of 김민수 in any column
    assert report["customers_pseudonymised"] == 1 and report["customers_already_pseudonymised"] == 0
    assert report["orders_kept"] == 4 and report["fields_cleared"] >= 3 + 2 * 4
    (customer,) = [r for r in after["ord_customer"] if r["customer_ref"] == CUSTOMER]
    assert (customer["name"], customer["phone_key"], customer["phone_masked"]) == (ERASED, ERASED, ERASED)
    # the business record stays: every order, line, payment and shipment, amounts and dates as they were
    assert customer_orders(after, CUSTOMER) == orders
    mine_before, rest_before = split(before, CUSTOMER)
    mine_after, rest_after = split(after, CUSTOMER)
    for name in ("ord_order_item", "ord_payment", "ord_shipment"):
        assert mine_after[name] == mine_before[name], name
    for old, new in zip(mine_before["ord_order"], mine_after["ord_order"], strict=True):
        assert new == old | {"recipient_masked": ERASED, "ship_region": ERASED}
    assert {(r["location"], r["description"]) for r in mine_after["ord_shipment_event"]} == {(ERASED, ERASED)}
    assert {r["reason"] for r in mine_after["ord_refund"]} == {ERASED}
    assert [r | {"reason": ERASED} for r in mine_before["ord_refund"]] == mine_after["ord_refund"]
    # every other customer, and the same customer reference in another tenant, is untouched
    assert rest_after == rest_before
    assert await dump(OTHER) == other_tenant and "김민수" in str(other_tenant["ord_customer"])


async def test_the_old_phone_finds_nothing_and_the_orders_still_open_by_customer_id(shop: str, make_server) -> None:
    await erase()
    from servers.order_server import store

    async with store.read_session() as session:
        assert await store.orders_by_phone(session, RequestContext(org_id=DEMO), "+821012345678") == []
    async with Client(make_server()) as client:
        found = ok(await client.call_tool_mcp("find_orders", {"phone": STORY_PHONE}))
        assert found["orders"] == [] and found["truncated"] is False
        check = ok(
            await client.call_tool_mcp(
                "verify_caller", {"phone": STORY_PHONE, "factor_kind": "name", "factor": "김민수"}
            )
        )
        assert check["verified"] is False and check["customer_ref"] is None
        neighbour = ok(await client.call_tool_mcp("find_orders", {"phone": "010-2345-6789"}))
        assert neighbour["orders"] and {o["customer_name_masked"] for o in neighbour["orders"]} == {"이*연"}
    # the erased customer's own id still opens their orders (a business record), with nothing personal in it
    async with Client(make_server(customer=CUSTOMER)) as client:
        order = ok(await client.call_tool_mcp("get_order", {"order_id": "8841"}))
        refund = ok(await client.call_tool_mcp("get_refund_status", {"order_id": "8841"}))
        shipping = ok(await client.call_tool_mcp("get_shipping_status", {"order_id": "8841"}))
    assert order["customer_name_masked"] == ERASED and order["amounts"]["total_krw"] == 115_800
    assert order["shipping"]["recipient_masked"] == ERASED and order["shipping"]["region"] == ERASED
    assert refund["state"] == "processing" and refund["reason"] == ERASED
    assert shipping["status"] == "delivered" and {e["location"] for e in shipping["events"]} == {ERASED}
    # the same person in another shop (tenant) is still found there
    async with Client(make_server(org=OTHER)) as client:
        other = ok(await client.call_tool_mcp("find_orders", {"phone": STORY_PHONE}))
    assert [o["order_id"] for o in other["orders"]] == [OTHER_ORDER]


async def test_a_rerun_changes_nothing_and_says_the_customer_was_already_pseudonymised(shop: str) -> None:
    first = (await erase()).to_dict()
    after_first = await dump(DEMO)
    second = (await erase()).to_dict()
    assert await dump(DEMO) == after_first
    assert second["customers_pseudonymised"] == 0 and second["customers_already_pseudonymised"] == 1
    assert second["fields_cleared"] == 0 and second["orders_kept"] == first["orders_kept"] == 4


async def test_refund_confirmations_of_the_customers_orders_lose_their_reason(shop: str) -> None:
    from servers.order_server.confirm_store import Checked, open_pending

    before = await dump(DEMO)
    neighbour_order = sorted(customer_orders(before, NEIGHBOUR))[0]
    story = Checked("8841", "무선 블루투스 이어폰 외 1건", 115_800)
    pending = {
        "scoped": (RequestContext(org_id=DEMO, customer_ref=CUSTOMER), story),
        "unscoped": (RequestContext(org_id=DEMO), story),  # a direct client without a customer: by order
        "neighbour": (RequestContext(org_id=DEMO), Checked(neighbour_order, "텀블러", 18_900)),
    }
    for key, (ctx, checked) in pending.items():
        await open_pending(
            ctx,
            checked,
            reason=f"{key}: 김민수 고객, 010-1234-5678 로 연락" if key != "neighbour" else "이서연 고객 단순 변심",
            idempotency_key=f"key-{key}",
            fingerprint="f" * 64,
            channel="two_step",
        )
    report = (await erase()).to_dict()
    rows = {r["idempotency_key"]: r for r in (await dump(DEMO))["ord_refund_confirmation"]}
    assert rows["key-scoped"]["reason"] == rows["key-unscoped"]["reason"] == ERASED
    assert rows["key-neighbour"]["reason"] == "이서연 고객 단순 변심"
    assert rows["key-scoped"]["status"] == "pending" and rows["key-scoped"]["product"] == story.product
    assert report["fields_cleared"] >= 3 + 2 * 4 + 2
    assert hits(await dump(DEMO)) == []


async def test_presence_tells_a_known_org_and_customer_from_typos(shop: str) -> None:
    from servers.order_server.erase import order_presence

    assert await order_presence(DEMO, CUSTOMER) == (True, True)
    assert await order_presence(DEMO, "C-10O1") == (True, False)
    assert await order_presence("dem0", CUSTOMER) == (False, False)
    await erase()
    assert await order_presence(DEMO, CUSTOMER) == (True, True)  # the pseudonymised row is still theirs


async def test_erasing_a_customer_without_orders_is_a_no_op(shop: str) -> None:
    before = await dump(DEMO)
    report = (await erase(DEMO, "C-NOBODY")).to_dict()
    assert report["customers_pseudonymised"] == report["orders_kept"] == report["fields_cleared"] == 0
    assert await dump(DEMO) == before
