"""Mapping files are checked when the server starts: every mistake names the file, the setting
and what to write, with the stable code INVALID_ARGUMENT, and nothing is served."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from tests.servers.orders.shop import REST_MAPPING, SQL_MAPPING
from tests.servers.orders.support import ROOT

pytestmark = pytest.mark.timeout(60)

SQL = """
kind = "sql"
orgs = ["hanbit"]

[sql]
url = "sqlite:///shop.db"

[sql.queries]
order = "SELECT 1 AS order_id FROM orders WHERE id = :order_id"
items = "SELECT 1 FROM order_lines WHERE order_id = :order_id"
orders_by_phone = "SELECT 1 FROM orders WHERE mobile = :phone_local"
"""

CASES = {
    "not toml": ("kind = sql\n[", "is not valid TOML"),
    "unknown kind": (
        SQL.replace('kind = "sql"', 'kind = "mongo"'),
        "kind: 'mongo' is not a backend: write kind = \"sql\"",
    ),
    "no orgs": (SQL.replace('orgs = ["hanbit"]\n', ""), "orgs: list the tenants"),
    "injected org": (SQL.replace('["hanbit"]', '["hanbit\'; DROP TABLE orders;--"]'), "orgs: list the tenants"),
    "typo at the top": ("qureies = 1\n" + SQL, "qureies: unknown setting"),
    "missing row set": (SQL.replace("orders_by_phone =", "orders_by_fone ="), "orders_by_fone: unknown row set"),
    "required row set": (
        SQL.replace('items = "SELECT 1 FROM order_lines WHERE order_id = :order_id"\n', ""),
        "items: required",
    ),
    "unknown parameter": (
        SQL.replace(":phone_local", ":customer_id"),
        "sql.queries.orders_by_phone: unknown parameter :customer_id",
    ),
    "write without key lookup": (
        SQL + 'request_refund = "INSERT INTO r VALUES (:order_id)"\n',
        "request_refund needs refund_by_key",
    ),
    "unset secret": (
        SQL.replace("sqlite:///shop.db", "postgresql://shop:${NOPE_SHOP_PASSWORD}@db/shop"),
        "environment variable NOPE_SHOP_PASSWORD is not set",
    ),
    "bad url": (SQL.replace("sqlite:///shop.db", "shop database please"), "sql.url: not a SQLAlchemy URL"),
    "bad param type": (
        SQL.replace("[sql.queries]", 'param_types = { order_id = "bigint" }\n\n[sql.queries]'),
        "sql.param_types",
    ),
    "bad timezone": (
        SQL.replace('orgs = ["hanbit"]', 'orgs = ["hanbit"]\ntimezone = "Mars/Olympus"'),
        "timezone: 'Mars/Olympus' is not a time zone",
    ),
    "value not ours": (
        SQL + '\n[values.order.status]\n"결제완료" = "PAID"\n',
        "values.order.status: PAID not allowed: use pending_payment",
    ),
    "value table unknown": (
        SQL + '\n[values.order.colour]\nred = "paid"\n',
        "values.order.colour: no such value table",
    ),
    "rest field missing": (
        REST_MAPPING.replace('customer_ref = "member.no"\n', "", 1),
        "rest.order.fields: missing required column customer_ref",
    ),
    "rest unknown column": (
        REST_MAPPING.replace('order_id = "orderNo"', 'order_no = "orderNo"', 1),
        "rest.order.fields: unknown column order_no",
    ),
    "rest unknown placeholder": (
        REST_MAPPING.replace('"/orders/{order_id}"', '"/orders/{member_id}"', 1),
        "unknown placeholder {member_id}",
    ),
    "rest base url": (REST_MAPPING.replace('"${SHOP_API_URL}"', '"ftp://shop"'), "rest.base_url: give the API root"),
}


@pytest.fixture(autouse=True)
def _shop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHOP_DB_URL", "sqlite:///shop.db")
    monkeypatch.setenv("SHOP_API_URL", "http://127.0.0.1:9/api")
    monkeypatch.setenv("SHOP_API_TOKEN", "t")
    monkeypatch.delenv("NOPE_SHOP_PASSWORD", raising=False)


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_broken_mapping_is_refused_with_what_to_fix(tmp_path: Path, case: str) -> None:
    from servers.order_server.backends import open_backend

    text, expected = CASES[case]
    path = tmp_path / "shop.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SwitchboardError) as caught:
        open_backend(str(path))
    assert caught.value.code.value == "INVALID_ARGUMENT"
    assert str(path) in caught.value.message
    assert expected in caught.value.message, caught.value.message


@pytest.mark.parametrize("text", [SQL, SQL_MAPPING, REST_MAPPING])
def test_the_documented_shapes_are_accepted(tmp_path: Path, text: str) -> None:
    from servers.order_server.backends import open_backend

    path = tmp_path / "shop.toml"
    path.write_text(text, encoding="utf-8")
    assert open_backend(str(path)).name in ("sql", "rest")


def test_a_missing_mapping_file_is_named(tmp_path: Path) -> None:
    from servers.order_server.backends import open_backend

    with pytest.raises(SwitchboardError) as caught:
        open_backend(str(tmp_path / "nope.toml"))
    assert "nope.toml does not exist: check SWITCHBOARD_ORDERS_BACKEND" in caught.value.message


def test_the_docs_example_mapping_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """docs/orders.md's complete example parses and passes every check."""
    from servers.order_server.backends import open_backend

    doc = (ROOT / "docs" / "orders.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in doc.split("```toml\n")[1:]]
    assert len(blocks) >= 2
    for number, block in enumerate(blocks):
        path = tmp_path / f"doc{number}.toml"
        path.write_text(block, encoding="utf-8")
        monkeypatch.setenv("SWITCHBOARD_SHOP_DB_PASSWORD", "x")
        monkeypatch.setenv("SWITCHBOARD_SHOP_API_TOKEN", "x")
        assert open_backend(str(path)).name in ("sql", "rest")


def test_serve_refuses_to_start_on_a_broken_mapping(tmp_path: Path) -> None:
    path = tmp_path / "shop.toml"
    path.write_text(CASES["unknown parameter"][0], encoding="utf-8")
    env = os.environ | {"SWITCHBOARD_ORDERS_BACKEND": str(path), "SWITCHBOARD_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [str(ROOT / ".venv/bin/switchboard"), "serve", "orders", "--org", "hanbit"],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    output = " ".join((done.stdout + done.stderr).split())
    assert "[INVALID_ARGUMENT]" in output and "unknown parameter :customer_id" in output
