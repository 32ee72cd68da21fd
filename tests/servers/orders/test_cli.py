"""`switchboard orders seed` and `switchboard orders import`: idempotent seeding, all-or-nothing import."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from servers.order_server.cli import app
from tests.servers.orders.support import DEMO, row_counts

runner = CliRunner()
HEADER = [
    "order_id",
    "ordered_at",
    "customer_ref",
    "customer_name",
    "phone",
    "status",
    "sku",
    "product_name",
    "option",
    "quantity",
    "unit_price_krw",
    "shipping_fee_krw",
    "discount_krw",
    "payment_method",
    "ship_region",
    "carrier",
    "tracking_number",
    "shipped_at",
    "delivered_at",
]


def row(**values: str) -> dict[str, str]:
    base = {
        "order_id": "900001",
        "ordered_at": "2026-01-20T10:00:00",
        "customer_ref": "C-9001",
        "customer_name": "송하늘",
        "phone": "010-5555-1234",
        "status": "paid",
        "sku": "TMB-500",
        "product_name": "스테인리스 텀블러 500ml",
        "option": "민트",
        "quantity": "2",
        "unit_price_krw": "18900",
        "shipping_fee_krw": "3000",
        "discount_krw": "0",
        "payment_method": "card",
        "ship_region": "서울특별시 송파구",
        "carrier": "",
        "tracking_number": "",
        "shipped_at": "",
        "delivered_at": "",
    }
    return base | values


def write_csv(path: Path, rows: list[dict[str, str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return path


def counts() -> dict[str, int]:
    async def _go() -> dict[str, int]:
        from core.db import dispose_engines
        from servers.order_server.store import close_readers

        try:
            return await row_counts()
        finally:
            await dispose_engines()
            close_readers()

    return asyncio.run(_go())


def invoke(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def call_tool(tool: str, args: dict[str, Any], org: str = DEMO, *, confirmed: bool = False) -> Any:
    """Call a tool in process; ``confirmed``: as the trusted host after its customer said yes."""

    async def _go() -> Any:
        from fastmcp import Client

        from core.db import dispose_engines
        from servers.kit import ServerLaunch
        from servers.order_server.app import build_server
        from servers.order_server.confirmation import host_meta

        meta = host_meta(args) if confirmed else None
        try:
            async with Client(build_server(launch=ServerLaunch(org_id=org, trust_meta=confirmed), hooks=[])) as client:
                return await client.call_tool_mcp(tool, args, meta=meta)
        finally:
            await dispose_engines()

    return asyncio.run(_go())


def test_seed_is_idempotent(database_url: str) -> None:
    first = invoke("seed", "--org", DEMO, "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["orders_created"] == 40 and report["customers_created"] == 12
    after_first = counts()
    second = invoke("seed", "--org", DEMO, "--json")
    assert json.loads(second.stdout) | {"anchor": None} == {
        "org_id": DEMO,
        "anchor": None,
        "customers_created": 0,
        "orders_created": 0,
        "orders_present": 40,
    }
    assert counts() == after_first
    human = invoke("seed", "--org", DEMO)
    assert human.exit_code == 0 and "40 orders already present" in human.output
    other = invoke("seed", "--org", "other-shop", "--anchor", "2026-01-22", "--json")
    assert json.loads(other.stdout)["orders_created"] == 40  # tenants are separate
    assert counts()["ord_order"] == 80


def test_seed_refuses_bad_input(database_url: str) -> None:
    bad_org = invoke("seed", "--org", "no spaces allowed")
    assert bad_org.exit_code == 2 and "INVALID_ARGUMENT" in bad_org.output
    bad_date = invoke("seed", "--org", DEMO, "--anchor", "22/01/2026")
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.output
    assert counts()["ord_order"] == 0


def test_import_loads_orders_with_lines_and_shipments(database_url: str, tmp_path: Path) -> None:
    invoke("seed", "--org", DEMO)
    before = counts()
    rows = [
        row(),
        row(sku="KIM-3K", product_name="포기김치 3kg", option="", quantity="1", unit_price_krw="27900"),
        row(
            order_id="900002",
            customer_ref="C-1001",  # an existing customer, same phone
            customer_name="김민수",
            phone="+82 10 1234 5678",
            status="delivered",
            ordered_at="2026-01-10T09:00:00+09:00",
            carrier="한진택배",
            tracking_number="412345678901",
            shipped_at="2026-01-11T09:00:00+09:00",
            delivered_at="2026-01-12T15:30:00+09:00",
            discount_krw="1000",
        ),
    ]
    result = invoke("import", str(write_csv(tmp_path / "orders.csv", rows)), "--org", DEMO, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["loaded"] is True and report["orders"] == 2 and report["rows"] == 3
    assert report["customers_created"] == 1 and report["rejected"] == []
    after = counts()
    assert after["ord_order"] == before["ord_order"] + 2
    assert after["ord_order_item"] == before["ord_order_item"] + 3
    assert after["ord_customer"] == before["ord_customer"] + 1
    assert after["ord_shipment"] == before["ord_shipment"] + 1

    order = call_tool("get_order", {"order_id": "900001"}).structured_content
    assert order["amounts"]["subtotal_krw"] == 2 * 18900 + 27900
    assert order["amounts"]["total_krw"] == 2 * 18900 + 27900 + 3000
    assert order["ordered_at"] == "2026-01-20T10:00:00+09:00"  # no offset → Korea time
    assert order["customer_name_masked"] == "송*늘"
    shipping = call_tool("get_shipping_status", {"order_id": "900002"}).structured_content
    assert shipping["carrier_code"] == "hanjin" and shipping["status"] == "delivered"
    found = call_tool("find_orders", {"phone": "010-1234-5678"}).structured_content
    assert "900002" in [o["order_id"] for o in found["orders"]]


def test_import_is_all_or_nothing_and_lists_every_rejected_row(database_url: str, tmp_path: Path) -> None:
    invoke("seed", "--org", DEMO)
    before = counts()
    rows = [
        row(),  # line 2: fine on its own
        row(order_id="0123"),  # 3
        row(order_id="900003", phone="02-123-4567"),  # 4
        row(order_id="900004", unit_price_krw="18900.5"),  # 5
        row(order_id="900005", status="lost"),  # 6
        row(
            order_id="900006", status="delivered", carrier="cj", tracking_number="123456789012", shipped_at="2026-01-21"
        ),  # 7
        row(order_id="900007", quantity="2", shipping_fee_krw="0"),  # 8
        row(order_id="900007", quantity="1", shipping_fee_krw="3000"),  # 9: order-level mismatch
        row(order_id="8841"),  # 10: exists already
        row(order_id="900008", customer_ref="C-1001", customer_name="김민수", phone="010-9999-0000"),  # 11
        row(order_id="900009", payment_method="cash"),  # 12
        row(order_id="900010", discount_krw="999999"),  # 13
        row(order_id="900011", customer_name="\x07"),  # 14
        row(order_id="900012", unit_price_krw="12,000"),  # 15: as a spreadsheet shows it
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    result = invoke("import", str(path), "--org", DEMO, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["loaded"] is False
    reasons = {r["line"]: r["reason"] for r in report["rejected"]}
    assert 2 not in reasons
    assert "leading zero" in reasons[3]
    assert "Korean mobile" in reasons[4]
    assert "whole number" in reasons[5]
    assert "status 'lost' is not one of" in reasons[6]
    assert "delivered_at" in reasons[7]
    assert "order-level columns differ" in reasons[8] or "order-level columns differ" in reasons[9]
    assert "already exists" in reasons[10]
    assert "another phone" in reasons[11]
    assert "payment_method" in reasons[12]
    assert "discount" in reasons[13]
    assert "control characters" in reasons[14]
    assert "without thousands separators: '12,000' → 12000" in reasons[15]
    assert counts() == before

    human = invoke("import", str(path), "--org", DEMO)
    assert human.exit_code == 1 and "nothing loaded" in human.output and "Rejected rows" in human.output


def test_import_reads_cp949_and_dry_run_loads_nothing(database_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "excel.csv", [row(customer_name="한글이름", product_name="유기농 현미 10kg")], "cp949")
    dry = invoke("import", str(path), "--org", DEMO, "--dry-run", "--json")
    assert dry.exit_code == 0 and json.loads(dry.stdout)["loaded"] is False
    assert counts()["ord_order"] == 0
    typo = invoke("import", str(path), "--org", DEMO, "--encoding", "utf9")  # no such encoding: said so
    assert typo.exit_code == 2 and "--encoding 'utf9' is not a text encoding" in " ".join(typo.output.split())
    real = invoke("import", str(path), "--org", DEMO, "--json")
    assert json.loads(real.stdout)["loaded"] is True
    assert call_tool("get_order", {"order_id": "900001"}).structured_content["items"][0]["name"] == "유기농 현미 10kg"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"order_id,phone\n8841,010\n", "lacks"),
        (b"\xff\xfe\x00\x00garbage", "not"),
        (b'order_id,"unterminated\n', "CSV"),
        # a walk: a header and no rows said "nothing loaded" and exited 0
        (
            b"order_id,ordered_at,customer_ref,customer_name,phone,status,sku,product_name,quantity,"
            b"unit_price_krw,payment_method\n",
            "no rows",
        ),
        # a walk: a second phone column silently replaced the first's cell
        (
            b"order_id,ordered_at,customer_ref,customer_name,phone,status,sku,product_name,quantity,"
            b"unit_price_krw,payment_method,phone\n"
            b"910060,2026-11-20,C-9001,Song,010-2222-3333,paid,S1,P,1,1000,card,010-9999-9999\n",
            "names the column 'phone' twice",
        ),
        # a cell over csv's limit said only "field larger than field limit (131072)", no line
        (
            b"order_id,ordered_at,customer_ref,customer_name,phone,status,sku,product_name,quantity,"
            b"unit_price_krw,payment_method\n910061,2026-11-20,C-9001,Song,010-2222-3333,paid,S1,P,1,1000,card\n"
            b'910062,2026-11-20,C-9001,Song,010-2222-3333,paid,S1,"' + b"x" * 200_000 + b'",1,1000,card\n',
            "broken.csv:3: a cell is longer than 131,072",
        ),
    ],
)
def test_unreadable_files_exit_2_with_a_hint(database_url: str, tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "broken.csv"
    path.write_bytes(content)
    result = invoke("import", str(path), "--org", DEMO)
    assert result.exit_code == 2 and message in " ".join(result.output.split()), result.output
    assert counts()["ord_order"] == 0


def test_import_in_batches_with_progress(database_url: str, tmp_path: Path) -> None:
    rows = [
        row(order_id=str(910000 + n), customer_ref=f"B-{n % 50}", phone=f"010-7000-{n % 50:04d}") for n in range(1200)
    ]
    result = invoke("import", str(write_csv(tmp_path / "big.csv", rows)), "--org", DEMO, "--json")
    assert result.exit_code == 0, result.output[-500:]
    assert json.loads(result.stdout)["orders"] == 1200
    assert counts()["ord_order"] == 1200


def test_an_erased_customer_is_not_written_back_by_an_import(database_url: str, tmp_path: Path) -> None:
    """After `customer erase`, the shop's next export still holds the customer: an import (plain
    or --upsert) rejects their rows instead of writing the name and phone back."""
    from servers.order_server.erase import pseudonymise_customer

    invoke("seed", "--org", DEMO)

    async def _erase() -> None:
        from core.db import dispose_engines

        try:
            await pseudonymise_customer(DEMO, "C-1001")
        finally:
            await dispose_engines()

    asyncio.run(_erase())
    listed = invoke("list", "--org", DEMO, "--customer", "C-1001")  # a walk: Rich read "[erased]" as markup
    assert listed.exit_code == 0 and "[erased]" in listed.output, listed.output
    comeback = row(order_id="900010", customer_ref="C-1001", customer_name="김민수", phone="010-1234-5678")
    path = write_csv(tmp_path / "nightly.csv", [row(), comeback])
    before = counts()
    for extra in ([], ["--upsert"]):
        result = invoke("import", str(path), "--org", DEMO, "--json", *extra)
        assert result.exit_code == 1, result.output
        rejected = json.loads(result.stdout)["rejected"]
        assert [r["line"] for r in rejected] == [3] and "was erased" in rejected[0]["reason"], rejected
        assert counts() == before  # all or nothing: the good line 2 is not loaded either
    found = call_tool("find_orders", {"phone": "010-1234-5678"})
    assert json.loads(found.content[0].text)["orders"] == []
    # the same person coming back under a new reference is a new customer
    path = write_csv(tmp_path / "new.csv", [row(), comeback | {"customer_ref": "C-1001-2"}])
    assert invoke("import", str(path), "--org", DEMO).exit_code == 0
