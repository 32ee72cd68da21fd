"""Reading sessions for the console: search by customer, date and outcome; one session in full; CSV."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from core.clock import iso_utc
from core.db import get_engine
from host.console.operators import Operator
from host.console.queue import within_days
from host.console.takeover import holder, org_session
from host.records import sessions, turns
from host.store import RecordStore

CSV_COLUMNS = (
    "id",
    "created_at",
    "ended_at",
    "customer_ref",
    "channel",
    "status",
    "outcome",
    "is_escalated",
    "escalation_reason",
    "summary_text",
    "agent_id",
    "agent_version_id",
    "manifest_sha256",
)


async def search(
    operator: Operator,
    *,
    customer: str | None = None,
    outcome: str | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    query = select(sessions).where(sessions.c.org_id == operator.org_id).order_by(sessions.c.created_at.desc())
    if customer:
        query = query.where(sessions.c.customer_ref == customer[:128])
    if outcome:
        query = query.where(sessions.c.outcome == outcome[:64])
    query = within_days(query, sessions.c.created_at, day_from, day_to)
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (await conn.execute(query.limit(limit))).mappings().all()
    return [{k: r[k] for k in CSV_COLUMNS} for r in rows]


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in CSV_COLUMNS})
    return "\ufeff" + out.getvalue()  # a BOM, so spreadsheet programs read the Korean text as UTF-8


def _cell(value: Any) -> str:
    text = "" if value is None else iso_utc(value) if isinstance(value, datetime) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text  # no formulas from customer text


async def detail(operator: Operator, session_id: str) -> dict[str, Any]:
    """A session of the operator's org: turns, tool calls with versions, citations, memories, takeover."""
    await org_session(operator, session_id)
    data = await RecordStore().session_detail(session_id)
    session = data["session"]
    state = session.pop("state", None) or {}
    calls: dict[str, list[dict[str, Any]]] = {}
    for event in data["events"]:
        payload = event["payload"] if isinstance(event["payload"], dict) else {}
        if event["event_type"] == "TOOL_CALLED":
            calls.setdefault(event["turn_id"] or "", []).append(payload)
    for turn in data["turns"]:
        turn["tool_calls"] = calls.get(turn["id"], [])
        turn["who"] = _who(turn)
    return {
        "session": session,
        "turns": data["turns"],
        "session_calls": calls.get("", []),
        "memories": state.get("memories") or [],
        "reviews": data["reviews"],
        "holder": await holder(session_id),
    }


def _who(turn: dict[str, Any]) -> str:
    actor = turn.get("actor") or ""
    return "operator" if actor.startswith("operator:") else "customer"


async def transcript_digest(session_id: str) -> str:
    engine = await get_engine()
    query = select(turns.c.id, turns.c.status).where(turns.c.session_id == session_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    held = await holder(session_id)
    return f"{len(rows)}|{sorted(str(r[1]) for r in rows)}|{held and held['operator_id']}"
