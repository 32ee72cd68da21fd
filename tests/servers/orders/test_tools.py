"""The five tools through a real MCP client (in memory): results, scoping, refunds, concurrency."""

from __future__ import annotations

import asyncio
import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastmcp import Client
from sqlalchemy import select, update

from servers.order_server.business_days import business_days_between, today_kst
from tests.servers.orders.support import (
    DEMO,
    OTHER,
    OTHER_ORDER,
    STORY_PHONE_MASKED,
    TOOLS,
    confirmed_refund,
    error_of,
    ok,
    row_counts,
)

ISO_KST = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00$")


def key() -> str:
    return f"test-{uuid.uuid4()}"


async def test_tools_are_listed_with_annotations_and_strict_schemas(shop, make_server) -> None:
    async with Client(make_server()) as client:
        assert client.server_info.name == "switchboard-orders"
        assert client.server_info.version == "1.4.0"
        tools = {t.name: t for t in await client.list_tools()}
    assert set(tools) == TOOLS
    for name, tool in tools.items():
        assert tool.input_schema["additionalProperties"] is False
        assert tool.output_schema and tool.output_schema["type"] == "object"
        notes = tool.annotations
        assert notes is not None and notes.title
        if name in ("request_refund", "confirm_refund"):
            assert notes.read_only_hint is False
            assert notes.destructive_hint is False
            assert notes.idempotent_hint is (name == "request_refund")
        else:
            assert notes.read_only_hint is True
            assert notes.idempotent_hint is True
    order_id = tools["get_order"].input_schema["properties"]["order_id"]
    assert order_id["pattern"] == "^[1-9][0-9]{3,19}$" and order_id["maxLength"] == 20
    assert set(tools["request_refund"].input_schema["required"]) == {"order_id", "reason", "idempotency_key"}


async def test_get_order_8841(shop, make_server) -> None:
    async with Client(make_server()) as client:
        order = ok(await client.call_tool_mcp("get_order", {"order_id": "8841"}))
    assert order["order_id"] == "8841"
    assert order["status"] == "delivered" and order["status_label"] == "배송 완료"
    assert order["customer_name_masked"] == "김*수"
    assert [i["name"] for i in order["items"]] == ["무선 블루투스 이어폰", "65W 고속 충전기"]
    amounts = order["amounts"]
    assert amounts == {
        "currency": "KRW",
        "subtotal_krw": 118_800,
        "shipping_fee_krw": 0,
        "discount_krw": 3_000,
        "total_krw": 115_800,
        "refunded_krw": 0,
    }
    assert sum(i["amount_krw"] for i in order["items"]) == amounts["subtotal_krw"]
    assert all(isinstance(i["unit_price_krw"], int) for i in order["items"])
    for stamp in (
        order["ordered_at"],
        order["updated_at"],
        order["payment"]["paid_at"],
        order["shipping"]["shipped_at"],
    ):
        assert ISO_KST.match(stamp), stamp
    assert order["shipping"]["carrier"] == "CJ대한통운"
    assert order["shipping"]["tracking_number"] == "568231904417"
    assert order["refund"]["state"] == "processing"
    assert order["refund"]["amount_krw"] == 115_800


async def test_refund_status_of_8841_is_in_progress_for_two_business_days(shop, make_server) -> None:
    async with Client(make_server()) as client:
        status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": "8841"}))
    assert status["state"] == "processing" and status["state_label"] == "환불 진행중"
    assert status["business_days_total"] == 3
    expected = date.fromisoformat(status["expected_completion_date"])
    assert status["business_days_remaining"] == business_days_between(today_kst(), expected) == 2
    assert status["overdue"] is False
    assert status["summary_ko"] == "환불 처리가 진행 중이며 1~2영업일 내 완료됩니다."
    assert status["refundable"] is False and "RF8841A" in status["not_refundable_reason"]
    assert status["not_refundable_code"] == "refund_exists"  # the code request_refund's CONFLICT carries


