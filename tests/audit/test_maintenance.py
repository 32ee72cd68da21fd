"""Retention (prune), exports verified offline, and searching by value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from audit import append, export_records, find, prune, verify_chain, verify_export
from audit.maintenance import create_checkpoint
from core.errors import ErrorCode, SwitchboardError

from .helpers import drop_guards, event, sql

pytestmark = pytest.mark.usefixtures("audit_db")


async def _dated(n_old: int, n_new: int) -> None:
    for i in range(n_old):
        await append(event(i, occurred_at=datetime(2025, 6, 1, 12, i, tzinfo=UTC)))
    for i in range(n_new):
        await append(event(100 + i, occurred_at=datetime(2026, 2, 1, 12, i, tzinfo=UTC)))


async def test_prune_removes_old_records_behind_a_signed_checkpoint(tmp_path):
    await _dated(6, 4)
    results = await prune("2026-01-01T00:00:00.000000Z", directory=tmp_path)
    assert [(r.org_id, r.through_seq, r.removed) for r in results] == [("acme", 6, 6)]
    assert Path(results[0].checkpoint_path).is_file() and "prune" in results[0].checkpoint_path
    assert [r[0] for r in await sql("SELECT seq FROM audit_event ORDER BY seq")] == [7, 8, 9, 10]
    report = await verify_chain("acme", checkpoint_dir=tmp_path)
    assert report.ok and report.first_seq == 7, report.to_dict()
    with pytest.raises(Exception, match="append-only"):
        await sql("DELETE FROM audit_event WHERE seq = 7")
    assert (await append(event(99))).seq == 11
    assert await prune("2026-01-01T00:00:00.000000Z", directory=tmp_path) == []
    assert (await verify_chain("acme")).ok


async def test_prune_refuses_a_broken_chain(tmp_path):
    await _dated(3, 3)
    await drop_guards()
    await sql("UPDATE audit_event SET actor = 'x' WHERE seq = 5")
    with pytest.raises(SwitchboardError) as err:
        await prune("2027-01-01T00:00:00.000000Z", directory=tmp_path)
    assert err.value.code is ErrorCode.CONFLICT and "seq 5" in err.value.message
    assert (await sql("SELECT count(*) FROM audit_event"))[0][0] == 6


async def test_a_forged_prune_is_reported():
    await _dated(3, 3)
    await drop_guards()
    fake = {"checkpoint": {"org": "acme", "seq": 4, "head_hash": "0" * 64, "time": "x", "kind": "prune", "key_id": "x"}}
    await sql(
        "INSERT INTO audit_prune (org_id, through_seq, through_hash, pruned_at, checkpoint) "
        "VALUES ('acme', 4, :h, 'now', :c)",
        {"h": "0" * 64, "c": json.dumps({**fake, "signature": "AAAA", "public_key": ""})},
    )
    await sql("DELETE FROM audit_event WHERE seq <= 4")
    report = await verify_chain("acme")
    assert not report.ok and report.broken_seq == 5


async def _export(path: Path, **kwargs) -> Path:
    with open(path, "w", encoding="utf-8") as handle:
        await export_records(handle, **kwargs)
    return path


def _rewrite(path: Path, edit) -> Path:
    lines = path.read_text(encoding="utf-8").splitlines()
    out = path.with_name("tampered.jsonl")
    out.write_text("\n".join(edit(lines)) + "\n", encoding="utf-8")
    return out


def _record_index(lines: list[str], seq: int) -> int:
    return next(i for i, line in enumerate(lines) if '"record_hash"' in line and json.loads(line)["seq"] == seq)


async def test_export_verifies_offline_and_tampering_is_found_at_the_seq(tmp_path):
    for i in range(8):
        await append(event(i))
    await create_checkpoint("acme")
    path = await _export(tmp_path / "export.jsonl")
    (report,) = verify_export(path)
    assert report.ok and report.records == 8 and report.checkpoints_checked >= 2, report.to_dict()

    def edit_field(lines):
        i = _record_index(lines, 5)
        data = json.loads(lines[i])
        data["tool_name"] = "something_else"
        lines[i] = json.dumps(data, ensure_ascii=False)
        return lines

    def delete(lines):
        del lines[_record_index(lines, 5)]
        return lines

    def swap(lines):
        a, b = _record_index(lines, 4), _record_index(lines, 5)
        lines[a], lines[b] = lines[b], lines[a]
        return lines

    def truncate(lines):
        return lines[: _record_index(lines, 7)]

    for edit, seq in ((edit_field, 5), (delete, 5), (swap, 4), (truncate, 7)):
        (bad,) = verify_export(_rewrite(path, edit))
        assert not bad.ok and bad.broken_seq == seq, (edit.__name__, bad.to_dict())


async def test_export_without_checkpoints_warns_that_a_cut_end_is_undetectable(tmp_path):
    for i in range(4):
        await append(event(i))
    path = await _export(tmp_path / "export.jsonl", sign_export=False)
    (report,) = verify_export(path)
    assert report.ok and any("cut-off end" in w for w in report.warnings)


async def test_a_forged_export_checkpoint_is_reported(tmp_path):
    for i in range(4):
        await append(event(i))
    path = await _export(tmp_path / "export.jsonl")

    def forge(lines):
        i = next(i for i, line in enumerate(lines) if '"checkpoint"' in line)
        data = json.loads(lines[i])
        data["checkpoint"]["seq"] = 3
        lines[i] = json.dumps(data)
        return lines

    (report,) = verify_export(_rewrite(path, forge))
    assert not report.ok and any(p.kind == "bad_checkpoint" for p in report.problems)


async def test_export_since_starts_mid_chain(tmp_path):
    await _dated(3, 3)
    path = await _export(tmp_path / "export.jsonl", since="2026-01-01T00:00:00.000000Z")
    (report,) = verify_export(path)
    assert report.ok and (report.first_seq, report.last_seq) == (4, 6)
    # the export signs its start (seq 3 and the first record's link to it): the link is checked
    assert not any("is not checked" in w for w in report.warnings), report.warnings


async def test_tail_after_returns_only_new_records():
    from audit.store import tail

    for i in range(3):
        await append(event(i))
    await append(event(9, org="beta"))
    assert [(r.org_id, r.seq) for r in await tail(limit=2)] == [("acme", 3), ("beta", 1)]
    await append(event(4))
    fresh = await tail(limit=100, after={"acme": 3, "beta": 1})
    assert [(r.org_id, r.seq) for r in fresh] == [("acme", 4)]
    await append(event(5, org="gamma"))
    assert [(r.org_id, r.seq) for r in await tail(limit=100, after={"acme": 4, "beta": 1})] == [("gamma", 1)]


async def test_find_by_value_text_and_ids():
    await append(event(1, arguments={"phone": "010-1234-5678", "order_id": "ORD-0001"}))
    await append(event(2, arguments={"phone": "010-9999-0000", "order_id": "ORD-0002"}))
    await append(event(3, result={"contact": "고객 연락처 +82 10 1234 5678"}))
    await append(event(4, org="beta", arguments={"phone": "01012345678"}))
    hits = await find(value="010-1234-5678")
    assert sorted((r.org_id, r.seq) for r in hits) == [("acme", 1), ("acme", 3), ("beta", 1)]
    assert [r.seq for r in await find(value="01012345678", org_id="acme")] == [1, 3]
    assert [r.seq for r in await find(text="ORD-0002")] == [2]
    assert [r.seq for r in await find(trace_id="trace-3")] == [3]
    assert await find(value="010-0000-0000") == []
    for bad in ({"value": "ORD-0001"}, {"value": "010-1234-5678 010-9999-0000"}, {}):
        with pytest.raises(SwitchboardError) as err:
            await find(**bad)
        assert err.value.code is ErrorCode.INVALID_ARGUMENT
