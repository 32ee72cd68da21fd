"""`switchboard customer erase` and the order store, and what it does with a mistyped org or customer.

- after an erase of the demo shop's 김민수 (C-1001) no order table holds their name or phone in any
  form; the orders stay (business records), pseudonymised; the report has an ``orders`` section;
- a rerun succeeds, changes nothing and says the customer was already erased;
- a mistyped org (``dem0``) fails with NOT_FOUND, exit 2, and writes nothing (no audit chain);
- a mistyped customer (``C-10O1``) fails the same way unless ``--allow-missing`` is given.

SQLite and PostgreSQL (the database fixtures); on SQLite the database files are scanned too.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from switchboard_cli import build_app

ORG, CUSTOMER = "demo", "C-1001"
# 김민수 in every form the order tables hold: name, masked name, phone (E.164, national, masked), district
NEEDLES = ("김민수", "김*수", "1012345678", "1234-5678", "****-5678", "강남")
FILE_NEEDLES = ("김민수".encode(), b"+821012345678", b"+82-10-****-5678", "김*수".encode())

runner = CliRunner()
app = build_app("customer")


@pytest.fixture
def shop(database_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo shop's orders in "demo" (nothing else: no memories, conversations or audit)."""
    monkeypatch.setenv("SWITCHBOARD_MEMORY_VECTORS", "off")
    monkeypatch.setenv("COLUMNS", "200")

    async def _go() -> None:
        from servers.order_server.seed import seed

        await seed(ORG)

    _sync(_go)
    return database_url


def _sync(factory: Any) -> Any:
    async def _go() -> Any:
        from core.db import dispose_engines
        from servers.order_server.store import close_readers

        try:
            return await factory()
        finally:
            await dispose_engines()
            close_readers()

    return asyncio.run(_go())


def erase(*args: str) -> Any:
    return runner.invoke(app, ["customer", "erase", *args], catch_exceptions=False)


def order_hits() -> list[str]:
    """``table.column`` of every value of every ord_* table (every tenant) that holds a NEEDLE."""

    async def _go() -> list[str]:
        from core.db import get_engine
        from servers.order_server.tables import ALL_TABLES

        out = []
        async with (await get_engine()).connect() as conn:
            for table in ALL_TABLES:
                for row in (await conn.execute(select(table))).mappings():
                    out += [f"{table.name}.{k}={v!r}" for k, v in row.items() if any(n in str(v) for n in NEEDLES)]
        return out

    return _sync(_go)


def audit_state(org_id: str) -> dict[str, int]:
    """Audit records and chain heads of ``org_id``, and memory erasure rows (what an erase writes)."""

    async def _go() -> dict[str, int]:
        from audit.schema import audit_chain_head, audit_event
        from core.db import get_engine
        from servers.memory_server.tables import memory_erasure

        async with (await get_engine()).connect() as conn:
            return {
                table.name: (
                    await conn.execute(select(func.count()).select_from(table).where(table.c.org_id == org_id))
                ).scalar_one()
                for table in (audit_event, audit_chain_head, memory_erasure)
            }

    return _sync(_go)


def _json_error(result: Any) -> None:
    """With --json a failure leaves stdout empty or holding one JSON error object (never a report)."""
    if result.stdout.strip():
        assert json.loads(result.stdout)["error"]["code"] == "NOT_FOUND"


def _text(result: Any) -> str:
    return " ".join(result.output.split())


def file_hits() -> list[str]:
    """``file:needle`` for every file under SWITCHBOARD_HOME holding 김민수's name or phone bytes."""
    home = Path(os.environ["SWITCHBOARD_HOME"])
    return [
        f"{path.name}:{needle.decode()}"
        for path in home.rglob("*")
        if path.is_file()
        for needle in FILE_NEEDLES
        if needle in path.read_bytes()
    ]


