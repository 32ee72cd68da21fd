"""`switchboard orders import` refuses a customer_ref that is personal data, as every other entry
point does (core.context.customer_ref_problem): an e-mail address or phone number as the reference
would be stored raw (references are kept verbatim), so the row is rejected and nothing is loaded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from servers.order_server.importer import validate
from tests.servers.orders.support import DEMO
from tests.servers.orders.test_cli import counts, invoke, row, write_csv

HEADER = (
    "order_id,ordered_at,customer_ref,customer_name,phone,status,sku,product_name,quantity,unit_price_krw,"
    "payment_method"
)
PERSONAL = "looks like personal data"


@pytest.mark.parametrize(
    "ref",
    ["kim@example.com", "010-1111-2222", "01011112222", "900101-1234567", "4111-1111-1111-1111", "110-123-456789"],
)
def test_a_personal_customer_ref_is_a_rejected_row(ref: str) -> None:
    good = row(order_id="900001", customer_ref="C-9001")
    bad = row(order_id="900002", customer_ref=ref, phone="010-1111-2222")
    bundles, rejected = validate([good, bad])
    assert [b.order_id for b in bundles] == ["900001"]
    assert [(r.line, r.order_id) for r in rejected] == [(3, "900002")]
    assert PERSONAL in rejected[0].reason and rejected[0].reason.startswith("customer_ref ")
    assert ref not in rejected[0].reason  # the report does not repeat the value


@pytest.mark.parametrize("ref", ["C-1001", "cust_000123", "M20260001", "kakao:3012345678"])
def test_opaque_customer_refs_still_load(ref: str) -> None:
    bundles, rejected = validate([row(customer_ref=ref)])
    assert rejected == [] and bundles[0].customer.customer_ref == ref


def test_import_writes_nothing_for_an_e_mail_customer_ref(database_url: str, tmp_path: Path) -> None:
    invoke("seed", "--org", DEMO)
    before = counts()
    path = tmp_path / "walk.csv"
    path.write_text(
        f"{HEADER}\n"
        "9003,2026-11-20,kim@example.com,홍길동,010-1111-2222,paid,S1,P,1,1000,card\n"
        "9004,2026-11-20,010-1111-2222,홍길동,010-1111-2222,paid,S1,P,1,1000,card\n",
        encoding="utf-8",
    )
    result = invoke("import", str(path), "--org", DEMO, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["loaded"] is False
    assert [(r["line"], r["order_id"]) for r in report["rejected"]] == [(2, "9003"), (3, "9004")]
    assert all(PERSONAL in r["reason"] for r in report["rejected"])
    assert "kim@example.com" not in result.stdout
    assert counts() == before

    dry = invoke("import", str(path), "--org", DEMO, "--dry-run", "--json")
    assert dry.exit_code == 1 and counts() == before
    clean = write_csv(tmp_path / "clean.csv", [row(order_id="9003", customer_ref="C-9003", phone="010-1111-2222")])
    loaded = invoke("import", str(clean), "--org", DEMO, "--json")
    assert loaded.exit_code == 0, loaded.output
    assert json.loads(loaded.stdout)["loaded"] is True
