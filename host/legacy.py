"""``switchboard import-legacy DIR``: load the CSV exports of the existing call-center tables.

The five exports (sessions, turns, event_logs, review_queue, audio_segments) predate agent, KB
and tool versions, so every imported row is linked to one explicit *legacy* agent version. Ids
are kept; rows that cannot be imported are skipped with a reason; known irregularities (turns
without a transcript, repeated ESCALATED events, two payload shapes, ``ended_at`` before
``created_at``) are imported as they are and reported. Everything happens in one transaction:
either the whole import lands or nothing does. Re-running skips rows already imported.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.canonical import canonical_sha256
from core.context import is_valid_identifier
from core.db import get_engine, write_transaction
from core.errors import invalid
from core.ids import resolve_id
from core.inputfile import not_regular_reason
from core.jsonload import JSONInputError, loads
from host.records import audio_segments, event_logs, review_queue, sessions, turns
from host.store import Versions, masked, masked_json

TABLES = ("sessions", "turns", "event_logs", "review_queue", "audio_segments")
LEGACY_AGENT_VERSION_ID = "legacy"
LEGACY_MANIFEST: dict[str, Any] = {
    "kind": "legacy",
    "description": "Rows recorded by the call-center system before agent, MCP tool and KB versions existed.",
    "tables": list(TABLES),
    "tools": [],
    "knowledge_bases": [],
}
LEGACY_MANIFEST_SHA256 = canonical_sha256(LEGACY_MANIFEST)
MAX_ID = 36


class RowError(ValueError):
    """Why one CSV row cannot be imported."""


@dataclass
class ImportReport:
    """What an import did: rows per table, skipped rows with reasons, and irregularities."""

    agent_version_id: str
    manifest_sha256: str
    imported: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    skipped: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False
    directory: str = ""  # where the CSV files were read, resolved

    def skip(self, table: str, line: int, row_id: str | None, reason: str) -> None:
        self.skipped.append({"table": table, "line": line, "id": row_id, "reason": reason})

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_version_id": self.agent_version_id,
            "manifest_sha256": self.manifest_sha256,
            "imported": self.imported,
            "skipped": self.skipped,
            "warnings": self.warnings,
            "dry_run": self.dry_run,
            "directory": self.directory,
        }


# --- value parsing --------------------------------------------------------------------------


def _text(value: str | None, limit: int | None = None) -> str | None:
    if value is None or value == "":
        return None
    if limit is not None and len(value) > limit:
        raise RowError(f"value longer than {limit} characters")
    return value


def _timestamp(value: str | None, column: str, required: bool = False) -> datetime | None:
    if not value:
        if required:
            raise RowError(f"{column} is empty")
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise RowError(f"{column} is not a timestamp: {value[:40]!r}") from None
    if parsed.tzinfo is None:
        raise RowError(f"{column} has no UTC offset: {value[:40]!r}")
    return parsed


def _bool(value: str | None, column: str) -> bool | None:
    if not value:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "t", "1", "yes"):
        return True
    if lowered in ("false", "f", "0", "no"):
        return False
    raise RowError(f"{column} is not a boolean: {value[:20]!r}")


def _int(value: str | None, column: str) -> int | None:
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise RowError(f"{column} is not an integer: {value[:20]!r}") from None


def _float(value: str | None, column: str, low: float | None = None, high: float | None = None) -> float | None:
    if not value:
        return None
    try:
        number = float(value)
    except ValueError:
        raise RowError(f"{column} is not a number: {value[:20]!r}") from None
    if number != number or (low is not None and number < low) or (high is not None and number > high):
        raise RowError(f"{column} is out of range: {value[:20]!r}")
    return number


def _json(value: str | None, column: str, kind: type | None = None) -> Any:
    if not value:
        return None
    try:
        parsed = loads(value, source=column)
    except JSONInputError as exc:
        raise RowError(f"{column} is not valid JSON" if exc.kind == "syntax" else f"{column} {exc.reason}") from None
    if kind is not None and not isinstance(parsed, kind):
        raise RowError(f"{column} must be a JSON {kind.__name__}")
    return parsed


def _id(value: str | None, column: str = "id") -> str:
    if not value or not value.strip():
        raise RowError(f"{column} is empty")
    if len(value) > MAX_ID or not is_valid_identifier(value):
        raise RowError(f"{column} is not a valid id: {value[:40]!r}")
    return value


# --- row converters -------------------------------------------------------------------------


def session_row(raw: dict[str, str], versions: Versions) -> dict[str, Any]:
    org = raw.get("org_id") or ""
    if not is_valid_identifier(org):
        raise RowError(f"org_id is not a valid tenant id: {org[:40]!r}")
    ended = _timestamp(raw.get("ended_at"), "ended_at")
    return {
        "id": _id(raw.get("id")),
        "created_at": _timestamp(raw.get("created_at"), "created_at", required=True),
        "ended_at": ended,
        "phone_number": masked(_text(raw.get("phone_number"), 64)),
        "category": _text(raw.get("category"), 100),
        "satisfaction": _int(raw.get("satisfaction"), "satisfaction"),
        "is_escalated": bool(_bool(raw.get("is_escalated"), "is_escalated")),
        "escalation_reason": masked(_text(raw.get("escalation_reason"))),
        "metadata": masked_json(_json(raw.get("metadata"), "metadata", dict)),
        "org_id": org,
        "started_at": _timestamp(raw.get("started_at"), "started_at"),
        "duration_sec": _int(raw.get("duration_sec"), "duration_sec"),
        "channel": _text(raw.get("channel"), 32),
        "caller_masked": masked(_text(raw.get("caller_masked"), 64)),
        "agent_id": _text(raw.get("agent_id"), 128),
        "outcome": _text(raw.get("outcome"), 64),
        "sentiment": _text(raw.get("sentiment"), 32),
        "recording_url": _text(raw.get("recording_url")),
        "session_code": _text(raw.get("session_code"), 32),
        "status": "ended" if ended else "active",
        "language": "ko",
        "provider": "legacy",
        **versions.columns(),
    }


def turn_row(raw: dict[str, str], versions: Versions) -> dict[str, Any]:
    seq = _int(raw.get("seq"), "seq")
    if seq is None:
        raise RowError("seq is empty")
    return {
        "id": _id(raw.get("id")),
        "session_id": _id(raw.get("session_id"), "session_id"),
        "created_at": _timestamp(raw.get("created_at"), "created_at", required=True),
        "audio_url": _text(raw.get("audio_url")),
        "transcript_text": masked(_text(raw.get("transcript_text"))),
        "summary_text": masked(_text(raw.get("summary_text"))),
        "confirm_prompt": masked(_text(raw.get("confirm_prompt"))),
        "user_confirmed": _bool(raw.get("user_confirmed"), "user_confirmed"),
        "correction_text": masked(_text(raw.get("correction_text"))),
        "answer_text": masked(_text(raw.get("answer_text"))),
        "kb_references": _json(raw.get("kb_references"), "kb_references", list) or [],
        "seq": seq,
        "start_time": _text(raw.get("start_time"), 16),
        "end_time": _text(raw.get("end_time"), 16),
        "asr_confidence": _float(raw.get("asr_confidence"), "asr_confidence", 0.0, 1.0),
        "confirmation_response": masked(_text(raw.get("confirmation_response"))),
        "final_answer": masked(_text(raw.get("final_answer"))),
        "turn_code": _text(raw.get("turn_code"), 32),
        "tool_call_ids": [],
        "status": "legacy",
        **versions.columns(),
    }


def event_row(raw: dict[str, str], versions: Versions) -> dict[str, Any]:
    event_type = _text(raw.get("event_type"), 40)
    if not event_type:
        raise RowError("event_type is empty")
    return {
        "id": _id(raw.get("id")),
        "session_id": _id(raw.get("session_id"), "session_id"),
        "event_type": event_type,
        "payload": masked_json(_json(raw.get("payload"), "payload", dict) or {}),
        "created_at": _timestamp(raw.get("created_at"), "created_at", required=True),
        "turn_id": None,
        **versions.columns(),
    }


def review_row(raw: dict[str, str], versions: Versions) -> dict[str, Any]:
    return {
        "id": _id(raw.get("id")),
        "session_id": _id(raw.get("session_id"), "session_id"),
        "reason": masked(_text(raw.get("reason"))) or "",
        "owner": (masked(_text(raw.get("owner"), 128)) or "")[:128] or None,  # a mask may be longer
        "status": _text(raw.get("status"), 16) or "Open",
        "created_at": _timestamp(raw.get("created_at"), "created_at", required=True),
        "kind": "escalation",
        **versions.columns(),
    }


def audio_row(raw: dict[str, str], versions: Versions) -> dict[str, Any]:
    return {
        "id": _id(raw.get("id")),
        "session_id": _id(raw.get("session_id"), "session_id"),
        "label": _text(raw.get("label"), 200),
        "start_time": _text(raw.get("start_time"), 16),
        "end_time": _text(raw.get("end_time"), 16),
        "audio_url": _text(raw.get("audio_url")),
        "created_at": _timestamp(raw.get("created_at"), "created_at", required=True),
        **versions.columns(),
    }


_CONVERTERS: dict[str, tuple[Any, Callable[[dict[str, str], Versions], dict[str, Any]]]] = {
    "sessions": (sessions, session_row),
    "turns": (turns, turn_row),
    "event_logs": (event_logs, event_row),
    "review_queue": (review_queue, review_row),
    "audio_segments": (audio_segments, audio_row),
}
_REQUIRED_COLUMNS = {
    "sessions": {"id", "created_at", "org_id"},
    "turns": {"id", "session_id", "created_at", "seq"},
    "event_logs": {"id", "session_id", "event_type", "created_at"},
    "review_queue": {"id", "session_id", "reason", "created_at"},
    "audio_segments": {"id", "session_id", "created_at"},
}


# --- the import ----------------------------------------------------------------------------


def read_csv(path: Path) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """Header and ``(line number, row)`` pairs; raises INVALID_ARGUMENT for an unreadable file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            rows = [(reader.line_num, dict(row)) for row in reader]
            return list(reader.fieldnames or []), rows
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise invalid(f"cannot read {path}: {err}") from None


