"""``switchboard import-legacy``: the production CSV exports, their irregularities, hostile rows."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import func, select

from core.db import get_engine
from core.errors import SwitchboardError
from host.legacy import LEGACY_AGENT_VERSION_ID, LEGACY_MANIFEST_SHA256, import_legacy
from host.records import audio_segments, event_logs, review_queue, sessions, turns

LEGACY = Path(__file__).with_name("data") / "legacy"  # the sample production exports (fixtures)


async def _count(table) -> int:
    engine = await get_engine()
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table))).scalar_one()


async def test_imports_every_table_keeping_ids(database_url):
    report = await import_legacy(LEGACY)
    assert report.imported == {"sessions": 4, "turns": 21, "event_logs": 21, "review_queue": 6, "audio_segments": 8}
    assert report.skipped == []
    assert report.agent_version_id == LEGACY_AGENT_VERSION_ID
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(sessions).where(sessions.c.id == "6422ebc9-06e8-4ce0-a044-830207183ff5")))
            .mappings()
            .one()
        )
        assert row["session_code"] == "s_0o6s0c" and row["outcome"] == "이관" and row["channel"] == "유선"
        assert row["agent_version_id"] == "legacy" and row["manifest_sha256"] == LEGACY_MANIFEST_SHA256
        turn = (
            (await conn.execute(select(turns).where(turns.c.id == "244b66db-4596-4c39-80de-8f209a49552b")))
            .mappings()
            .one()
        )
        assert turn["confirm_prompt"] == "주문번호 8841로 조회해도 될까요?"
        assert turn["confirmation_response"] == "네, 맞아요." and turn["asr_confidence"] == 0.94
        linked = (
            (await conn.execute(select(event_logs).where(event_logs.c.id == "05d057b4-9acb-434c-bf39-e7b027bc1ab4")))
            .mappings()
            .one()
        )
        assert linked["turn_id"] == "65be1164-dcb6-4ef0-acab-061a12a1004e"  # {"seq": 10, ...} → turn seq 10
        flat = (
            (await conn.execute(select(event_logs).where(event_logs.c.id == "1d3a6f85-5d2c-4712-98a5-086d7fdd548c")))
            .mappings()
            .one()
        )
        assert flat["turn_id"] is None and flat["payload"] == {
            "answer": "담당자에게 이관하여 확인 후 안내드리겠습니다."
        }
    joined = " ".join(report.warnings)
    assert "no transcript" in joined and "repeated ESCALATED" in joined and "two shapes" in joined
    assert "ended_at earlier than created_at" in joined


async def test_reimport_skips_what_is_there(database_url):
    await import_legacy(LEGACY)
    again = await import_legacy(LEGACY)
    assert sum(again.imported.values()) == 0
    assert len(again.skipped) == 60 and {s["reason"] for s in again.skipped} == {"already imported (same id)"}
    assert await _count(turns) == 21


async def test_dry_run_writes_nothing(database_url):
    report = await import_legacy(LEGACY, dry_run=True)
    assert report.imported["turns"] == 21 and report.dry_run
    assert await _count(sessions) == 0 and await _count(turns) == 0


def _copy_with(tmp_path: Path, table: str, extra_rows: list[dict[str, str]]) -> Path:
    target = tmp_path / "legacy"
    shutil.copytree(LEGACY, target)
    path = target / f"{table}.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    with path.open("a", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        for row in extra_rows:
            writer.writerow({k: row.get(k, "") for k in header})
    return target


async def test_bad_rows_are_skipped_with_reasons(database_url, tmp_path):
    good_session = "6422ebc9-06e8-4ce0-a044-830207183ff5"
    directory = _copy_with(
        tmp_path,
        "turns",
        [
            {"id": "t-orphan", "session_id": "no-such-session", "created_at": "2026-01-22 13:03:31+00", "seq": "1"},
            {"id": "t-badtime", "session_id": good_session, "created_at": "yesterday", "seq": "2"},
            {"id": "t-noseq", "session_id": good_session, "created_at": "2026-01-22 13:03:31+00", "seq": ""},
            {
                "id": "t-conf",
                "session_id": good_session,
                "created_at": "2026-01-22 13:03:31+00",
                "seq": "3",
                "asr_confidence": "1.7",
            },
            {
                "id": "t-json",
                "session_id": good_session,
                "created_at": "2026-01-22 13:03:31+00",
                "seq": "4",
                "kb_references": "{oops",
            },
            {"id": "bad id!", "session_id": good_session, "created_at": "2026-01-22 13:03:31+00", "seq": "5"},
            {
                "id": "t-pii",
                "session_id": good_session,
                "created_at": "2026-01-22 13:03:31+00",
                "seq": "40",
                "transcript_text": "제 번호는 010-9876-5432 입니다",
            },
        ],
    )
    report = await import_legacy(directory)
    reasons = {s["id"]: s["reason"] for s in report.skipped}
    assert reasons["t-orphan"] == "unknown session no-such-session"
    assert "not a timestamp" in reasons["t-badtime"]
    assert reasons["t-noseq"] == "seq is empty"
    assert "out of range" in reasons["t-conf"]
    assert "not valid JSON" in reasons["t-json"]
    assert "not a valid id" in reasons["bad id!"]
    assert report.imported["turns"] == 22  # the 21 good ones and t-pii
    engine = await get_engine()
    async with engine.connect() as conn:
        text = (await conn.execute(select(turns.c.transcript_text).where(turns.c.id == "t-pii"))).scalar_one()
    assert "9876" not in text and "5432" in text


async def test_missing_directory_or_sessions_file(database_url, tmp_path):
    with pytest.raises(SwitchboardError) as err:
        await import_legacy(tmp_path / "nope")
    assert err.value.code.value == "INVALID_ARGUMENT"
    (tmp_path / "turns.csv").write_text("id,session_id\n", encoding="utf-8")
    with pytest.raises(SwitchboardError) as err:
        await import_legacy(tmp_path)
    assert "sessions.csv" in err.value.message
    assert await _count(turns) == 0


async def test_a_table_that_is_a_pipe_or_a_folder_is_named_and_nothing_is_written(database_url, tmp_path):
    """A walk: a sessions.csv that was a named pipe was reported missing ("has no sessions.csv"),
    and a turns.csv folder was skipped as "not found"; a pipe must not be opened (it blocks)."""
    import os

    target = tmp_path / "legacy"
    shutil.copytree(LEGACY, target)
    (target / "sessions.csv").unlink()
    os.mkfifo(target / "sessions.csv")
    with pytest.raises(SwitchboardError) as err:
        await import_legacy(target)
    assert err.value.code.value == "INVALID_ARGUMENT"
    assert "sessions.csv is not a regular file (a pipe" in err.value.message
    shutil.rmtree(target)
    shutil.copytree(LEGACY, target)
    (target / "turns.csv").unlink()
    (target / "turns.csv").mkdir()
    with pytest.raises(SwitchboardError) as err:
        await import_legacy(target)
    assert "turns.csv is a directory" in err.value.message
    assert await _count(sessions) == 0 and await _count(turns) == 0


async def test_unknown_agent_version_is_refused(database_url):
    with pytest.raises(SwitchboardError) as err:
        await import_legacy(LEGACY, agent_version_id="does-not-exist")
    assert err.value.code.value == "NOT_FOUND"
    assert await _count(review_queue) == 0 and await _count(audio_segments) == 0
