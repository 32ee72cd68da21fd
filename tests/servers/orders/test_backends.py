"""The order tools over a shop's own SQL database and REST API, through mapping files.

The same tools (identical definitions, so pinned hashes hold) answer from a schema unlike ours:
Korean status words, integer ids, local phone numbers, naive Korea-time timestamps. Tenant and
customer scope hold whatever the mapping's queries do; writes reach the shop's own store once
per idempotency key, with personal data masked.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastmcp import Client

from servers.kit import ServerLaunch
from tests.servers.orders.shop import (
    OTHER_SHOP,
    REST_MAPPING,
    SHOP,
    SQL_MAPPING,
    TOKEN,
    RestShop,
    create_sql_shop,
    drop_sql_shop,
    shop_rows,
    write_mapping,
)
from tests.servers.orders.support import TOOLS, error_of, ok

pytestmark = pytest.mark.timeout(120)
RRN = "900101-1234567"


@pytest.fixture(scope="module")
def mappings(module_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The shop as a SQL database and as a REST API, and a mapping file for each."""
    import asyncio

    directory = tmp_path_factory.mktemp("shop")
    url = asyncio.run(create_sql_shop(directory))
    rest = RestShop()
    saved = {k: os.environ.get(k) for k in ("SHOP_DB_URL", "SHOP_API_URL", "SHOP_API_TOKEN")}
    os.environ.update({"SHOP_DB_URL": url, "SHOP_API_URL": rest.start(), "SHOP_API_TOKEN": TOKEN})
    try:
        yield {
            "sql": write_mapping(directory, "shop-sql.toml", SQL_MAPPING),
            "rest": write_mapping(directory, "shop-rest.toml", REST_MAPPING),
            "sql_url": url,
            "rest_shop": rest,
            "dir": directory,
        }
    finally:
        rest.stop()
        asyncio.run(drop_sql_shop(url))
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


async def _use(setting: str | Path) -> None:
    from servers.order_server.backends import close_backend

    await close_backend()
    os.environ["SWITCHBOARD_ORDERS_BACKEND"] = str(setting)


@pytest.fixture
async def use_backend(mappings: dict[str, Any]) -> AsyncIterator[Any]:
    """Select a backend for this test (``await use_backend("sql")``); back to the tables afterwards."""

    async def _select(name: str) -> None:
        await _use(mappings[name] if name in ("sql", "rest") else name)

    yield _select
    from core.db import dispose_engines
    from servers.order_server.backends import close_backend

    os.environ.pop("SWITCHBOARD_ORDERS_BACKEND", None)
    await close_backend()
    # the module shares one database; its pooled PostgreSQL connections belong to this test's loop
    await dispose_engines()


def server(org: str | None = SHOP, customer: str | None = None) -> Any:
    from servers.order_server.app import build_server

    return build_server(launch=ServerLaunch(org_id=org, customer_ref=customer), hooks=[])


async def test_tool_definitions_hash_the_same_over_every_backend(use_backend) -> None:
    from registry.hashing import definition_sha256

    digests = {}
    for name in ("tables", "sql", "rest"):
        await use_backend(name)
        async with Client(server()) as client:
            digests[name] = {t.name: definition_sha256(t) for t in await client.list_tools()}
    assert set(digests["tables"]) == set(TOOLS)
    assert digests["sql"] == digests["tables"] == digests["rest"]


BACKENDS = pytest.mark.parametrize("backend", ["sql", "rest"])


@BACKENDS
async def test_get_order_reads_the_shops_schema(use_backend, backend: str) -> None:
    await use_backend(backend)
    async with Client(server()) as client:
        order = ok(await client.call_tool_mcp("get_order", {"order_id": "5001"}))
    assert order["order_id"] == "5001"
    assert (order["status"], order["status_label"]) == ("delivered", "배송 완료")
    assert order["customer_name_masked"] == "김*수"
    assert order["ordered_at"].endswith("+09:00")
    assert [(i["line_no"], i["name"], i["option"], i["amount_krw"]) for i in order["items"]] == [
        (1, "무선 블루투스 이어폰", "화이트", 45000),
        (2, "이어팁 세트", None, 15000),
    ]
    assert order["amounts"] == {
        "subtotal_krw": 60000,
        "shipping_fee_krw": 3000,
        "discount_krw": 5000,
        "total_krw": 58000,
        "refunded_krw": 0,
        "currency": "KRW",
    }
    assert (order["payment"]["method"], order["payment"]["method_label"]) == ("card", "신용카드")
    assert order["shipping"]["carrier"] == "CJ대한통운"
    assert order["shipping"]["status"] == "delivered"