async def resolve_versions(agent_version_id: str | None) -> Versions:
    """The explicit legacy agent version, or a registry agent version named by id (or its printed prefix)."""
    if not agent_version_id or agent_version_id == LEGACY_AGENT_VERSION_ID:
        return Versions(LEGACY_AGENT_VERSION_ID, LEGACY_MANIFEST_SHA256)
    from registry.tables import agent_version

    engine = await get_engine()
    async with engine.connect() as conn:
        full_id = await resolve_id(
            conn,
            agent_version_id,
            select(agent_version.c.id),
            what="agent version",
            hint="see `switchboard registry agent show SLUG@N --json` for its id",
        )
        row = (
            await conn.execute(
                select(agent_version.c.id, agent_version.c.manifest_sha256).where(agent_version.c.id == full_id)
            )
        ).first()
    return Versions(row[0], row[1] or LEGACY_MANIFEST_SHA256)


def with_org(raw: dict[str, str], org_id: str) -> dict[str, str]:
    """A sessions.csv row moved to ``org_id``; a different original org is kept in its metadata."""
    original = (raw.get("org_id") or "").strip()
    out = {**raw, "org_id": org_id}
    if original and original != org_id:
        try:
            meta = loads(raw.get("metadata") or "{}", source="metadata")
        except ValueError:
            return out  # the converter reports the bad JSON
        if isinstance(meta, dict):
            out["metadata"] = json.dumps({**meta, "legacy_org_id": original}, ensure_ascii=False)
    return out


