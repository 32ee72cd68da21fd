"""Record helpers: ids the audit log's PII masking leaves intact, the fast masked copy."""

from __future__ import annotations

import uuid

from core.pii import detect
from core.redaction import redact
from host.store import masked_json, new_call_id, new_id


def test_a_uuid_with_a_phone_numbers_shape_is_not_personal_data():
    # "043-4628-8014" inside the id reads as a phone number on its own
    assert detect("043-4628-8014")
    assert not detect("ef266e60-e043-4628-8014-12afb86e6913")
    assert redact({"session_id": "ef266e60-e043-4628-8014-12afb86e6913"}).findings == ()


def test_ids_are_uuids_the_pii_detector_never_masks():
    ids = [new_id() for _ in range(20_000)]
    assert all(str(uuid.UUID(i)) == i and uuid.UUID(i).version == 4 for i in ids[:100])
    assert not [i for i in ids if detect(i)]
    calls = [new_call_id() for _ in range(20_000)]
    assert all(len(c) == 32 and uuid.UUID(hex=c).version == 4 for c in calls[:100])
    assert not [c for c in calls if detect(c)]
    assert len(set(ids)) == len(ids) and len(set(calls)) == len(calls)


def test_masked_json_matches_the_full_redaction():
    values = [
        {"order_id": "8841", "items": [{"name": "무선 이어폰", "qty": 2, "price": 1.5}], "ok": True, "none": None},
        {"phone": "010-1234-5678", "note": "연락처 010 1234 5678", "nested": {"email": "kim@example.com"}},
        {"계좌": "1002123456789", "card": "4111 1111 1111 1111", "big": 12345678901},
        ["plain", ("tuple", 1), {"k": float("inf")}],
        {"lone": "bad \ud800 surrogate"},
        {1: "int key", "set": {3, 1, 2}},
        "just text with 주민번호 900101-1234567",
    ]
    for value in values:
        assert masked_json(value) == redact(value).value, value
    assert masked_json(None) is None


def test_masked_json_is_a_copy():
    value = {"a": [1, 2, {"b": "c"}]}
    out = masked_json(value)
    out["a"][2]["b"] = "changed"
    assert value == {"a": [1, 2, {"b": "c"}]}


def test_stored_state_masks_tool_results_in_data_and_content():
    import json

    from host.providers.base import Message, ToolResult
    from host.session import SessionState

    data = {"order_id": "8841", "contact": {"phone": "010-1234-5678"}, "tracking": "568231904417"}
    truncated = json.dumps(data, ensure_ascii=False)[:20] + "…[truncated] 010-9876-5432"
    state = SessionState(
        messages=[
            Message("user", "제 번호는 010-2222-3333 입니다"),
            Message(
                "tool",
                results=[
                    ToolResult("c1", "orders__get_order", json.dumps(data, ensure_ascii=False), False, data),
                    ToolResult("c2", "orders__get_order", truncated, False, data),
                ],
            ),
        ]
    )
    stored = state.to_masked_json()
    text = json.dumps(stored, ensure_ascii=False)
    for raw in ("010-1234-5678", "010-2222-3333", "010-9876-5432"):
        assert raw not in text
    first, second = stored["messages"][1]["results"]
    assert first["data"] == redact(data).value and first["content"] == json.dumps(first["data"], ensure_ascii=False)
    assert second["content"] == redact(truncated).value
    assert state.to_masked_json() == stored  # cached per message, same answer


async def _session(store, session_id: str) -> None:
    from host.store import Versions, now

    versions = Versions("v" * 8, "0" * 64)
    await store.create_session(
        {"id": session_id, "created_at": now(), "org_id": "acme", "status": "active", **versions.columns()}
    )


async def test_a_failing_write_fails_alone_in_its_batch(database_url):
    import asyncio

    import pytest

    from core.errors import SwitchboardError
    from host.store import RecordStore, Versions

    store = RecordStore()
    ids = [new_id() for _ in range(3)]
    versions = Versions("v" * 8, "0" * 64)
    writes = [store.update_session(new_id(), versions, {"status": "ended"})]  # no such session
    writes += [_session(store, i) for i in ids]
    results = await asyncio.gather(*writes, return_exceptions=True)
    assert isinstance(results[0], SwitchboardError) and results[1:] == [None, None, None]
    for i in ids:
        assert (await store.get_session(i))["status"] == "active"
    with pytest.raises(SwitchboardError):
        await store.get_session(new_id())
    await store.aclose()


async def test_a_write_waits_for_a_lock_held_elsewhere(database_url):
    import asyncio
    import sqlite3

    from core.db import get_engine, is_sqlite
    from host.store import RecordStore

    store = RecordStore()
    await _session(store, new_id())  # the writer's connection is open
    engine = await get_engine()
    if not is_sqlite(engine):
        await store.aclose()
        return
    other = sqlite3.connect(engine.url.database, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    session_id = new_id()
    write = asyncio.ensure_future(_session(store, session_id))
    await asyncio.sleep(0.3)
    assert not write.done()  # waiting for the lock, without blocking the event loop
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(write, 10)
    assert (await store.get_session(session_id))["status"] == "active"
    await store.aclose()
