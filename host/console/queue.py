"""The review queue as an operator works it: views, filters, claim, assign, notes, resolve, approve.

Everything is scoped to the operator's org: another org's item is "not found" (404), never
"forbidden", so ids of other tenants cannot be probed. Each change is one guarded UPDATE (the
item must still be open and, for claims, unowned or the operator's) and one audit record.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, insert, or_, select, update

from core.db import get_engine, write_transaction
from core.errors import conflict, invalid, not_found
from host.console.actions import audited
from host.console.operators import Operator
from host.console.tables import operators, review_notes
from host.records import REVIEW_OPEN, review_queue, sessions
from host.store import RecordStore, masked, new_id, now

VIEWS = ("open", "mine", "resolved")
OUTCOMES = ("resolved", "callback_scheduled", "refund_issued", "no_action", "duplicate")
MAX_NOTE = 2000


def parse_day(value: str | None, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise invalid(f"{field} must be a date like 2026-12-03") from None


def within_days(query: Any, column: Any, day_from: date | None, day_to: date | None) -> Any:
    """``query`` limited to rows whose ``column`` falls on ``day_from`` … ``day_to`` (UTC days, inclusive)."""
    if day_from:
        query = query.where(column >= datetime.combine(day_from, datetime.min.time(), UTC))
    if day_to:
        query = query.where(column < datetime.combine(day_to + timedelta(days=1), datetime.min.time(), UTC))
    return query


async def list_items(
    operator: Operator,
    *,
    view: str = "open",
    reason: str | None = None,
    kind: str | None = None,
    day_from: date | None = None,
    day_to: date | None = None,
    limit: int = 200,
) -> list[dict[str, Any]]:
    """The operator's org's items: ``open`` (all open), ``mine`` (open, owned by me), ``resolved``."""
    if view not in VIEWS:
        raise invalid(f"view must be one of {', '.join(VIEWS)}")
    rq = review_queue
    query = (
        select(rq, sessions.c.customer_ref, sessions.c.status.label("session_status"))
        .join(sessions, sessions.c.id == rq.c.session_id)
        .where(rq.c.org_id == operator.org_id)
        .order_by(rq.c.created_at.desc())
        .limit(limit)
    )
    if view == "open":
        query = query.where(rq.c.status == REVIEW_OPEN)
    elif view == "mine":
        query = query.where(rq.c.status == REVIEW_OPEN, rq.c.owner == operator.actor)
    else:
        query = query.where(rq.c.status != REVIEW_OPEN)
    if reason:
        query = query.where(rq.c.reason.contains(reason[:200], autoescape=True))
    if kind:
        query = query.where(rq.c.kind == kind)
    query = within_days(query, rq.c.created_at, day_from, day_to)
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
    names = await owner_names(operator.org_id)
    for row in rows:
        row["owner_name"] = names.get(row["owner"] or "", row["owner"] or "")
    return rows


async def queue_digest(org_id: str) -> str:
    """Changes whenever the org's queue does: a new item, a claim or assignment, a resolution."""
    import hashlib

    rq = review_queue
    query = (
        select(rq.c.id, rq.c.owner, rq.c.status)
        .where(rq.c.org_id == org_id)
        .order_by(rq.c.created_at.desc())
        .limit(500)
    )
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return hashlib.sha256(repr([tuple(r) for r in rows]).encode()).hexdigest()[:16]


async def owner_names(org_id: str) -> dict[str, str]:
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(operators).where(operators.c.org_id == org_id))).mappings().all()
    return {f"operator:{r['id']}": r["display_name"] or r["username"] for r in rows}


