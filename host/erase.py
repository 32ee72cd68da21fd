"""Erasing one customer's conversation records: sessions, turns, events, review items, audio segments.

Called by ``switchboard customer erase`` (see ``switchboard_erase.py``). Rows are deleted for
good: on SQLite with ``secure_delete=ON`` (freed space is zeroed) followed by a WAL checkpoint
that truncates the ``-wal`` file, so the text is gone from the files too.

A retention hold (``SWITCHBOARD_ERASE_RETENTION_DAYS``, e.g. the 5 years the Korean
e-commerce consumer-protection act asks for records of contracts and complaints) keeps the
sessions that started less than that many days ago, whole, and reports them as held with the
date they will go; an erase run after that date removes them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select

from core.db import checkpoint_wal, get_pooled_engine, is_sqlite
from core.settings import get_settings
from host.records import audio_segments, event_logs, review_queue, sessions, turns
from host.store import as_utc, now

_ERASE_PRAGMAS = ("secure_delete=ON",)


@dataclass(slots=True)
class HostErasure:
    """What was removed, and what a retention hold kept (with the date it goes)."""

    sessions: int = 0
    turns: int = 0
    events: int = 0
    review_items: int = 0
    audio_segments: int = 0
    held_sessions: int = 0
    held_until: str | None = None
    held_session_ids: list[str] = field(default_factory=list)
    wal_checkpointed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def erase_customer_records(
    org_id: str, customer_ref: str, *, retention_days: int | None = None, at: datetime | None = None
) -> HostErasure:
    """Delete every conversation record of the customer, except sessions under the retention hold."""
    days = get_settings().erase_retention_days if retention_days is None else retention_days
    moment = at or now()
    engine = await get_pooled_engine(pool_size=1, max_overflow=2, extra_pragmas=_ERASE_PRAGMAS)
    out = HostErasure()
    async with engine.connect() as conn:
        if is_sqlite(engine):
            conn = await conn.execution_options(sqlite_begin="IMMEDIATE")
        async with conn.begin():
            found = await conn.execute(
                select(sessions.c.id, sessions.c.created_at, sessions.c.started_at).where(
                    sessions.c.org_id == org_id, sessions.c.customer_ref == customer_ref
                )
            )
            erase_ids: list[str] = []
            held: list[tuple[str, datetime]] = []
            for session_id, created_at, started_at in found:
                begun = as_utc(started_at or created_at) or moment
                until = begun + timedelta(days=days)
                if days > 0 and until > moment:
                    held.append((session_id, until))
                else:
                    erase_ids.append(session_id)
            for start in range(0, len(erase_ids), 500):
                chunk = erase_ids[start : start + 500]
                out.review_items += await _delete(conn, review_queue, review_queue.c.session_id.in_(chunk))
                out.events += await _delete(conn, event_logs, event_logs.c.session_id.in_(chunk))
                out.audio_segments += await _delete(conn, audio_segments, audio_segments.c.session_id.in_(chunk))
                out.turns += await _delete(conn, turns, turns.c.session_id.in_(chunk))
                out.sessions += await _delete(conn, sessions, sessions.c.id.in_(chunk))
    if held:
        out.held_sessions = len(held)
        out.held_session_ids = sorted(s for s, _ in held)
        out.held_until = max(u for _, u in held).date().isoformat()
    out.wal_checkpointed = await checkpoint_wal(engine)
    return out


async def _delete(conn: Any, table: Any, where: Any) -> int:
    return (await conn.execute(delete(table).where(where))).rowcount or 0