async def test_refund_status_without_refund(shop, make_server) -> None:
    async with Client(make_server()) as client:
        found = ok(await client.call_tool_mcp("find_orders", {"phone": "010-2345-6789"}))
        order_id = found["orders"][0]["order_id"]
        status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": order_id}))
    assert status["state"] == "none" and status["refund_id"] is None
    assert isinstance(status["refundable"], bool)
    assert (status["not_refundable_reason"] is None) == (status["not_refundable_code"] is None) == status["refundable"]


async def test_shipping_status(shop, make_server) -> None:
    async with Client(make_server()) as client:
        shipped = ok(await client.call_tool_mcp("get_shipping_status", {"order_id": "8841"}))
        unshipped = ok(await client.call_tool_mcp("get_shipping_status", {"order_id": "8822"}))
    assert shipped["carrier_code"] == "cj" and shipped["tracking_number"] == "568231904417"
    assert shipped["status"] == "delivered"
    times = [e["at"] for e in shipped["events"]]
    assert times == sorted(times, reverse=True) and len(times) == 5
    assert shipped["events"][0]["status"] == "delivered"
    assert unshipped["status"] == "not_shipped"
    assert unshipped["carrier"] is None and unshipped["events"] == []


@pytest.mark.parametrize("phone", ["010-1234-5678", "01012345678", "+82 10 1234 5678"])
async def test_find_orders_by_any_phone_form(shop, make_server, phone: str) -> None:
    async with Client(make_server()) as client:
        found = ok(await client.call_tool_mcp("find_orders", {"phone": phone}))
    assert found["phone_masked"] == STORY_PHONE_MASKED
    ids = [o["order_id"] for o in found["orders"]]
    assert "8841" in ids and OTHER_ORDER not in ids
    assert len(ids) == 4
    stamps = [o["ordered_at"] for o in found["orders"]]
    assert stamps == sorted(stamps, reverse=True)
    assert found["truncated"] is False
    assert all(o["customer_name_masked"] == "김*수" for o in found["orders"])
    assert "1234" not in str(found)


async def test_find_orders_unknown_phone_is_empty(shop, make_server) -> None:
    async with Client(make_server()) as client:
        found = ok(await client.call_tool_mcp("find_orders", {"phone": "010-0000-0000"}))
    assert found == {"phone_masked": "+82-10-****-0000", "orders": [], "truncated": False}


async def test_find_orders_keeps_the_ten_newest(shop, make_server) -> None:
    from core.db import get_engine
    from servers.order_server.tables import order

    engine = await get_engine()
    async with engine.begin() as conn:  # give every demo order to 김민수
        await conn.execute(update(order).where(order.c.org_id == DEMO).values(customer_ref="C-1001"))
    async with Client(make_server()) as client:
        found = ok(await client.call_tool_mcp("find_orders", {"phone": "01012345678"}))
    assert len(found["orders"]) == 10 and found["truncated"] is True


async def test_other_tenants_orders_look_missing(shop, make_server) -> None:
    async with Client(make_server(org=DEMO)) as client:
        for tool in ("get_order", "get_refund_status", "get_shipping_status"):
            foreign = error_of(await client.call_tool_mcp(tool, {"order_id": OTHER_ORDER}))
            missing = error_of(await client.call_tool_mcp(tool, {"order_id": "770002"}))
            assert foreign["code"] == missing["code"] == "NOT_FOUND"
            assert foreign["message"].replace(OTHER_ORDER, "X") == missing["message"].replace("770002", "X")
        refund = error_of(
            await confirmed_refund(client, {"order_id": OTHER_ORDER, "reason": "단순 변심", "idempotency_key": key()})
        )
        assert refund["code"] == "NOT_FOUND"
    async with Client(make_server(org=OTHER)) as client:
        assert ok(await client.call_tool_mcp("get_order", {"order_id": OTHER_ORDER}))["order_id"] == OTHER_ORDER
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": "8841"}))["code"] == "NOT_FOUND"
        found = ok(await client.call_tool_mcp("find_orders", {"phone": "010-1234-5678"}))
        assert [o["order_id"] for o in found["orders"]] == [OTHER_ORDER]