@BACKENDS
async def test_naive_shop_times_are_read_as_korea_time(use_backend, backend: str) -> None:
    from tests.servers.orders.shop import ORDERS

    await use_backend(backend)
    async with Client(server()) as client:
        order = ok(await client.call_tool_mcp("get_order", {"order_id": "5001"}))
    created = next(o["created"] for o in ORDERS if o["id"] == 5001)
    assert order["ordered_at"] == created.isoformat() + "+09:00"


@BACKENDS
async def test_shipping_events_newest_first_with_translated_codes(use_backend, backend: str) -> None:
    await use_backend(backend)
    async with Client(server()) as client:
        shipping = ok(await client.call_tool_mcp("get_shipping_status", {"order_id": "5001"}))
        unshipped = ok(await client.call_tool_mcp("get_shipping_status", {"order_id": "5002"}))
    assert [e["status"] for e in shipping["events"]] == ["delivered", "out_for_delivery", "in_transit"]
    assert shipping["events"][0]["description"] == "문 앞 배송 완료"
    assert shipping["tracking_number"] == "612345678901"
    assert (unshipped["status"], unshipped["events"]) == ("not_shipped", [])


@BACKENDS
async def test_find_orders_by_phone_in_any_form(use_backend, backend: str) -> None:
    await use_backend(backend)
    async with Client(server()) as client:
        found = ok(await client.call_tool_mcp("find_orders", {"phone": "+82 10 1234 5678"}))
        none = ok(await client.call_tool_mcp("find_orders", {"phone": "010-0000-0000"}))
    assert [o["order_id"] for o in found["orders"]] == ["5002", "5001"]  # newest first; not the other shop's 5004
    assert found["orders"][1]["item_summary"] == "무선 블루투스 이어폰 외 1건"
    assert found["phone_masked"] == "+82-10-****-5678"
    assert none["orders"] == []


@BACKENDS
async def test_other_tenants_and_customers_orders_look_missing(use_backend, backend: str) -> None:
    await use_backend(backend)
    missing = {"code": "NOT_FOUND", "message": "no order 9999 for this account: check the order number (주문번호)"}
    async with Client(server()) as client:
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": "9999"})) == missing
        other = error_of(await client.call_tool_mcp("get_order", {"order_id": "5004"}))
    assert other["code"] == "NOT_FOUND" and "5004" in other["message"]
    async with Client(server(org=OTHER_SHOP)) as client:  # the other shop in the same system sees its own
        assert ok(await client.call_tool_mcp("get_order", {"order_id": "5004"}))["order_id"] == "5004"
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": "5001"}))["code"] == "NOT_FOUND"
    async with Client(server(org="demo")) as client:  # a tenant the mapping does not serve sees nothing
        assert error_of(await client.call_tool_mcp("get_order", {"order_id": "5001"}))["code"] == "NOT_FOUND"
        assert ok(await client.call_tool_mcp("find_orders", {"phone": "010-1234-5678"}))["orders"] == []
    async with Client(server(customer="M-02")) as client:  # a customer-scoped connection
        assert error_of(await client.call_tool_mcp("get_refund_status", {"order_id": "5001"}))["code"] == "NOT_FOUND"
        assert ok(await client.call_tool_mcp("find_orders", {"phone": "010-1234-5678"}))["orders"] == []
        assert ok(await client.call_tool_mcp("get_order", {"order_id": "5003"}))["customer_name_masked"] == "이*희"


async def _shop_refunds(mappings: dict[str, Any], backend: str) -> list[dict[str, Any]]:
    if backend == "sql":
        return await shop_rows(mappings["sql_url"], "SELECT ref, order_id, memo, idem_key FROM refund_requests")
    return [
        {"ref": r["ref"], "order_id": r["orderNo"], "memo": r["memo"], "idem_key": r["key"]}
        for r in mappings["rest_shop"].refunds
    ]