def test_erase_reaches_the_order_tables_and_a_rerun_says_already_erased(shop: str) -> None:
    assert order_hits()
    assert file_hits() or not shop.startswith("sqlite")
    first = erase("--org", ORG, "--customer", CUSTOMER, "--yes", "--json")
    assert first.exit_code == 0, first.output
    report = json.loads(first.stdout)
    assert report["orders"]["customers_pseudonymised"] == 1 and report["orders"]["orders_kept"] == 4
    assert report["orders"]["fields_cleared"] >= 3 + 2 * 4
    assert report["lookup"]["found_in"] == ["orders"] and report["lookup"]["already_erased"] is False
    assert order_hits() == []
    assert audit_state(ORG)["audit_event"] == 1  # the tombstone, the last step
    if shop.startswith("sqlite"):  # the old values are gone from the files too (secure_delete, WAL truncated)
        assert file_hits() == []

    again = erase("--org", ORG, "--customer", CUSTOMER, "--yes", "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["lookup"]["already_erased"] is True and second["lookup"]["earlier_erasures"] == 1
    assert second["orders"]["customers_pseudonymised"] == 0 and second["orders"]["fields_cleared"] == 0
    assert second["orders"]["customers_already_pseudonymised"] == 1 and second["orders"]["orders_kept"] == 4
    assert second["audit"]["key_destroyed"] is False

    shown = erase("--org", ORG, "--customer", CUSTOMER, "--yes")
    assert shown.exit_code == 0, shown.output
    text = _text(shown)
    assert "already erased" in text and "4 orders kept" in text and "already pseudonymised" in text
    assert order_hits() == []


def test_the_report_table_has_an_orders_row(shop: str) -> None:
    shown = erase("--org", ORG, "--customer", CUSTOMER, "--yes")
    assert shown.exit_code == 0, shown.output
    text = _text(shown)
    assert "orders" in text and "1 customer pseudonymised" in text and "4 orders kept" in text
    assert "fields cleared" in text and "already erased" not in text


@pytest.mark.parametrize("extra", [(), ("--json",), ("--allow-missing",)])
def test_a_mistyped_org_fails_and_writes_nothing(shop: str, extra: tuple[str, ...]) -> None:
    result = erase("--org", "dem0", "--customer", CUSTOMER, "--yes", *extra)
    assert result.exit_code == 2
    text = _text(result)
    assert "NOT_FOUND" in text and "dem0" in text and "--org" in text
    assert "✓" not in result.output
    if "--json" in extra:
        _json_error(result)
    assert audit_state("dem0") == {"audit_event": 0, "audit_chain_head": 0, "memory_erasure": 0}
    assert audit_state(ORG)["audit_event"] == 0
    keys = Path(os.environ["SWITCHBOARD_HOME"]) / "keys"
    assert not [p for p in keys.rglob("*") if "dem0" in str(p)] if keys.exists() else True


def test_a_mistyped_customer_fails_unless_missing_is_allowed(shop: str) -> None:
    for extra in ((), ("--json",)):
        result = erase("--org", ORG, "--customer", "C-10O1", "--yes", *extra)
        assert result.exit_code == 2 and "NOT_FOUND" in _text(result) and "C-10O1" in _text(result)
        if extra:
            _json_error(result)
    assert audit_state(ORG) == {"audit_event": 0, "audit_chain_head": 0, "memory_erasure": 0}

    allowed = erase("--org", ORG, "--customer", "C-10O1", "--yes", "--json", "--allow-missing")
    assert allowed.exit_code == 0, allowed.output
    report = json.loads(allowed.stdout)
    assert report["lookup"]["found_in"] == [] and report["lookup"]["missing_allowed"] is True
    assert report["orders"]["customers_pseudonymised"] == 0 and report["audit"]["tombstone_seq"] == 1
    # the recorded request counts as an earlier erase: a rerun does not fail
    rerun = erase("--org", ORG, "--customer", "C-10O1", "--yes")
    assert rerun.exit_code == 0, rerun.output
    assert "already erased" in _text(rerun)
    assert order_hits()  # 김민수 was not touched by any of this


def test_an_org_known_only_to_the_audit_log_is_found(shop: str) -> None:
    async def _go() -> None:
        from audit import close
        from audit.log import append
        from audit.record import AuditEvent

        await append(
            AuditEvent(org_id="audit-only", event_type="tool_call", source="cli", actor="t", customer_ref="C-7")
        )
        await close()

    _sync(_go)
    assert erase("--org", "audit-only", "--customer", "C-8", "--yes").exit_code == 2
    found = erase("--org", "audit-only", "--customer", "C-7", "--yes", "--json")
    assert found.exit_code == 0, found.output
    assert json.loads(found.stdout)["lookup"]["found_in"] == ["audit"]


def test_no_data_home_fails_and_creates_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core.settings import reload_settings

    home = tmp_path / "typo-home"
    monkeypatch.setenv("SWITCHBOARD_HOME", str(home))
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    reload_settings()
    try:
        result = erase("--org", ORG, "--customer", CUSTOMER, "--yes")
    finally:
        monkeypatch.undo()
        reload_settings()
    assert result.exit_code == 2 and "NOT_FOUND" in _text(result) and "SWITCHBOARD_HOME" in _text(result)
    assert not home.exists()