async def test_tenant_in_meta_is_ignored_for_untrusted_clients(shop, make_server) -> None:
    async with Client(make_server(org=DEMO)) as client:
        result = await client.call_tool_mcp("get_order", {"order_id": OTHER_ORDER}, meta={"switchboard/org_id": OTHER})
    assert error_of(result)["code"] == "NOT_FOUND"


async def test_a_named_customer_sees_only_their_orders(shop, make_server) -> None:
    async with Client(make_server(customer="C-1002")) as client:
        mine = ok(await client.call_tool_mcp("find_orders", {"phone": "010-2345-6789"}))
        assert mine["orders"] and all(o["customer_name_masked"] == "이*연" for o in mine["orders"])
        theirs = ok(await client.call_tool_mcp("find_orders", {"phone": "010-1234-5678"}))
        assert theirs["orders"] == []
        for tool in ("get_order", "get_refund_status", "get_shipping_status"):
            assert error_of(await client.call_tool_mcp(tool, {"order_id": "8841"}))["code"] == "NOT_FOUND"
        assert ok(await client.call_tool_mcp("get_order", {"order_id": mine["orders"][0]["order_id"]}))
        blocked = await confirmed_refund(client, {"order_id": "8841", "reason": "단순 변심", "idempotency_key": key()})
        assert error_of(blocked)["code"] == "NOT_FOUND"


async def test_no_tenant_is_forbidden(shop, make_server) -> None:
    async with Client(make_server(org=None)) as client:
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": "8841"}))["code"] == "FORBIDDEN"


async def _refundable_order(client: Client) -> str:
    """A delivered demo order inside the refund window, with no refund yet."""
    for phone in ("010-2345-6789", "010-3456-7890", "010-4567-8901", "010-5678-9012", "010-6789-0123"):
        for brief in ok(await client.call_tool_mcp("find_orders", {"phone": phone}))["orders"]:
            status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": brief["order_id"]}))
            if status["refundable"]:
                return brief["order_id"]
    raise AssertionError("the demo data has no refundable order")


async def test_request_refund_creates_once_and_retries_return_the_same(shop, make_server) -> None:
    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        before = await row_counts()
        args = {"order_id": order_id, "reason": "사이즈가  맞지 않아요\n반품 원해요", "idempotency_key": key()}
        first = ok(await confirmed_refund(client, args))
        again = ok(await confirmed_refund(client, args))
        status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": order_id}))
        order = ok(await client.call_tool_mcp("get_order", {"order_id": order_id}))
    assert first["created"] is True and again["created"] is False
    assert again["refund_id"] == first["refund_id"]
    assert first["state"] == "requested" and first["amount_krw"] == order["amounts"]["total_krw"]
    assert ISO_KST.match(first["requested_at"])
    assert date.fromisoformat(first["expected_completion_date"]) > today_kst()
    assert (await row_counts())["ord_refund"] == before["ord_refund"] + 1
    assert status["state"] == "requested" and status["refund_id"] == first["refund_id"]
    assert status["reason"] == "사이즈가 맞지 않아요 반품 원해요"  # whitespace collapsed
    assert order["refund"]["refund_id"] == first["refund_id"]


async def test_find_refund_request_says_whether_a_key_was_used_without_writing(shop, make_server) -> None:
    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        used, unused = key(), key()
        before = await row_counts()
        missing = ok(await client.call_tool_mcp("find_refund_request", {"key": unused}))
        assert missing == {"found": False, "refund": None}
        assert await row_counts() == before  # looking never writes
        made = ok(
            await confirmed_refund(client, {"order_id": order_id, "reason": "단순 변심", "idempotency_key": used})
        )
        found = ok(await client.call_tool_mcp("find_refund_request", {"key": used}))
        bad = error_of(await client.call_tool_mcp("find_refund_request", {"key": "x"}))
    assert found["found"] is True and found["refund"]["refund_id"] == made["refund_id"]
    assert found["refund"]["created"] is False and found["refund"]["order_id"] == order_id
    assert bad["code"] == "INVALID_ARGUMENT"