@BACKENDS
async def test_request_refund_writes_once_per_key_into_the_shops_system(
    use_backend, mappings: dict[str, Any], backend: str
) -> None:
    await use_backend(backend)
    key = f"test-{uuid.uuid4()}"
    reason = f"단순 변심 주민번호 {RRN} 연락처 010-2222-3333"
    async with Client(server()) as client:
        before = ok(await client.call_tool_mcp("get_refund_status", {"order_id": "5002"}))
        assert (before["state"], before["refundable"]) == ("none", True)
        args = {"order_id": "5002", "reason": reason, "idempotency_key": key}
        pending = ok(await client.call_tool_mcp("request_refund", args))  # a direct client: asked first
        assert pending["outcome"] == "confirmation_required" and pending["amount_krw"] == 12000
        assert not [r for r in await _shop_refunds(mappings, backend) if str(r["order_id"]) == "5002"]
        confirmation = {"confirmation_id": pending["confirmation"]["confirmation_id"]}
        first = ok(await client.call_tool_mcp("confirm_refund", confirmation))
        again = ok(await client.call_tool_mcp("request_refund", args))
        other_reason = error_of(await client.call_tool_mcp("request_refund", args | {"reason": "다른 이유"}))
        new_key = error_of(await client.call_tool_mcp("request_refund", args | {"idempotency_key": key + "-2"}))
        after = ok(await client.call_tool_mcp("get_refund_status", {"order_id": "5002"}))
        shipped = error_of(
            await client.call_tool_mcp(
                "request_refund", {"order_id": "5003", "reason": "변심", "idempotency_key": key + "-3"}
            )
        )
    assert first["created"] is True and first["amount_krw"] == 12000 and first["state"] == "requested"
    assert again["created"] is False and again["refund_id"] == first["refund_id"]
    assert other_reason["code"] == "CONFLICT" and new_key["code"] == "CONFLICT"
    assert (after["state"], after["refund_id"], after["refundable"]) == ("requested", first["refund_id"], False)
    assert shipped["code"] == "NOT_FOUND" or "on its way" in shipped["message"]
    stored = [r for r in await _shop_refunds(mappings, backend) if str(r["order_id"]) == "5002"]
    assert len(stored) == 1 and stored[0]["idem_key"] == key and stored[0]["ref"] == first["refund_id"]
    assert RRN not in stored[0]["memo"] and "010-2222-3333" not in stored[0]["memo"]
    assert stored[0]["memo"].startswith("단순 변심")
    from core.context import RequestContext
    from servers.order_server.backends import get_backend

    found = await get_backend().refund_by_key(RequestContext(org_id=SHOP), key)  # what a by-key read tool would use
    assert found is not None and (found["refund_id"], found["order_id"]) == (first["refund_id"], "5002")
    assert await get_backend().refund_by_key(RequestContext(org_id=SHOP, customer_ref="M-02"), key) is None
    assert await get_backend().refund_by_key(RequestContext(org_id=OTHER_SHOP), key) is None
    if backend == "rest":
        posts = [h for m, _, h in mappings["rest_shop"].requests if m == "POST"]
        assert [h["idempotency-key"] for h in posts] == [key]  # the retry was answered from refund_by_key


@BACKENDS
async def test_a_status_the_mapping_does_not_translate_is_unavailable(use_backend, backend: str) -> None:
    await use_backend(backend)
    async with Client(server()) as client:
        err = error_of(await client.call_tool_mcp("get_order", {"order_id": "5009"}))
    assert err["code"] == "UNAVAILABLE"
    assert "보류" in err["message"] and "[values.order.status]" in err["message"]


async def test_a_mapping_without_request_refund_is_read_only(use_backend, mappings: dict[str, Any]) -> None:
    text = re.sub(r'request_refund = """.*?"""', "", SQL_MAPPING, flags=re.S)
    assert "INSERT" not in text
    await use_backend(write_mapping(mappings["dir"], "read-only.toml", text))
    async with Client(server()) as client:
        assert ok(await client.call_tool_mcp("get_order", {"order_id": "5001"}))["order_id"] == "5001"
        err = error_of(
            await client.call_tool_mcp(
                "request_refund", {"order_id": "5001", "reason": "변심", "idempotency_key": f"k-{uuid.uuid4()}"}
            )
        )
    assert err["code"] == "UNAVAILABLE" and "read-only" in err["message"] and "human agent" in err["message"]