async def import_legacy(
    directory: Path, *, agent_version_id: str | None = None, dry_run: bool = False, org_id: str | None = None
) -> ImportReport:
    """Import the CSV exports in ``directory`` (``sessions.csv`` is required).

    A relative ``directory`` is taken from the current directory, as a shell would. With
    ``org_id`` every session (and its review items) goes to that org, whatever sessions.csv says.
    """
    directory = Path(directory).expanduser()
    where = "" if directory.is_absolute() else f" (looked in {directory.resolve()})"
    if not directory.is_dir():
        raise invalid(f"{directory} is not a directory{where}: give the folder holding sessions.csv, turns.csv, ...")
    sessions_file = not_regular_reason(directory / "sessions.csv")
    if sessions_file is not None and sessions_file.startswith("no such file"):
        raise invalid(f"{directory} has no sessions.csv{where}: every other table refers to sessions")
    for table in TABLES:  # a pipe would block the read, a folder is not the export: say so, write nothing
        reason = sessions_file if table == "sessions" else not_regular_reason(directory / f"{table}.csv")
        if reason is not None and not reason.startswith("no such file"):
            raise invalid(f"{directory / f'{table}.csv'} {reason}; give the table's CSV export")
    if org_id is not None and not is_valid_identifier(org_id):
        raise invalid("--org must be 1-128 letters, digits or ._:@- characters")
    versions = await resolve_versions(agent_version_id)
    report = ImportReport(versions.agent_version_id, versions.manifest_sha256, dry_run=dry_run)
    report.directory = str(directory.resolve())
    parsed: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for table in TABLES:
        path = directory / f"{table}.csv"
        if not path.exists():
            report.warnings.append(f"{table}.csv not found: nothing imported into {table}")
            parsed[table] = []
            continue
        header, raw_rows = read_csv(path)
        required = _REQUIRED_COLUMNS[table]
        if table == "sessions" and org_id is not None:
            raw_rows = [(line, with_org(raw, org_id)) for line, raw in raw_rows]
            required = required - {"org_id"}
        missing = required - set(header)
        if missing:
            raise invalid(f"{path.name} lacks the column(s) {', '.join(sorted(missing))}")
        parsed[table] = _convert(table, raw_rows, versions, report)

    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        known_sessions = await _existing_ids(conn, sessions, [r["id"] for _, r in parsed["sessions"]])
        session_ids = set(known_sessions)
        to_insert: dict[str, list[dict[str, Any]]] = {}
        for table in TABLES:
            sa_table = _CONVERTERS[table][0]
            existing = await _existing_ids(conn, sa_table, [r["id"] for _, r in parsed[table]])
            rows = []
            for line, row in parsed[table]:
                if row["id"] in existing:
                    report.skip(table, line, row["id"], "already imported (same id)")
                    continue
                if table != "sessions" and row["session_id"] not in session_ids:
                    if not await _session_exists(conn, row["session_id"]):
                        report.skip(table, line, row["id"], f"unknown session {row['session_id']}")
                        continue
                    session_ids.add(row["session_id"])
                rows.append(row)
            if table == "sessions":
                session_ids.update(r["id"] for r in rows)
            to_insert[table] = rows
        _link_events_to_turns(to_insert["event_logs"], to_insert["turns"])
        orgs = {r["id"]: r["org_id"] for r in to_insert["sessions"]}
        for item in to_insert["review_queue"]:  # review items belong to their session's org
            item["org_id"] = orgs.get(item["session_id"], org_id)
        _note_irregularities(to_insert, report)
        for table in TABLES:
            rows = to_insert[table]
            report.imported[table] = len(rows)
            if rows and not dry_run:
                await conn.execute(insert(_CONVERTERS[table][0]), rows)
        if dry_run:
            await conn.rollback()
    return report


