"""Tool calls without a result: what a crash (or a call still running) left open in the audit log.

The host records every tool call twice: ``tool_call`` before it is sent and ``tool_result``
after, sharing ``trace_id`` (servers write one record after each call, so only the host's
records — ``source`` ``host`` — can be left half-written). A
``tool_call`` with no ``tool_result`` means the caller stopped in between — ``kill -9``, a power
cut — and nobody has yet said what became of the call. The host's crash recovery
(``host/recovery.py``) resolves them by appending the missing ``tool_result``; ``switchboard
audit verify`` lists the ones still open (a warning; a failure with ``--strict``).

Calls younger than the grace period (``SWITCHBOARD_AUDIT_ORPHAN_GRACE_S``, default 300 s, longer
than any tool timeout or turn) are not reported: they may simply still be running.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select

from audit.record import RECORD_FIELDS, AuditRecord, utc_timestamp
from audit.schema import audit_event
from audit.store import settled_engine

DEFAULT_GRACE_S = 300.0
PAIRED_SOURCE = "host"  # the one source that writes tool_call and tool_result as two records
_COLUMNS = [audit_event.c[name] for name in RECORD_FIELDS]


def grace_seconds() -> float:
    """``SWITCHBOARD_AUDIT_ORPHAN_GRACE_S`` (default 300)."""
    try:
        return max(0.0, float(os.environ.get("SWITCHBOARD_AUDIT_ORPHAN_GRACE_S", DEFAULT_GRACE_S)))
    except ValueError:
        return DEFAULT_GRACE_S


def unresolved_in(records: Iterable[AuditRecord]) -> list[AuditRecord]:
    """The host's ``tool_call`` records among ``records`` with no ``tool_result`` of the same trace."""
    calls: dict[tuple[str, str], AuditRecord] = {}
    answered: set[tuple[str, str]] = set()
    for record in records:
        if not record.trace_id or record.source != PAIRED_SOURCE:
            continue
        key = (record.source, record.trace_id)
        if record.event_type == "tool_call":
            calls[key] = record
        elif record.event_type == "tool_result":
            answered.add(key)
    return sorted((r for k, r in calls.items() if k not in answered), key=lambda r: (r.org_id, r.seq))


async def unresolved_calls(
    org_id: str | None = None, *, session_id: str | None = None, grace_s: float | None = None
) -> list[AuditRecord]:
    """Stored ``tool_call`` records without a ``tool_result``, older than the grace period, by org and seq."""
    grace = grace_seconds() if grace_s is None else grace_s
    result = audit_event.alias("result")
    answered = exists().where(
        and_(
            result.c.org_id == audit_event.c.org_id,
            result.c.trace_id == audit_event.c.trace_id,
            result.c.source == audit_event.c.source,
            result.c.event_type == "tool_result",
        )
    )
    query = select(*_COLUMNS).where(
        audit_event.c.event_type == "tool_call",
        audit_event.c.source == PAIRED_SOURCE,
        audit_event.c.trace_id.is_not(None),
        ~answered,
    )
    if org_id is not None:
        query = query.where(audit_event.c.org_id == org_id)
    if session_id is not None:
        query = query.where(audit_event.c.session_id == session_id)
    if grace > 0:
        query = query.where(audit_event.c.occurred_at <= utc_timestamp(datetime.now(UTC) - timedelta(seconds=grace)))
    engine = await settled_engine()  # with this process's journaled records
    async with engine.connect() as conn:
        rows = (await conn.execute(query.order_by(audit_event.c.org_id, audit_event.c.seq))).mappings().all()
    return [AuditRecord.from_row(r) for r in rows]


def describe(record: AuditRecord) -> dict[str, Any]:
    """One unresolved call for ``audit verify`` (JSON and the warning line)."""
    return {
        "org_id": record.org_id,
        "seq": record.seq,
        "occurred_at": record.occurred_at,
        "source": record.source,
        "trace_id": record.trace_id,
        "session_id": record.session_id,
        "turn_id": record.turn_id,
        "tool": record.exposed_name or record.tool_name,
    }


def print_unresolved(records: list[AuditRecord], *, strict: bool) -> None:
    """The warning lines of ``audit verify`` (red with ``--strict``, where they fail the check)."""
    from core.cliutil import console

    if not records:
        return
    mark = "[bold red]✗[/]" if strict else "[yellow]![/]"
    console.print(
        f"{mark} {len(records)} tool call(s) have no recorded result (the caller stopped mid-call;"
        " resuming the session resolves them): "
    )
    for r in records[:20]:
        tool = r.exposed_name or r.tool_name
        console.print(
            f"    {r.org_id} seq {r.seq} {r.occurred_at} {r.source} {tool} trace {r.trace_id} session {r.session_id}"
        )
    if len(records) > 20:
        console.print(f"    … {len(records) - 20} more (see --json)")
