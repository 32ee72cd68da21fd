"""Generated Korean personal data in nested arguments never reaches the database or an export."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import append, close, export_records, find
from core.db import get_engine, is_sqlite
from tests.core.test_pii import pii_in_text, raw_forms

from .helpers import event, sql

pytestmark = pytest.mark.usefixtures("audit_db")


def _placed(texts: list[str], where: str) -> dict:
    nested = {"customer": {"notes": texts, "deep": [{"x": {"y": texts[0]}}]}, texts[-1]: len(texts)}
    if where == "text":
        return {"error_message": " / ".join(texts), "tool_name": texts[0][:150], "actor": texts[-1][:150]}
    return {{"args": "arguments", "result": "result", "details": "details"}[where]: nested}


async def _database_bytes(home: Path) -> list[bytes]:
    engine = await get_engine()
    if is_sqlite(engine):
        await close()
        path = Path(engine.url.database)
        return [p.read_bytes() for p in path.parent.glob(path.name + "*") if p.is_file()]
    blobs = []
    for table in ("audit_event", "audit_value_hmac", "audit_chain_head", "audit_prune"):
        rows = await sql(f"SELECT row_to_json(t)::text FROM {table} t")
        blobs.append("\n".join(r[0] for r in rows).encode())
    return blobs


async def test_generated_pii_is_nowhere_in_the_database_or_exports(tmp_path):
    cases: list[tuple[list[tuple[str, str]], str]] = []

    @settings(max_examples=120, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(pii_in_text(), min_size=1, max_size=3), st.sampled_from(["args", "result", "details", "text"]))
    def collect(items: list[tuple[str, str]], where: str) -> None:
        cases.append((items, where))

    collect()
    raws: set[str] = set()
    for i, (items, where) in enumerate(cases):
        await append(event(i, **_placed([text for text, _ in items], where)))
        raws |= {form for _, raw in items for form in raw_forms(raw)}
    raws |= raw_forms("010-1234-5678")  # in every event's arguments
    raws = {r for r in raws if len(set(r.replace("-", ""))) > 1}  # "000000000" is inside the genesis hash

    export = tmp_path / "export.jsonl"
    with open(export, "w", encoding="utf-8") as handle:
        summary = await export_records(handle)
    assert summary.records == len(cases)
    blobs = [export.read_bytes(), *await _database_bytes(tmp_path)]
    for raw in sorted(raws):
        for blob in blobs:
            assert raw.encode() not in blob, raw

    # ...and yet each value can still be found by exact match, through its keyed HMAC.
    for items, _ in cases[:10]:
        for _, raw in items:
            assert await find(value=raw, org_id="acme"), raw