def _convert(
    table: str, raw_rows: list[tuple[int, dict[str, str]]], versions: Versions, report: ImportReport
) -> list[tuple[int, dict[str, Any]]]:
    convert = _CONVERTERS[table][1]
    seen: set[str] = set()
    out = []
    for line, raw in raw_rows:
        if None in raw:  # more fields than the header
            report.skip(table, line, raw.get("id"), "more values than columns")
            continue
        try:
            row = convert(raw, versions)
        except RowError as err:
            report.skip(table, line, (raw.get("id") or None), str(err))
            continue
        if row["id"] in seen:
            report.skip(table, line, row["id"], "duplicate id in the file")
            continue
        seen.add(row["id"])
        out.append((line, row))
    return out


async def _existing_ids(conn: AsyncConnection, table: Any, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        found.update((await conn.execute(select(table.c.id).where(table.c.id.in_(chunk)))).scalars())
    return found


async def _session_exists(conn: AsyncConnection, session_id: str) -> bool:
    return (await conn.execute(select(sessions.c.id).where(sessions.c.id == session_id))).first() is not None


def _link_events_to_turns(events: list[dict[str, Any]], turn_rows: list[dict[str, Any]]) -> None:
    """Events of the ``{"seq": …, "step": …}`` shape name their turn by seq: link them."""
    by_seq = {(t["session_id"], t["seq"]): t["id"] for t in turn_rows}
    for event in events:
        seq = (event["payload"] or {}).get("seq")
        if isinstance(seq, int):
            event["turn_id"] = by_seq.get((event["session_id"], seq))


def _note_irregularities(rows: dict[str, list[dict[str, Any]]], report: ImportReport) -> None:
    empty = sum(1 for t in rows["turns"] if not t["transcript_text"])
    if empty:
        report.warnings.append(f"{empty} turn(s) have no transcript (kept; system or agent-only steps)")
    escalations = Counter(e["session_id"] for e in rows["event_logs"] if e["event_type"] == "ESCALATED")
    repeated = {s: n for s, n in escalations.items() if n > 1}
    if repeated:
        report.warnings.append(
            f"{len(repeated)} session(s) have repeated ESCALATED events (kept as recorded): "
            + ", ".join(f"{s[:8]}×{n}" for s, n in sorted(repeated.items()))
        )
    shapes = Counter("step" if "step" in (e["payload"] or {}) else "flat" for e in rows["event_logs"])
    if len(shapes) > 1:
        report.warnings.append(
            f"event payloads come in two shapes: {shapes['step']} with seq/step (linked to their turn), "
            f"{shapes['flat']} flat ({{'answer': …}}, {{'reason': …}})"
        )
    backwards = [s["id"] for s in rows["sessions"] if s["ended_at"] and s["ended_at"] < s["created_at"]]
    if backwards:
        report.warnings.append(
            f"{len(backwards)} session(s) have ended_at earlier than created_at (kept; created_at is when the row "
            "was written, started_at when the call began)"
        )
    flagged = {e["session_id"] for e in rows["event_logs"] if e["event_type"] == "ESCALATED"}
    inconsistent = [s["id"] for s in rows["sessions"] if s["id"] in flagged and not s["is_escalated"]]
    if inconsistent:
        report.warnings.append(
            f"{len(inconsistent)} session(s) have ESCALATED events but is_escalated=false (kept as recorded)"
        )
