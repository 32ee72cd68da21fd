"""The chain: append, validation, database guards, and tampering detected at the exact seq."""

from __future__ import annotations

import itertools
import json
import uuid

import pytest

from audit import GENESIS_HASH, AuditEvent, append, compute_record_hash, verify_chain
from audit.record import RECORD_FIELDS
from core.errors import ErrorCode, SwitchboardError

from .helpers import drop_guards, event, seed, sql

pytestmark = pytest.mark.usefixtures("audit_db")


async def test_append_chains_records_per_org():
    records = await seed(5)
    other = await seed(2, org="beta")
    assert [r.seq for r in records] == [1, 2, 3, 4, 5]
    assert records[0].prev_hash == GENESIS_HASH
    for before, after in itertools.pairwise(records):
        assert after.prev_hash == before.record_hash
    assert all(r.record_hash == compute_record_hash(r.to_dict()) for r in records)
    assert [r.seq for r in other] == [1, 2] and other[0].prev_hash == GENESIS_HASH
    stored = await sql("SELECT seq, record_hash FROM audit_event WHERE org_id = 'acme' ORDER BY seq")
    assert [tuple(row) for row in stored] == [(r.seq, r.record_hash) for r in records]
    head = await sql("SELECT seq, head_hash FROM audit_chain_head WHERE org_id = 'acme'")
    assert tuple(head[0]) == (5, records[-1].record_hash)
    report = await verify_chain("acme")
    assert report.ok and report.records == 5 and report.last_seq == 5


async def test_record_fields_are_redacted_and_complete():
    record = await append(
        AuditEvent(
            org_id="acme",
            event_type="tool_result",
            source="host",
            actor="agent:support",
            customer_ref="C-1",
            session_id="s1",
            turn_id="t1",
            trace_id="tr1",
            agent_version_id="av7",
            manifest_sha256="a" * 64,
            server_name="orders",
            server_version="2.0.1",
            tool_name="get_order",
            exposed_name="orders_get_order",
            definition_sha256_pinned="b" * 64,
            definition_sha256_observed="c" * 64,
            arguments={"phone": "010-1234-5678"},
            result={"email": "hong@example.com", "card": "4111 1111 1111 1111"},
            details={"note": "고객 주민번호 900101-1234567"},
            is_error=False,
            latency_ms=12.3456,
        )
    )
    assert record.arguments == {"phone": "010-****-5678"}
    assert record.result == {"card": "****-****-****-1111", "email": "h***@example.com"}
    assert record.details == {"note": "고객 주민번호 ******-*******"}
    assert len(json.loads(record.args_hmac)) == 1 and len(json.loads(record.result_hmac)) == 2
    assert record.latency_ms == 12.346 and record.exposed_name == "orders_get_order"
    assert record.args_size == len('{"phone":"010-1234-5678"}')
    assert (await verify_chain("acme")).ok


async def test_values_of_any_type_are_redacted_and_stored_as_json():
    class Customer:
        def __str__(self) -> str:
            return "고객 010-2222-3333"

    record = await append(
        event(
            1,
            arguments={
                "set": {"010-1234-5678"},
                "bytes": b"hong@example.com",
                "object": Customer(),
                "tuple": ("a", 1),
                7: "int key",
                "big": 2**64,
                "surrogate": "\ud800 4111-1111-1111-1111",
            },
        )
    )
    stored = record.arguments
    assert stored["set"] == ["010-****-5678"] and stored["bytes"] == "h***@example.com"
    assert stored["object"] == "고객 010-****-3333" and stored["tuple"] == ["a", 1] and stored["7"] == "int key"
    assert stored["big"] == str(2**64) and "4111-1111-1111-1111" not in record.args_redacted
    assert len(json.loads(record.args_hmac)) == 4
    assert (await verify_chain("acme")).ok


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"org_id": "../etc"}, "org_id"),
        ({"org_id": ""}, "org_id"),
        ({"event_type": "Tool Call"}, "event_type"),
        ({"source": "somewhere else"}, "source"),
        ({"manifest_sha256": "not-a-hash"}, "manifest_sha256"),
        ({"definition_sha256_pinned": "A" * 64}, "definition_sha256_pinned"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"latency_ms": float("nan")}, "latency_ms"),
        ({"event_id": "nope"}, "event_id"),
    ],
)
async def test_bad_events_are_refused_and_nothing_is_written(change, message):
    with pytest.raises(SwitchboardError) as err:
        await append(event(1, **change))
    assert err.value.code is ErrorCode.INVALID_ARGUMENT and message in err.value.message
    assert await sql("SELECT count(*) FROM audit_event") == [(0,)]
    assert await sql("SELECT count(*) FROM audit_chain_head") == [(0,)]