async def test_a_second_refund_for_the_same_order_is_a_conflict(shop, make_server) -> None:
    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        ok(await confirmed_refund(client, {"order_id": order_id, "reason": "변심", "idempotency_key": key()}))
        before = await row_counts()
        second = await confirmed_refund(client, {"order_id": order_id, "reason": "변심", "idempotency_key": key()})
        story = await confirmed_refund(
            client, {"order_id": "8841", "reason": "빨리 해주세요", "idempotency_key": key()}
        )
    assert error_of(second)["code"] == "CONFLICT" and error_of(second)["reason"] == "refund_exists"
    assert error_of(story)["code"] == "CONFLICT" and "RF8841A" in error_of(story)["message"]
    assert await row_counts() == before


async def test_reusing_a_key_for_other_arguments_is_a_conflict(shop, make_server) -> None:
    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        used = key()
        ok(await confirmed_refund(client, {"order_id": order_id, "reason": "변심", "idempotency_key": used}))
        before = await row_counts()
        other_reason = await confirmed_refund(client, {"order_id": order_id, "reason": "불량", "idempotency_key": used})
        other_order = await confirmed_refund(client, {"order_id": "8822", "reason": "변심", "idempotency_key": used})
    assert error_of(other_reason)["code"] == "CONFLICT"
    assert error_of(other_order)["code"] == "CONFLICT"
    assert await row_counts() == before


async def test_refund_rules_by_order_state(shop, make_server) -> None:
    from core.db import get_engine
    from servers.order_server.tables import order, shipment

    engine = await get_engine()
    async with engine.connect() as conn:
        by_status: dict[str, str] = {}
        for order_id, status in await conn.execute(
            select(order.c.order_id, order.c.status).where(order.c.org_id == DEMO).order_by(order.c.order_id)
        ):
            by_status.setdefault(status, order_id)
        stale = (
            await conn.execute(
                select(order.c.order_id)
                .join(shipment, (shipment.c.org_id == order.c.org_id) & (shipment.c.order_id == order.c.order_id))
                .where(
                    order.c.org_id == DEMO,
                    order.c.status == "delivered",
                    shipment.c.delivered_at < datetime.now(UTC) - timedelta(days=10),
                )
            )
        ).scalar()
    assert set(by_status) == {"pending_payment", "paid", "preparing", "shipped", "delivered", "cancelled", "refunded"}
    del by_status["delivered"]
    async with Client(make_server(trust_meta=True)) as client:
        before = await row_counts()
        outcomes = {}
        for label, order_id in [*by_status.items(), ("delivered long ago", stale)]:
            result = await confirmed_refund(client, {"order_id": order_id, "reason": "변심", "idempotency_key": key()})
            outcomes[label] = (
                "ok" if not result.is_error else f"{error_of(result)['code']}/{error_of(result)['reason']}"
            )
    # the stable sub-code says why, so a host can tell the customer (not "already under way")
    assert outcomes["shipped"] == "CONFLICT/in_transit"
    assert outcomes["cancelled"] == "CONFLICT/closed"
    assert outcomes["pending_payment"] == "CONFLICT/not_paid"
    assert outcomes["refunded"] == "CONFLICT/refund_exists"  # its refund is there, completed
    assert outcomes["delivered long ago"] == "CONFLICT/window_passed"
    assert outcomes["paid"] == "ok" and outcomes["preparing"] == "ok"
    after = await row_counts()
    assert after["ord_refund"] == before["ord_refund"] + 2
    assert {k: v for k, v in after.items() if k != "ord_refund"} == {
        k: v for k, v in before.items() if k != "ord_refund"
    }


