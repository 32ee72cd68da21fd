"""Tool-call records journaled sealed and raw, redacted when chained (``audit/deferred.py``).

The call waits only for its sealed line; the redaction happens when the record is chained. These
tests hold the deferral to the promises of the prepared path: the stored record is the same, the
journal never holds plain personal data, a stopped process's line is chained redacted, and an
erase between the call and the chaining leaves nothing of the person's data behind.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import make_url

from audit import append_journaled, close, flush, ready, verify_chain
from audit.deferred import ERASED_BEFORE_CHAINING, DeferredEvent, defer_event
from audit.journal import _line, candidates, directory_for, read_entries
from audit.log import _defer, _prepare
from audit.sealing import ERASED, open_fields
from audit.store import tail
from audit.subjects import destroy_subject_key

from .helpers import event, sql

pytestmark = pytest.mark.usefixtures("audit_db")

PHONE, EMAIL, RRN, CARD = "010-2345-6789", "minji.kim@example.co.kr", "900101-1234567", "4111-1111-1111-1111"
PERSONAL = (PHONE, EMAIL, RRN, CARD, "23456789", "minji.kim")


@pytest.fixture
def db_path(audit_db: str) -> str:
    if not audit_db.startswith("sqlite"):
        pytest.skip("the journal is SQLite's: on PostgreSQL a call waits for its commit")
    return make_url(audit_db).database or ""


def personal_event(i: int, **extra):
    """A call whose every free-text field carries personal data, as hostile callers send it."""
    fields = {
        "customer_ref": f"C-{i}",
        "session_id": f"세션 {PHONE}",
        "client_name": f"client {EMAIL}",
        "arguments": {"order_id": f"ORD-{i}", "phone": PHONE, "note": f"주민번호 {RRN} 카드 {CARD}"},
        "result": {"status": "shipped", "contact": EMAIL, "items": [{"memo": f"연락처 {PHONE}"}]},
        "is_error": True,
        "error_code": "NOT_FOUND",
        "error_message": f"no order for {PHONE}",
        "details": {"oauth": {"subject": EMAIL}},
    }
    fields.update(extra)
    return event(i, **fields)


def _comparable(row: dict) -> dict:
    """A stored row with its sealed fields opened; ciphertexts and chain fields left out."""
    opened = open_fields(row)
    keep = {k: v for k, v in row.items() if k not in opened and k not in {"seq", "prev_hash", "record_hash"}}
    return {**keep, **opened}


async def test_a_deferred_record_is_stored_as_the_prepared_one_would_be(db_path):
    await ready("acme")
    moment = datetime(2026, 12, 5, 9, 30, 15, 123456, tzinfo=UTC)
    ev = personal_event(1, event_id="0190a3c4-0000-7000-8000-0000000000d1", occurred_at=moment)
    deferred = _defer(ev)
    assert isinstance(deferred, DeferredEvent)
    direct = _prepare(ev)
    via_line = read_entries_of([_line(deferred)], db_path)[0]
    for other in (deferred.prepared(), via_line):
        assert _comparable(other.row) == _comparable(direct.row)
        assert other.hmacs == direct.hmacs and direct.hmacs  # the personal values stay findable
    assert PHONE not in json.dumps(_comparable(direct.row), ensure_ascii=False)


def read_entries_of(lines: list[bytes], db_path: str):
    folder = directory_for(db_path)
    folder.mkdir(mode=0o700, exist_ok=True)
    path = folder / "4343-cafebabe0000.jnl"
    path.write_bytes(b"".join(lines))
    try:
        return read_entries(path)
    finally:
        path.unlink()


async def test_the_journal_line_holds_no_plain_personal_data(db_path):
    await ready("acme")
    line = _line(_defer(personal_event(2, customer_ref=f"고객 {PHONE}")))
    text = line.decode("utf-8")
    for value in PERSONAL:
        assert value not in text
    data = json.loads(text.split(" ", 1)[1])
    clear = {k: v for k, v in data.items() if k not in {"sealed", "occurred_at", "event_id", "kid"}}
    assert not re.search(r"\d{5,}", json.dumps(clear, ensure_ascii=False))  # masked as in the log
    assert data["customer_ref"] != f"고객 {PHONE}" and "2345" not in data["customer_ref"]  # masked
    assert "arguments" not in data and "result" not in data and "error_message" not in data


async def test_calls_answer_before_redaction_and_their_records_are_chained_redacted(db_path):
    await ready("acme")
    for i in range(5):
        await append_journaled(personal_event(i))
    [path] = candidates(db_path)
    assert path.stat().st_size > 0  # journaled, not chained yet
    await flush()
    records = await tail("acme", limit=10)
    assert len(records) == 5
    stored = json.dumps(await sql("SELECT * FROM audit_event"), ensure_ascii=False, default=str)
    for value in PERSONAL:
        assert value not in stored
    opened = open_fields(records[0].to_dict())
    assert "010-****-6789" in (opened["args_redacted"] or "")
    assert (await verify_chain("acme")).ok


async def test_a_stopped_process_line_is_chained_redacted(db_path):
    await ready("acme")
    deferred = _defer(personal_event(3, event_id="0190a3c4-0000-7000-8000-0000000000d3"))
    _orphan(db_path, [_line(deferred)])
    await close()
    await ready("acme")  # the next appender chains the dead process's journal
    [record] = await tail("acme")
    assert record.event_id == "0190a3c4-0000-7000-8000-0000000000d3"
    opened = open_fields(record.to_dict())
    assert "010-****-6789" in opened["args_redacted"] and PHONE not in opened["args_redacted"]
    assert opened["error_message"] == "no order for 010-****-6789"
    assert (await verify_chain("acme")).ok


async def test_an_erase_between_the_call_and_the_chaining_leaves_no_contents(db_path):
    await ready("acme")
    kept = _defer(personal_event(4, customer_ref="C-keep", event_id="0190a3c4-0000-7000-8000-0000000000e1"))
    erased = _defer(personal_event(5, customer_ref="C-gone", event_id="0190a3c4-0000-7000-8000-0000000000e2"))
    _orphan(db_path, [_line(kept), _line(erased)])
    assert destroy_subject_key("acme", "C-gone")  # `switchboard customer erase` while the server was down
    await close()
    await ready("acme")
    records = {r.event_id[-2:]: r for r in await tail("acme")}
    assert set(records) == {"e1", "e2"}
    gone = records["e2"].to_dict()
    assert gone["customer_ref"] == "C-gone" and gone["tool_name"] is None
    assert gone["args_redacted"] is None and gone["result_redacted"] is None and gone["error_message"] is None
    assert gone["details_redacted"] == ERASED_BEFORE_CHAINING
    assert gone["occurred_at"] == json.loads(_line(erased).decode().split(" ", 1)[1])["occurred_at"]
    row = json.dumps(gone, ensure_ascii=False)
    for value in PERSONAL:
        assert value not in row
    assert open_fields(records["e1"].to_dict())["result_redacted"] not in (None, ERASED)
    assert (await verify_chain("acme")).ok


async def test_a_key_made_after_the_erase_does_not_open_an_older_line(db_path):
    await ready("acme")
    line = _line(_defer(personal_event(6, customer_ref="C-new", event_id="0190a3c4-0000-7000-8000-0000000000f1")))
    assert destroy_subject_key("acme", "C-new")
    await append_journaled(personal_event(7, customer_ref="C-new"))  # the customer comes back: a new key
    await flush()
    _orphan(db_path, [line])
    await close()
    await ready("acme")
    [old] = [r for r in await tail("acme") if r.event_id.endswith("f1")]
    assert old.to_dict()["details_redacted"] == ERASED_BEFORE_CHAINING


async def test_payloads_that_are_not_plain_json_are_prepared_at_once(db_path):
    await ready("acme")
    ev = personal_event(8, result={"when": datetime(2026, 1, 2, tzinfo=UTC), "tags": {"a"}})
    assert defer_event(ev, _key_for(ev), ev.customer_ref) is None
    assert not isinstance(_defer(ev), DeferredEvent)
    await append_journaled(ev)
    await flush()
    [record] = await tail("acme")
    assert "2026-01-02" in open_fields(record.to_dict())["result_redacted"]


async def test_a_record_that_cannot_be_redacted_is_still_chained_and_says_why(db_path, monkeypatch):
    await ready("acme")
    deferred = _defer(personal_event(9))

    def broken(*args, **kwargs):
        raise RecursionError("too deep")

    monkeypatch.setattr("audit.deferred.prepare_event", broken)
    row = deferred.prepared().row
    assert row["args_redacted"] is None and row["result_redacted"] is None
    assert "RecursionError" in open_fields(row)["details_redacted"]


def _key_for(ev):
    from audit.subjects import subject_key

    return subject_key(ev.org_id, ev.customer_ref)


def _orphan(db_path: str, lines: list[bytes]) -> None:
    folder = directory_for(db_path)
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / "4242-deadbeef0001.jnl").write_bytes(b"".join(lines))


def _signed(body: dict) -> bytes:
    import hashlib

    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return f"{hashlib.sha256(text.encode()).hexdigest()[:16]} {text}\n".encode()


async def test_a_well_formed_line_that_does_not_open_is_chained_without_contents(db_path):
    await ready("acme")
    good = _defer(personal_event(10, event_id="0190a3c4-0000-7000-8000-0000000000a1"))
    body = json.loads(_line(good).decode().split(" ", 1)[1])
    garbled = {**body, "event_id": "0190a3c4-0000-7000-8000-0000000000a2", "sealed": "bm90IGEgc2VhbA=="}
    not_base64 = {**body, "event_id": "0190a3c4-0000-7000-8000-0000000000a3", "sealed": "***"}
    missing = {k: v for k, v in body.items() if k != "kid"}  # not whole: dropped like a torn line
    _orphan(db_path, [_line(good), _signed(garbled), _signed(not_base64), _signed(missing)])
    await close()
    await ready("acme")  # the appender opens: one bad line must not refuse every later call
    records = {r.event_id[-2:]: r.to_dict() for r in await tail("acme")}
    assert set(records) == {"a1", "a2", "a3"}
    for name in ("a2", "a3"):
        assert records[name]["args_redacted"] is None and "could not be opened" in records[name]["details_redacted"]
    assert PHONE not in json.dumps(records, ensure_ascii=False)
    await append_journaled(personal_event(11))
    await flush()
    assert len(await tail("acme")) == 4 and (await verify_chain("acme")).ok


@pytest.mark.parametrize("customer_ref", [None, "C-1", f"고객 {PHONE}", 'quote " back\\slash \x01 \u2028 끝'])
async def test_the_line_is_written_as_the_journal_encoder_writes_its_body(db_path, monkeypatch, customer_ref):
    from audit.journal import _ENCODER

    await ready("acme")
    deferred = _defer(event(11, customer_ref=customer_ref))
    assert isinstance(deferred, DeferredEvent)
    monkeypatch.setattr("audit.deferred.os.urandom", lambda n: b"\x07" * n)  # the same nonce for both
    assert deferred.line_text() == _ENCODER.encode(deferred.line_body())


@pytest.mark.parametrize(
    "event_id", ["0190A3C4-0000-7000-8000-0000000000E1", "{0190a3c4-0000-7000-8000-0000000000e2}", None]
)
async def test_a_deferred_record_keeps_the_event_id_the_prepared_one_would_have(db_path, event_id):
    await ready("acme")
    ev = personal_event(12, event_id=event_id)
    deferred = _defer(ev)
    assert isinstance(deferred, DeferredEvent)
    stored = deferred.prepared().row["event_id"]
    if event_id is None:
        assert stored == deferred.event_id
    else:
        assert stored == _prepare(ev).row["event_id"] == event_id.strip("{}").lower()