async def get_item(operator: Operator, review_id: str) -> dict[str, Any]:
    """The item with its notes; NOT_FOUND for an unknown id or another org's."""
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(review_queue).where(review_queue.c.id == review_id, review_queue.c.org_id == operator.org_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            raise not_found(f"no review item {review_id}")
        notes = (
            (
                await conn.execute(
                    select(review_notes)
                    .where(review_notes.c.review_id == review_id)
                    .order_by(review_notes.c.created_at)
                )
            )
            .mappings()
            .all()
        )
    item = dict(row)
    names = await owner_names(operator.org_id)
    item["owner_name"] = names.get(item["owner"] or "", item["owner"] or "")
    item["notes"] = [{**dict(n), "author_name": names.get(n["author"], n["author"])} for n in notes]
    return item


async def _guarded_update(review_id: str, org_id: str, condition: Any, values: dict[str, Any], refusal: str) -> None:
    engine = await get_engine()
    async with write_transaction(engine) as conn:
        done = await conn.execute(
            update(review_queue)
            .where(review_queue.c.id == review_id, review_queue.c.org_id == org_id, condition)
            .values(**values)
        )
        if done.rowcount != 1:
            raise conflict(refusal)


async def claim(operator: Operator, review_id: str) -> None:
    item = await get_item(operator, review_id)
    await _guarded_update(
        review_id,
        operator.org_id,
        and_(
            review_queue.c.status == REVIEW_OPEN,
            or_(review_queue.c.owner.is_(None), review_queue.c.owner == operator.actor),
        ),
        {"owner": operator.actor},
        f"{item['owner_name'] or 'someone'} already holds this item, or it is closed: reload the queue",
    )
    await audited(operator, "claim", session_id=item["session_id"], review_id=review_id)


async def assign(operator: Operator, review_id: str, username: str) -> None:
    item = await get_item(operator, review_id)
    engine = await get_engine()
    async with engine.connect() as conn:
        target = (
            (
                await conn.execute(
                    select(operators).where(
                        operators.c.username == username,
                        operators.c.org_id == operator.org_id,
                        operators.c.is_disabled.is_(False),
                    )
                )
            )
            .mappings()
            .first()
        )
    if target is None:
        raise invalid(f"no active operator {username!r} in your org")
    await _guarded_update(
        review_id,
        operator.org_id,
        review_queue.c.status == REVIEW_OPEN,
        {"owner": f"operator:{target['id']}"},
        "this item is closed: reload the queue",
    )
    await audited(operator, "assign", session_id=item["session_id"], review_id=review_id, to=username)


async def add_note(operator: Operator, review_id: str, note: str) -> None:
    note = (note or "").strip()
    if not note:
        raise invalid("the note is empty")
    if len(note) > MAX_NOTE:
        raise invalid(f"a note is at most {MAX_NOTE} characters")
    item = await get_item(operator, review_id)
    engine = await get_engine()
    async with write_transaction(engine) as conn:
        await conn.execute(
            insert(review_notes).values(
                id=new_id(),
                review_id=review_id,
                org_id=operator.org_id,
                author=operator.actor,
                note=masked(note),
                created_at=now(),
            )
        )
    await audited(operator, "note", session_id=item["session_id"], review_id=review_id, note=note)


async def resolve(operator: Operator, review_id: str, outcome: str, note: str = "") -> dict[str, Any]:
    """Close an escalation with an outcome (one of :data:`OUTCOMES`)."""
    if outcome not in OUTCOMES:
        raise invalid(f"outcome must be one of {', '.join(OUTCOMES)}")
    item = await get_item(operator, review_id)
    if item["kind"] != "escalation":
        raise invalid("an approval request is approved or denied, not resolved")
    text = f"[{outcome}] {note.strip()}".strip()[:MAX_NOTE]
    done = await RecordStore().resolve_review(review_id, decision="resolve", by=operator.actor, note=text)
    await audited(operator, "resolve", session_id=item["session_id"], review_id=review_id, outcome=outcome, note=note)
    return done


async def decide(operator: Operator, review_id: str, *, approve: bool, reason: str) -> dict[str, Any]:
    """Approve or deny a tool call waiting for an operator; a reason is required."""
    reason = (reason or "").strip()
    if not reason:
        raise invalid("say why (the reason is kept with the decision and audited)")
    item = await get_item(operator, review_id)
    if item["kind"] != "approval":
        raise invalid("only approval requests are approved or denied")
    done = await RecordStore().resolve_review(
        review_id, decision="approve" if approve else "reject", by=operator.actor, note=reason[:MAX_NOTE]
    )
    await audited(
        operator,
        "approve" if approve else "deny",
        session_id=item["session_id"],
        review_id=review_id,
        exposed_name=(item["payload"] or {}).get("exposed_name"),
        reason=reason,
    )
    return done
