"""`orders import --upsert` (a corrected export loads again) and `orders show ID` / `orders backend`."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from tests.servers.orders.support import DEMO
from tests.servers.orders.test_cli import call_tool, counts, invoke, row, write_csv

RRN = "900101-1234567"


def test_reimport_is_rejected_without_upsert_and_updates_with_it(database_url: str, tmp_path: Path) -> None:
    first = [row(), row(order_id="900002", customer_ref="C-9002", phone="010-5555-2222")]
    assert invoke("import", str(write_csv(tmp_path / "a.csv", first)), "--org", DEMO, "--json").exit_code == 0
    refund = call_tool(
        "request_refund",
        {"order_id": "900001", "reason": "단순 변심", "idempotency_key": f"k-{uuid.uuid4()}"},
        confirmed=True,
    ).structured_content
    assert refund["created"] is True
    before = counts()

    changed = {"customer_name": "송하늘별", "phone": "010-5555-9999"}
    corrected = [
        row(quantity="3", **changed),  # 900001: more items, the customer's new name and phone
        row(sku="KIM-3K", product_name="포기김치 3kg", option="", quantity="1", unit_price_krw="27900", **changed),
        row(order_id="900003", customer_ref="C-9003", phone="010-5555-3333"),  # a new order
    ]
    path = write_csv(tmp_path / "b.csv", corrected)
    plain = invoke("import", str(path), "--org", DEMO, "--json")
    assert plain.exit_code == 1
    reasons = [r["reason"] for r in json.loads(plain.stdout)["rejected"]]
    assert any("already exists in this tenant: use --upsert" in r for r in reasons)
    assert any("another phone number: use --upsert" in r for r in reasons)
    assert counts() == before  # still all or nothing

    upserted = invoke("import", str(path), "--org", DEMO, "--upsert", "--json")
    assert upserted.exit_code == 0, upserted.output
    report = json.loads(upserted.stdout)
    assert (report["orders"], report["orders_updated"], report["customers_created"], report["customers_updated"]) == (
        2,
        1,
        1,
        1,
    )
    after = counts()
    assert after["ord_order"] == before["ord_order"] + 1  # 900003 only; 900002 is untouched (upsert never deletes)
    assert after["ord_order_item"] == before["ord_order_item"] + 2  # 900001 now has two lines, 900003 one
    assert after["ord_refund"] == before["ord_refund"]  # the refund requested through the tool is kept
    order = call_tool("get_order", {"order_id": "900001"}).structured_content
    assert [i["quantity"] for i in order["items"]] == [3, 1]
    assert order["amounts"]["subtotal_krw"] == 3 * 18900 + 27900
    assert order["customer_name_masked"] == "송**별"
    assert order["refund"]["refund_id"] == refund["refund_id"]
    found = call_tool("find_orders", {"phone": "010-5555-9999"}).structured_content
    assert [o["order_id"] for o in found["orders"]] == ["900001"]
    assert call_tool("find_orders", {"phone": "010-5555-1234"}).structured_content["orders"] == []

    again = invoke("import", str(path), "--org", DEMO, "--upsert")  # idempotent, and the human summary says so
    assert again.exit_code == 0 and "0 new, 2 updated" in again.output
    assert counts() == after


def test_show_prints_the_order_and_json_matches_the_tool(database_url: str) -> None:
    invoke("seed", "--org", DEMO)
    human = invoke("show", "8841", "--org", DEMO)
    assert human.exit_code == 0, human.output
    for text in ("Order 8841", "김*수", "무선 블루투스 이어폰", "Tracking", "built-in tables in"):
        assert text in human.output
    assert "010-1234-5678" not in human.output
    as_json = invoke("show", "8841", "--org", DEMO, "--json")
    assert json.loads(as_json.stdout) == call_tool("get_order", {"order_id": "8841"}).structured_content


def test_show_says_where_it_looked(database_url: str) -> None:
    invoke("seed", "--org", DEMO)
    other = invoke("show", "8841", "--org", "acme")
    assert other.exit_code == 2
    text = " ".join(other.output.split())
    assert "[NOT_FOUND] no order 8841" in text and "looked in org acme, built-in tables in" in text
    for bad in ("88", "8841; DROP TABLE ord_order", RRN, "０８８４１"):
        result = invoke("show", bad, "--org", DEMO)
        assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output, bad
    for org in ("a b; DROP TABLE ord_order", ""):
        result = invoke("show", "8841", "--org", org)
        assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output, org
    other_customer = invoke("show", "8841", "--org", DEMO, "--customer", "C-1002")
    assert other_customer.exit_code == 2 and "NOT_FOUND" in other_customer.output


def test_show_on_an_empty_home_creates_no_database(tmp_path: Path, monkeypatch) -> None:
    from core.settings import reload_settings

    home = tmp_path / "empty-home"
    monkeypatch.setenv("SWITCHBOARD_HOME", str(home))
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("SWITCHBOARD_ORDERS_BACKEND", raising=False)
    reload_settings()
    try:
        result = invoke("show", "8841", "--org", DEMO)
    finally:
        monkeypatch.undo()
        reload_settings()
    assert result.exit_code == 2
    assert f"no order database at {home / 'switchboard.db'}".replace(" ", "") in "".join(result.output.split())
    assert not home.exists()


def test_backend_check_reports_the_tables_and_a_mapping(tmp_path: Path, monkeypatch) -> None:
    from tests.servers.orders.shop import REST_MAPPING

    monkeypatch.delenv("SWITCHBOARD_ORDERS_BACKEND", raising=False)
    tables = json.loads(invoke("backend", "--json").stdout)
    assert tables["backend"] == "tables" and tables["writes"] is True
    monkeypatch.setenv("SHOP_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("SHOP_API_TOKEN", "t")
    path = tmp_path / "shop.toml"
    path.write_text(REST_MAPPING, encoding="utf-8")
    monkeypatch.setenv("SWITCHBOARD_ORDERS_BACKEND", str(path))
    rest = json.loads(invoke("backend", "--json").stdout)
    assert rest["backend"] == "rest" and rest["orgs"] == ["hanbit", "dure"] and rest["writes"] is True
    assert "request_refund" in rest["row_sets"]
    path.write_text(REST_MAPPING.replace('kind = "rest"', 'kind = "graphql"'), encoding="utf-8")
    broken = invoke("backend")
    assert broken.exit_code == 2 and "INVALID_ARGUMENT" in broken.output and "kind" in broken.output


def test_list_shows_a_tenants_orders_newest_first_with_names_masked(database_url: str) -> None:
    """A newcomer walk: no command listed the demo's orders, so nobody knew which numbers to try."""
    invoke("seed", "--org", DEMO)
    mine = json.loads(invoke("list", "--org", DEMO, "--customer", "C-1001", "--json").stdout)["orders"]
    assert {o["order_id"] for o in mine} >= {"8841"} and {o["customer_ref"] for o in mine} == {"C-1001"}
    assert [o["ordered_at"] for o in mine] == sorted((o["ordered_at"] for o in mine), reverse=True)
    story = next(o for o in mine if o["order_id"] == "8841")
    tool = call_tool("get_order", {"order_id": "8841"}).structured_content
    assert story["first_item"] == tool["items"][0]["name"] and story["items"] == len(tool["items"])
    assert story["total_krw"] == tool["amounts"]["total_krw"] and story["customer_name_masked"] == "김*수"
    delivered = json.loads(invoke("list", "--org", DEMO, "--status", "delivered", "--limit", "3", "--json").stdout)
    assert len(delivered["orders"]) == 3 and {o["status"] for o in delivered["orders"]} == {"delivered"}
    human = invoke("list", "--org", DEMO, "--customer", "C-1001")
    assert human.exit_code == 0 and "8841" in human.output and "김*수" in human.output
    assert "김민수" not in human.output and "010-1234-5678" not in human.output
    for bad in (["--status", "lost"], ["--limit", "0"], ["--customer", "900101-1234567"], ["--org", "a b"]):
        result = invoke("list", "--org", DEMO, *bad)
        assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output, bad
    typo = invoke("list", "--org", "acme")  # a typo'd org: empty, and the orgs that have orders are named
    assert typo.exit_code == 0 and "no orders in org acme" in typo.output
    assert f"orgs that have some: {DEMO}" in " ".join(typo.output.split())