async def test_repeated_event_id_is_a_conflict_and_the_chain_goes_on():
    event_id = str(uuid.uuid4())
    await append(event(1, event_id=event_id))
    with pytest.raises(SwitchboardError) as err:
        await append(event(2, event_id=event_id))
    assert err.value.code is ErrorCode.CONFLICT
    later = await append(event(3))
    assert later.seq == 2 and (await verify_chain("acme")).ok


async def test_payloads_are_capped_with_the_original_size(monkeypatch):
    monkeypatch.setenv("SWITCHBOARD_AUDIT_MAX_PAYLOAD_BYTES", "2048")
    big = {"text": "가" * 5000, "phone": "010-1234-5678", "n": 2**70}
    record = await append(event(1, arguments=big))
    stored = record.arguments
    assert stored["truncated"] is True and len(record.opened()["args_redacted"].encode()) <= 2048
    assert record.args_size > 15_000
    assert "010-1234-5678" not in record.args_redacted
    assert (await verify_chain("acme")).ok


async def test_the_database_refuses_update_and_delete():
    await seed(3)
    await seed(1, org="beta")
    refused = [
        "UPDATE audit_event SET actor = 'x' WHERE seq = 2",
        "UPDATE audit_event SET seq = 10 WHERE seq = 3 AND org_id = 'acme'",
        "DELETE FROM audit_event WHERE seq = 3",
        "DELETE FROM audit_event",
        "UPDATE audit_value_hmac SET seq = 9",
        "DELETE FROM audit_value_hmac",
        "DELETE FROM audit_chain_head WHERE org_id = 'acme'",
        "UPDATE audit_chain_head SET seq = 1 WHERE org_id = 'acme'",
        "UPDATE audit_chain_head SET org_id = 'gamma' WHERE org_id = 'beta'",
    ]
    from core.db import get_engine, is_sqlite

    if not is_sqlite(await get_engine()):
        refused += ["TRUNCATE audit_event", "TRUNCATE audit_chain_head"]
    for statement in refused:
        with pytest.raises(Exception, match=r"append-only|only moves forward"):
            await sql(statement)
    assert await sql("SELECT count(*) FROM audit_event") == [(4,)]
    assert (await verify_chain("acme")).ok and (await verify_chain("beta")).ok


def _edited(value):
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1000
    if isinstance(value, float):
        return value + 0.5
    if value is None:
        return "x"
    return value[:-1] + ("0" if value[-1] != "0" else "1")


async def test_editing_any_single_field_is_reported_at_that_seq():
    await seed(6)
    await drop_guards()
    target = 4
    for name in RECORD_FIELDS:
        row = (await sql(f"SELECT {name} FROM audit_event WHERE org_id = 'acme' AND seq = {target}"))[0]
        original = row[0]
        await sql(
            f"UPDATE audit_event SET {name} = :v WHERE org_id = 'acme' AND seq = :s",
            {"v": _edited(original), "s": target},
        )
        report = await verify_chain("acme")
        assert not report.ok, name
        assert report.broken_seq == target, (name, report.to_dict())
        key_seq = _edited(original) if name == "seq" else target
        key_org = _edited(original) if name == "org_id" else "acme"
        await sql(
            f"UPDATE audit_event SET {name} = :v WHERE org_id = :o AND seq = :s",
            {"v": original, "o": key_org, "s": key_seq},
        )
    assert (await verify_chain("acme")).ok