async def test_reason_with_personal_data_is_stored_masked(shop, make_server) -> None:
    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        ok(
            await confirmed_refund(
                client,
                {"order_id": order_id, "reason": "환불은 010-9876-5432로 연락 주세요", "idempotency_key": key()},
            )
        )
        status = ok(await client.call_tool_mcp("get_refund_status", {"order_id": order_id}))
    assert "9876" not in status["reason"] and "5432" in status["reason"]


@pytest.mark.parametrize("reason", ["\x00\x01", "a\x07b", "  \n\t ", "환불\x1b[31m"])
async def test_unprintable_reasons_are_rejected_without_writing(shop, make_server, reason: str) -> None:
    before = await row_counts()
    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        result = await confirmed_refund(client, {"order_id": order_id, "reason": reason, "idempotency_key": key()})
    assert error_of(result)["code"] == "INVALID_ARGUMENT"
    assert await row_counts() == before


async def test_lone_surrogates_are_refused_without_writing(shop, make_server) -> None:
    """Only an in-process client can send them (JSON parsers on the wire reject them)."""
    before = await row_counts()
    async with Client(make_server()) as client:
        order_id = await _refundable_order(client)
        result = await client.call_tool_mcp(
            "request_refund", {"order_id": order_id, "reason": "변심\ud800", "idempotency_key": key()}
        )
    assert result.is_error and error_of(result)["code"]
    assert await row_counts() == before


async def test_concurrent_retries_create_exactly_one_refund(shop, make_server) -> None:
    server = make_server(trust_meta=True)
    async with Client(server) as client:
        order_id = await _refundable_order(client)
    before = await row_counts()
    args = {"order_id": order_id, "reason": "단순 변심", "idempotency_key": key()}

    async def attempt() -> dict:
        async with Client(server) as client:  # one connection per retry, as separate clients would
            return ok(await confirmed_refund(client, args))

    results = await asyncio.gather(*(attempt() for _ in range(12)))
    assert len({r["refund_id"] for r in results}) == 1
    assert sum(r["created"] for r in results) == 1
    assert (await row_counts())["ord_refund"] == before["ord_refund"] + 1


async def test_concurrent_requests_with_different_keys_refund_once(shop, make_server) -> None:
    server = make_server(trust_meta=True)
    async with Client(server) as client:
        order_id = await _refundable_order(client)
        before = await row_counts()
        results = await asyncio.gather(
            *(
                confirmed_refund(client, {"order_id": order_id, "reason": "변심", "idempotency_key": key()})
                for _ in range(10)
            )
        )
    created = [r for r in results if not r.is_error]
    assert len(created) == 1
    assert {error_of(r)["code"] for r in results if r.is_error} == {"CONFLICT"}
    assert (await row_counts())["ord_refund"] == before["ord_refund"] + 1


async def test_losing_the_insert_race_returns_the_winner(shop, make_server, monkeypatch) -> None:
    """The unique (org_id, idempotency_key) constraint decides a race the pre-check missed."""
    from servers.order_server import refunds

    async with Client(make_server(trust_meta=True)) as client:
        order_id = await _refundable_order(client)
        args = {"order_id": order_id, "reason": "변심", "idempotency_key": key()}
        winner = ok(await confirmed_refund(client, args))
        real = refunds._by_key
        calls = {"n": 0}

        async def blind_first(conn, org_id, k):  # the pre-check "misses" the committed refund
            calls["n"] += 1
            return None if calls["n"] == 1 else await real(conn, org_id, k)

        monkeypatch.setattr(refunds, "_by_key", blind_first)
        monkeypatch.setattr(refunds, "blocked", lambda *a: None)  # and the live-refund check too
        before = await row_counts()
        loser = ok(await confirmed_refund(client, args))
    assert loser["refund_id"] == winner["refund_id"] and loser["created"] is False
    assert await row_counts() == before
