"""`switchboard orders import` masks personal data in every free-text column before it is stored
(customer_name, product_name, option, ship_region), as everything else Switchboard stores is
(docs/orders.md); ids, amounts, dates and the phone (stored as an HMAC key and a masked copy)
are kept as they are."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from sqlalchemy import select

from servers.order_server.importer import validate
from tests.servers.orders.support import DEMO
from tests.servers.orders.test_cli import invoke, row, write_csv

PERSONAL = {
    "customer_name": "홍길동 900101-1234567",
    "product_name": "텀블러 카드 4111 1111 1111 1111",
    "option": "주민 900101-1234567 메일 a.b@example.com",
    "ship_region": "서울 계좌 110-123-456789 010-1234-5678",
}
RAW = ("900101", "1234567", "4111 1111", "a.b@", "110-123", "123-456789", "1234-5678")


def _leaks(text: str) -> list[str]:
    return [value for value in RAW if value in text]


def test_validate_masks_every_free_text_column() -> None:
    bundles, rejected = validate([row(order_id="900001", **PERSONAL)])
    assert rejected == []
    bundle = bundles[0]
    item = bundle.items[0]
    assert bundle.customer.name == "홍길동 ******-*******"
    assert item.product_name == "텀블러 카드 ****-****-****-1111"
    assert (
        item.option_text is not None and "******-*******" in item.option_text and "a***@example.com" in item.option_text
    )
    assert "010-****-5678" in bundle.ship_region and "**6789" in bundle.ship_region
    stored = json.dumps(
        [bundle.customer.name, bundle.recipient_masked, bundle.ship_region, item.product_name, item.option_text],
        ensure_ascii=False,
    )
    assert _leaks(stored) == []
    # what is not free text stays as given
    assert (bundle.order_id, bundle.customer.customer_ref, item.sku, item.quantity, item.unit_price_krw) == (
        "900001",
        "C-9001",
        "TMB-500",
        2,
        18900,
    )
    assert bundle.customer.phone_e164 == "+821055551234"


def test_plain_text_is_unchanged() -> None:
    bundles, rejected = validate([row()])
    assert rejected == []
    b = bundles[0]
    assert (b.customer.name, b.items[0].product_name, b.items[0].option_text, b.ship_region) == (
        "송하늘",
        "스테인리스 텀블러 500ml",
        "민트",
        "서울특별시 송파구",
    )


def test_two_lines_of_one_order_with_the_same_personal_name_still_agree() -> None:
    lines = [row(order_id="900001", **PERSONAL), row(order_id="900001", sku="CUP-1", **PERSONAL)]
    bundles, rejected = validate(lines)
    assert rejected == [] and len(bundles[0].items) == 2


async def _stored() -> str:
    from core.db import dispose_engines, get_engine
    from servers.order_server.tables import customer, order, order_item

    try:
        engine = await get_engine()
        async with engine.connect() as conn:
            parts = []
            for table in (customer, order, order_item):
                for r in (await conn.execute(select(table))).mappings():
                    parts.extend(str(v) for v in r.values())
            return "\n".join(parts)
    finally:
        await dispose_engines()


def test_import_stores_and_shows_masked_free_text(database_url: str, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "walk.csv", [row(order_id="900001", **PERSONAL)])
    result = invoke("import", str(path), "--org", DEMO, "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["loaded"] is True
    stored = asyncio.run(_stored())
    assert "홍길동 ******-*******" in stored and "텀블러 카드 ****-****-****-1111" in stored
    assert _leaks(stored) == []
    for args in (("show", "900001", "--org", DEMO), ("show", "900001", "--org", DEMO, "--json")):
        shown = invoke(*args)
        assert shown.exit_code == 0, shown.output
        assert "텀블러" in shown.output and _leaks(shown.output) == [], shown.output
    # --upsert writes the file's values again: masked too
    again = invoke("import", str(path), "--org", DEMO, "--upsert", "--json")
    assert again.exit_code == 0, again.output
    assert _leaks(asyncio.run(_stored())) == []
