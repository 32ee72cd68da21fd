"""Reading and writing conversation records. Personal data is masked before anything is stored.

Writes are grouped so a turn costs few transactions: the utterance and its events in one, the
outcome and its events in another.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import get_engine
from core.errors import conflict, invalid, not_found
from core.ids import resolve_id
from core.pii import mask_text
from core.redaction import redact
from host.records import (
    REVIEW_APPROVED,
    REVIEW_EXECUTED,
    REVIEW_OPEN,
    REVIEW_REJECTED,
    REVIEW_RESOLVED,
    event_logs,
    review_queue,
    sessions,
    turns,
)
from host.writer import GroupCommit

T = TypeVar("T")


def now() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    """A random UUID (version 4): session, turn, event and review ids.

    Some random UUIDs hold a phone number's shape (``ef266e60-e043-4628-8014-…``); the PII
    detector (:mod:`core.pii`) knows identifier shapes and never masks them, so the audit log
    keeps every id intact.
    """
    return str(uuid.uuid4())


def new_call_id() -> str:
    """A tool call's trace id: 32 hex digits (a UUID 4 without dashes)."""
    return uuid.uuid4().hex


def masked(text: str | None) -> str | None:
    """``text`` with personal data masked (phone, card, account, registration numbers, e-mail)."""
    return mask_text(text) if text else text