async def test_deleting_a_record_is_reported_at_its_seq():
    await seed(6)
    await drop_guards()
    await sql("DELETE FROM audit_event WHERE org_id = 'acme' AND seq = 3")
    report = await verify_chain("acme")
    assert report.broken_seq == 3 and "missing" in report.reason
    await sql("DELETE FROM audit_event WHERE org_id = 'acme' AND seq = 1")
    assert (await verify_chain("acme")).broken_seq == 1


async def test_swapping_two_records_is_reported_at_the_first():
    await seed(6)
    await drop_guards()
    await sql("UPDATE audit_event SET seq = -1 WHERE org_id = 'acme' AND seq = 3")
    await sql("UPDATE audit_event SET seq = 3 WHERE org_id = 'acme' AND seq = 4")
    await sql("UPDATE audit_event SET seq = 4 WHERE org_id = 'acme' AND seq = -1")
    report = await verify_chain("acme")
    assert report.broken_seq == 3 and not report.ok


async def test_truncating_the_tail_is_reported_at_the_first_missing_seq(tmp_path):
    from audit.maintenance import create_checkpoint

    await seed(8)
    assert (await create_checkpoint("acme", directory=tmp_path)).seq == 8
    await drop_guards()
    await sql("DELETE FROM audit_event WHERE org_id = 'acme' AND seq >= 6")
    report = await verify_chain("acme", checkpoint_dir=tmp_path)
    assert report.broken_seq == 6 and report.first_problem.kind == "truncated"
    # Whoever truncated also rewinds the chain head: the signed checkpoint still catches it.
    last = (await sql("SELECT record_hash FROM audit_event WHERE org_id = 'acme' AND seq = 5"))[0][0]
    await sql("UPDATE audit_chain_head SET seq = 5, head_hash = :h WHERE org_id = 'acme'", {"h": last})
    assert (await verify_chain("acme")).ok  # without the checkpoint nothing shows
    report = await verify_chain("acme", checkpoint_dir=tmp_path)
    assert report.broken_seq == 6 and "checkpoint" in report.reason


async def test_a_rewritten_chain_with_recomputed_hashes_is_caught_by_a_checkpoint(tmp_path):
    from audit.maintenance import create_checkpoint

    await seed(6)
    await create_checkpoint("acme", directory=tmp_path)
    await drop_guards()
    rows = await sql("SELECT * FROM audit_event WHERE org_id = 'acme' ORDER BY seq")
    prev = rows[2]._mapping["record_hash"]
    for row in rows[3:]:  # rewrite seq 4 and recompute every hash after it, and the head
        data = dict(row._mapping)
        if data["seq"] == 4:
            data["actor"] = "someone-else"
        data["prev_hash"] = prev
        data["record_hash"] = compute_record_hash(data)
        await sql(
            "UPDATE audit_event SET actor = :actor, prev_hash = :prev_hash, record_hash = :record_hash "
            "WHERE org_id = 'acme' AND seq = :seq",
            data,
        )
        prev = data["record_hash"]
    await sql("UPDATE audit_chain_head SET head_hash = :h WHERE org_id = 'acme'", {"h": prev})
    assert (await verify_chain("acme")).ok  # internally consistent...
    report = await verify_chain("acme", checkpoint_dir=tmp_path)
    assert not report.ok and report.first_problem.kind == "rewritten" and report.broken_seq == 6


async def test_a_forged_checkpoint_file_is_reported(tmp_path):
    from audit.maintenance import create_checkpoint

    await seed(3)
    result = await create_checkpoint("acme", directory=tmp_path)
    with open(result.path) as handle:
        data = json.load(handle)
    data["checkpoint"]["seq"] = 2
    with open(result.path, "w") as handle:
        json.dump(data, handle)
    report = await verify_chain("acme", checkpoint_dir=tmp_path)
    assert not report.ok and report.first_problem.kind == "bad_checkpoint"


async def test_verify_from_seq_links_to_the_record_before():
    await seed(6)
    report = await verify_chain("acme", from_seq=4)
    assert report.ok and report.records == 3 and report.first_seq == 4
    await drop_guards()
    await sql("UPDATE audit_event SET prev_hash = :h WHERE org_id = 'acme' AND seq = 4", {"h": "f" * 64})
    assert (await verify_chain("acme", from_seq=4)).broken_seq == 4
    assert (await verify_chain("acme", from_seq=5)).ok