async def test_a_refused_api_token_is_unavailable_not_a_missing_order(use_backend, mappings: dict[str, Any]) -> None:
    os.environ["SHOP_API_TOKEN"] = "wrong-token"
    try:
        await use_backend("rest")
        async with Client(server()) as client:
            err = error_of(await client.call_tool_mcp("get_order", {"order_id": "5001"}))
    finally:
        os.environ["SHOP_API_TOKEN"] = TOKEN
    assert err["code"] == "UNAVAILABLE" and "credentials" in err["message"]


async def test_an_unreachable_shop_is_unavailable(use_backend, mappings: dict[str, Any]) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/api"
    text = REST_MAPPING.replace("${SHOP_API_URL}", dead)
    await use_backend(write_mapping(mappings["dir"], "dead.toml", text))
    async with Client(server()) as client:
        err = error_of(await client.call_tool_mcp("find_orders", {"phone": "010-1234-5678"}))
    assert err["code"] == "UNAVAILABLE" and "retry" in err["message"]


def test_orders_show_reads_through_the_mapping(mappings: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from typer.testing import CliRunner

    from servers.order_server.cli import app

    monkeypatch.setenv("SWITCHBOARD_ORDERS_BACKEND", str(mappings["sql"]))
    runner = CliRunner()
    as_json = runner.invoke(app, ["show", "5001", "--org", SHOP, "--json"])
    assert as_json.exit_code == 0, as_json.output
    order = json.loads(as_json.stdout)
    assert (order["order_id"], order["status"], order["amounts"]["total_krw"]) == ("5001", "delivered", 58000)
    human = runner.invoke(app, ["show", "5001", "--org", SHOP])
    assert human.exit_code == 0 and "shop-sql.toml" in "".join(human.output.split())
    assert "문 앞 배송 완료" in human.output
    missing = runner.invoke(app, ["show", "5004", "--org", SHOP])
    flat = " ".join(missing.output.split())
    assert missing.exit_code == 2 and "looked in org hanbit, mapping file" in flat


@BACKENDS
async def test_the_offline_planner_answers_unchanged_over_the_backend(
    use_backend, database_url: str, backend: str
) -> None:
    """A scripted call through the host's engine and offline planner, the order tools answering from the
    shop's own system (the real order server; the real tool definitions as the planner sees them).
    The host's records go to a database of this test's own (``database_url``)."""
    from host.engine import AgentProfile, Conversation, EngineSettings
    from host.providers.offline import OfflinePlanner
    from host.store import RecordStore
    from tests.host.fake_tools import QUERY_SCHEMA, FakeToolLayer, make_tool

    await use_backend(backend)
    async with Client(server()) as client:
        listed = {t.name: t for t in await client.list_tools()}
        policies = {"get_order": "confirm", "request_refund": "confirm"}
        tools = [
            make_tool(f"orders_{name}", "orders", name, listed[name].input_schema, policy=policies.get(name, "never"))
            for name in ("get_order", "get_refund_status", "get_shipping_status", "find_orders")
        ] + [make_tool("kb_search", "kb", "search", QUERY_SCHEMA)]

        def call(name: str) -> Any:
            async def _call(args: dict[str, Any]) -> Any:
                from core.errors import SwitchboardError

                result = await client.call_tool_mcp(name, args)
                if result.is_error:
                    body = error_of(result)
                    raise SwitchboardError(body["code"], body["message"])
                return result.structured_content

            return _call

        handlers = {t.exposed_name: call(t.tool_name) for t in tools if t.server_name == "orders"}
        handlers["kb_search"] = lambda a: {"query": a["query"], "results": []}
        layer = FakeToolLayer(tools=tools, handlers=handlers)
        profile = AgentProfile(
            org_id=SHOP,
            agent_slug="cs-agent",
            agent_version=1,
            agent_version_id=f"av-{backend}",
            manifest_sha256="m" * 64,
            provider="offline",
            system_prompt="You help customers of a small shop.",
        )
        planner = OfflinePlanner()
        conv = await Conversation.start(
            profile=profile,
            layer=layer,
            provider=planner,
            store=RecordStore(),
            customer_ref="M-01",
            settings=EngineSettings(),
        )
        try:
            asked = await conv.user_message("환불 진행 상황을 알고 싶습니다")
            assert "주문번호" in asked.answer and not layer.calls
            confirm = await conv.user_message("주문번호는 5001입니다")
            assert confirm.confirm_prompt == "주문번호 5001로 조회해도 될까요?"
            answered = await conv.user_message("네 맞아요")
            await conv.end()
        finally:
            await planner.aclose()
    called = [name for name, _ in layer.calls]
    assert called[:2] == ["orders_get_order", "orders_get_refund_status"]
    assert answered.answer.startswith("주문번호 5001(무선 블루투스 이어폰 외 1건)"), answered.answer
    assert "환불 요청 내역이 없습니다" in answered.answer


async def test_a_failing_query_is_unavailable_and_logged_without_personal_data(
    use_backend, mappings: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    text = SQL_MAPPING.replace("WHERE m.mobile = :phone_dashed", "WHERE m.mobile_no = :phone_dashed")
    await use_backend(write_mapping(mappings["dir"], "typo.toml", text))
    with caplog.at_level("ERROR", logger="servers.order_server.backends.sql"):
        async with Client(server()) as client:
            err = error_of(await client.call_tool_mcp("find_orders", {"phone": "010-1234-5678"}))
    assert err["code"] == "UNAVAILABLE" and "rejected the orders_by_phone query" in err["message"]
    assert "mobile_no" not in err["message"]  # the database's words go to the log, not to the agent
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "mobile_no" in logged and "1234-5678" not in logged


async def test_an_unreachable_database_is_unavailable_and_retryable(
    use_backend, mappings: dict[str, Any], tmp_path: Path
) -> None:
    text = SQL_MAPPING.replace("${SHOP_DB_URL}", f"sqlite:///{tmp_path}/no/such/dir/shop.db")
    await use_backend(write_mapping(mappings["dir"], "gone.toml", text))
    async with Client(server()) as client:
        err = error_of(await client.call_tool_mcp("get_order", {"order_id": "5001"}))
    assert err == {"code": "UNAVAILABLE", "message": "the shop's order database is busy or unreachable: retry shortly"}


async def test_the_tables_backend_finds_a_refund_by_its_key(shop, make_server) -> None:
    from core.context import RequestContext
    from servers.order_server.backends import get_backend
    from tests.servers.orders.support import DEMO

    key = f"test-{uuid.uuid4()}"
    from tests.servers.orders.test_tools import _refundable_order

    async with Client(make_server()) as client:
        refundable = await _refundable_order(client)
        args = {"order_id": refundable, "reason": "단순 변심", "idempotency_key": key}
        pending = ok(await client.call_tool_mcp("request_refund", args))
        confirmation = {"confirmation_id": pending["confirmation"]["confirmation_id"]}
        created = ok(await client.call_tool_mcp("confirm_refund", confirmation))
    row = await get_backend().refund_by_key(RequestContext(org_id=DEMO), key)
    assert row is not None and row["refund_id"] == created["refund_id"] and row["order_id"] == refundable
    assert await get_backend().refund_by_key(RequestContext(org_id=DEMO, customer_ref="C-9999"), key) is None
    assert await get_backend().refund_by_key(RequestContext(org_id="acme"), key) is None


@BACKENDS
async def test_verify_caller_over_the_shops_system(use_backend, backend: str) -> None:
    await use_backend(backend)
    async with Client(server()) as client:
        args = {"phone": "01012345678", "factor_kind": "name", "factor": "김 민수"}
        assert ok(await client.call_tool_mcp("verify_caller", args)) == {
            "verified": True,
            "customer_ref": "M-01",
            "phone_masked": "+82-10-****-5678",
        }
        wrong = {**args, "factor": "박철수"}  # the same number's customer in the other shop
        assert ok(await client.call_tool_mcp("verify_caller", wrong))["verified"] is False