def masked_json(value: Any) -> Any:
    """A JSON copy of ``value`` with personal data masked (plain JSON without any: a fast copy)."""
    return redact(value).value if value is not None else None


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes: they are UTC."""
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(slots=True)
class Versions:
    """The agent version and manifest hash every record carries."""

    agent_version_id: str
    manifest_sha256: str

    def columns(self) -> dict[str, str]:
        return {"agent_version_id": self.agent_version_id, "manifest_sha256": self.manifest_sha256}


@dataclass(slots=True)
class EventRow:
    event_type: str
    payload: dict[str, Any]
    turn_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: datetime = field(default_factory=now)


# Statements built once: executing a constant statement with parameters reuses its compiled form.
_INSERT_SESSION = insert(sessions)
_INSERT_TURN = insert(turns)
_INSERT_EVENTS = insert(event_logs)
_UPDATE_SESSION = update(sessions).where(sessions.c.id == bindparam("where_id"))
_UPDATE_TURN = update(turns).where(
    turns.c.id == bindparam("where_id"), turns.c.session_id == bindparam("where_session_id")
)


def _update_session(conn: Connection, session_id: str, values: dict[str, Any]) -> int:
    """``UPDATE sessions SET <values>, updated_at = now WHERE id = session_id``; the row count."""
    return conn.execute(_UPDATE_SESSION, {"updated_at": now(), **values, "where_id": session_id}).rowcount


def _update_turn(conn: Connection, turn_id: str, session_id: str, values: dict[str, Any]) -> int:
    return conn.execute(_UPDATE_TURN, {**values, "where_id": turn_id, "where_session_id": session_id}).rowcount


class RecordStore:
    """Conversation records in the configured database."""

    def __init__(self, engine: AsyncEngine | None = None) -> None:
        self._engine = engine
        self._writes = GroupCommit(self.engine)

    async def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = await get_engine()
        return self._engine

    async def aclose(self) -> None:
        """Finish queued writes and close the writer's connection."""
        await self._writes.aclose()

    # sessions -------------------------------------------------------------------------------

    async def create_session(self, row: dict[str, Any], events: Iterable[EventRow] = ()) -> None:
        versions = Versions(row["agent_version_id"], row["manifest_sha256"])
        events = list(events)

        def op(conn: Connection) -> None:
            conn.execute(_INSERT_SESSION, row)
            self._insert_events(conn, row["id"], versions, events)

        await self._writes.run(op)

    async def get_session(self, session_id: str) -> dict[str, Any]:
        engine = await self.engine()
        async with engine.connect() as conn:
            row = (await conn.execute(select(sessions).where(sessions.c.id == session_id))).mappings().first()
        if row is None:
            raise not_found(f"no session {session_id}")
        return dict(row)

    async def update_session(
        self, session_id: str, versions: Versions, values: dict[str, Any], events: Iterable[EventRow] = ()
    ) -> None:
        events = list(events)

        def op(conn: Connection) -> None:
            if _update_session(conn, session_id, values) != 1:
                raise not_found(f"no session {session_id}")
            self._insert_events(conn, session_id, versions, events)

        await self._writes.run(op)

    async def customer_sessions(self, org_id: str, customer_ref: str, limit: int = 50) -> list[dict[str, Any]]:
        engine = await self.engine()
        query = (
            select(sessions)
            .where(sessions.c.org_id == org_id, sessions.c.customer_ref == customer_ref)
            .order_by(sessions.c.created_at.desc())
            .limit(limit)
        )
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    # turns ----------------------------------------------------------------------------------

    async def next_turn_seq(self, session_id: str) -> int:
        engine = await self.engine()
        async with engine.connect() as conn:
            value = (await conn.execute(select(func.max(turns.c.seq)).where(turns.c.session_id == session_id))).scalar()
        return int(value or 0) + 1

    async def start_turn(self, row: dict[str, Any], events: Iterable[EventRow] = ()) -> None:
        await self.submit_start_turn(row, events)

    def submit_start_turn(self, row: dict[str, Any], events: Iterable[EventRow] = ()) -> asyncio.Future[None]:
        """Queue the turn's row (and events) now; the future resolves once it is committed.

        Writes are applied in order, so a later :meth:`finish_turn` of the turn finds its row.
        """
        versions = Versions(row["agent_version_id"], row["manifest_sha256"])
        events = list(events)

        def op(conn: Connection) -> None:
            conn.execute(_INSERT_TURN, row)
            self._insert_events(conn, row["session_id"], versions, events)

        return self._writes.submit(op)

    async def finish_turn(
        self,
        turn_id: str,
        session_id: str,
        versions: Versions,
        values: dict[str, Any],
        events: Iterable[EventRow] = (),
        session_values: dict[str, Any] | None = None,
        other_turn: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """Record a turn's outcome, its events and the session's new state in one transaction.

        ``other_turn`` updates an earlier turn too: the answer to a confirmation is recorded on the
        turn that asked (``user_confirmed``, ``confirmation_response``, ``correction_text``).
        """
        events = list(events)

        def op(conn: Connection) -> None:
            if _update_turn(conn, turn_id, session_id, values) != 1:
                raise not_found(f"no turn {turn_id}")
            if other_turn and other_turn[0]:
                _update_turn(conn, other_turn[0], session_id, other_turn[1])
            if session_values:
                _update_session(conn, session_id, session_values)
            self._insert_events(conn, session_id, versions, events)

        await self._writes.run(op)

    async def session_detail(self, session_id: str) -> dict[str, Any]:
        """A session with its turns, events and review items (for GET /v1/sessions/{id})."""
        session = await self.get_session(session_id)
        engine = await self.engine()
        async with engine.connect() as conn:
            turn_rows = (
                await conn.execute(
                    select(turns).where(turns.c.session_id == session_id).order_by(turns.c.seq, turns.c.created_at)
                )
            ).mappings()
            turn_list = [dict(r) for r in turn_rows]
            event_rows = (
                await conn.execute(
                    select(event_logs)
                    .where(event_logs.c.session_id == session_id)
                    .order_by(event_logs.c.created_at, event_logs.c.id)
                )
            ).mappings()
            event_list = [dict(r) for r in event_rows]
            review_rows = (
                await conn.execute(
                    select(review_queue)
                    .where(review_queue.c.session_id == session_id)
                    .order_by(review_queue.c.created_at)
                )
            ).mappings()
            review_list = [dict(r) for r in review_rows]
        return {"session": session, "turns": turn_list, "events": event_list, "reviews": review_list}

    # events ---------------------------------------------------------------------------------

    async def add_events(self, session_id: str, versions: Versions, events: Iterable[EventRow]) -> None:
        events = list(events)

        def op(conn: Connection) -> None:
            self._insert_events(conn, session_id, versions, events)

        await self._writes.run(op)

    @staticmethod
    def _insert_events(conn: Connection, session_id: str, versions: Versions, events: Iterable[EventRow]) -> None:
        rows = [
            {
                "id": e.id,
                "session_id": session_id,
                "turn_id": e.turn_id,
                "event_type": e.event_type,
                "payload": masked_json(e.payload),
                "created_at": e.created_at,
                **versions.columns(),
            }
            for e in events
        ]
        if rows:
            conn.execute(_INSERT_EVENTS, rows)

    # review queue ---------------------------------------------------------------------------

    async def add_review(
        self,
        *,
        session_id: str,
        org_id: str,
        versions: Versions,
        reason: str,
        kind: str = "escalation",
        turn_id: str | None = None,
        payload: dict[str, Any] | None = None,
        events: Iterable[EventRow] = (),
        session_values: dict[str, Any] | None = None,
    ) -> str:
        review_id = new_id()
        events = list(events)

        def op(conn: Connection) -> None:
            conn.execute(
                insert(review_queue).values(
                    id=review_id,
                    session_id=session_id,
                    reason=masked(reason) or "",
                    owner=None,
                    status=REVIEW_OPEN,
                    created_at=now(),
                    org_id=org_id,
                    kind=kind,
                    turn_id=turn_id,
                    payload=masked_json(payload) if payload is not None else None,
                    **versions.columns(),
                )
            )
            if session_values:
                _update_session(conn, session_id, session_values)
            self._insert_events(conn, session_id, versions, events)

        await self._writes.run(op)
        return review_id

    async def list_reviews(
        self, *, status: str | None = None, org_id: str | None = None, kind: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        engine = await self.engine()
        query = select(review_queue).order_by(review_queue.c.created_at.desc()).limit(limit)
        if status:
            query = query.where(review_queue.c.status == status)
        if org_id:
            query = query.where(review_queue.c.org_id == org_id)
        if kind:
            query = query.where(review_queue.c.kind == kind)
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(query)).mappings().all()]

    async def review_id(self, given: str, org_id: str | None = None) -> str:
        """The full id of the review item that ``given`` (full id or printed prefix) names."""
        query = select(review_queue.c.id)
        if org_id:
            query = query.where(review_queue.c.org_id == org_id)
        engine = await self.engine()
        async with engine.connect() as conn:
            return await resolve_id(conn, given, query, what="review item", hint="see `switchboard review list`")

    async def get_review(self, review_id: str) -> dict[str, Any]:
        engine = await self.engine()
        async with engine.connect() as conn:
            row = (await conn.execute(select(review_queue).where(review_queue.c.id == review_id))).mappings().first()
        if row is None:
            raise not_found(f"no review item {review_id}: see `switchboard review list`")
        return dict(row)

    async def resolve_review(
        self, review_id: str, *, decision: str, by: str, note: str = "", owner: str | None = None
    ) -> dict[str, Any]:
        """Approve or reject an approval request, or resolve an escalation. Only open items change."""
        item = await self.get_review(review_id)
        if item["status"] != REVIEW_OPEN:
            raise conflict(f"review item {review_id} is already {item['status']}")
        if item["kind"] == "approval":
            if decision not in ("approve", "reject"):
                raise invalid("an approval request is resolved with --approve or --reject")
            status = REVIEW_APPROVED if decision == "approve" else REVIEW_REJECTED
        else:
            if decision == "approve":
                raise invalid("an escalation has nothing to approve: resolve it (optionally with --note)")
            status = REVIEW_RESOLVED if decision == "resolve" else REVIEW_REJECTED

        def op(conn: Connection) -> None:
            result = conn.execute(
                update(review_queue)
                .where(review_queue.c.id == review_id, review_queue.c.status == REVIEW_OPEN)
                .values(
                    status=status,
                    resolved_by=by,
                    resolved_at=now(),
                    resolution_note=masked(note) or None,
                    owner=owner or item["owner"] or by,
                )
            )
            if result.rowcount != 1:
                raise conflict(f"review item {review_id} changed meanwhile: look at it again")

        await self._writes.run(op)
        return await self.get_review(review_id)

    async def approved_calls(self, session_id: str) -> list[dict[str, Any]]:
        """Approval requests of a session that an operator approved and the host has not run yet."""
        engine = await self.engine()
        query = (
            select(review_queue)
            .where(
                and_(
                    review_queue.c.session_id == session_id,
                    review_queue.c.kind == "approval",
                    review_queue.c.status.in_([REVIEW_APPROVED, REVIEW_REJECTED]),
                    review_queue.c.payload.is_not(None),
                )
            )
            .order_by(review_queue.c.created_at)
        )
        async with engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
        return [r for r in rows if not (r["payload"] or {}).get("handled")]

    async def mark_approval_handled(self, review_id: str, *, executed: bool) -> None:
        item = await self.get_review(review_id)
        payload = {**(item["payload"] or {}), "handled": True}
        values: dict[str, Any] = {"payload": payload}
        if executed:
            values["status"] = REVIEW_EXECUTED
        await self._writes.run(
            lambda conn: conn.execute(update(review_queue).where(review_queue.c.id == review_id).values(**values))
        )
