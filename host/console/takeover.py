"""Live takeover: an operator holds a session, talks to the customer, and hands it back.

While a takeover row exists (``session_takeovers``, so every host worker sees it) the bot is
paused: a customer's ``user.message`` is recorded as a turn with status ``held`` and shown to
the operator, not answered. An operator's reply is a turn with ``actor = operator:<id>``,
audited (``operator_message``), and reaches the customer's WebSocket as ``operator.message``.
The customer also gets ``operator.joined`` and ``operator.left``.

Turn numbers are taken under the running conversation's lock when the customer is connected
to this process, so operator, customer and bot turns never share a ``seq``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import delete, insert, select

from core.db import get_engine, write_transaction
from core.errors import conflict, invalid, not_found
from host.console.actions import audited
from host.console.live import LIVE
from host.console.operators import Operator
from host.console.tables import session_takeovers
from host.store import EventRow, RecordStore, Versions, masked, new_id, now

MAX_REPLY = 4000
HELD = "held"


async def holder(session_id: str) -> dict[str, Any] | None:
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(session_takeovers).where(session_takeovers.c.session_id == session_id)))
            .mappings()
            .first()
        )
    return dict(row) if row else None


async def org_session(operator: Operator, session_id: str) -> dict[str, Any]:
    """The session if it is the operator's org's; NOT_FOUND otherwise."""
    try:
        row = await RecordStore().get_session(session_id)
    except Exception:
        row = None
    if row is None or row["org_id"] != operator.org_id:
        raise not_found(f"no session {session_id}")
    return row


def _versions(session: dict[str, Any]) -> Versions:
    return Versions(session["agent_version_id"], session["manifest_sha256"])


async def take_over(operator: Operator, session_id: str) -> None:
    session = await org_session(operator, session_id)
    if session["status"] != "active":
        raise conflict("this session has ended: there is nobody to talk to")
    current = await holder(session_id)
    if current and current["operator_id"] != operator.id:
        raise conflict("another operator holds this session")
    if current is None:
        engine = await get_engine()
        async with write_transaction(engine, immediate=True) as conn:
            taken = (
                await conn.execute(
                    select(session_takeovers.c.operator_id).where(session_takeovers.c.session_id == session_id)
                )
            ).first()
            if taken:
                raise conflict("another operator took this session a moment ago")
            await conn.execute(
                insert(session_takeovers).values(
                    session_id=session_id, org_id=operator.org_id, operator_id=operator.id, started_at=now()
                )
            )
        events = [EventRow("OPERATOR_TAKEOVER", {"actor": operator.actor})]
        await RecordStore().add_events(session_id, _versions(session), events)
        await audited(operator, "takeover", session_id=session_id)
    await _notify(session_id, "operator.joined", {"operator": operator.display_name})


async def hand_back(operator: Operator, session_id: str) -> None:
    session = await org_session(operator, session_id)
    engine = await get_engine()
    async with write_transaction(engine) as conn:
        done = await conn.execute(
            delete(session_takeovers).where(
                session_takeovers.c.session_id == session_id, session_takeovers.c.operator_id == operator.id
            )
        )
    if done.rowcount != 1:
        raise conflict("you do not hold this session")
    await RecordStore().add_events(
        session_id, _versions(session), [EventRow("OPERATOR_HANDBACK", {"actor": operator.actor})]
    )
    await audited(operator, "handback", session_id=session_id)
    await _notify(session_id, "operator.left", {"operator": operator.display_name})


async def reply(operator: Operator, session_id: str, text: str) -> bool:
    """Record and deliver an operator message; True when the customer is connected to receive it."""
    text = (text or "").strip()
    if not text:
        raise invalid("the message is empty")
    if len(text) > MAX_REPLY:
        raise invalid(f"a message is at most {MAX_REPLY} characters")
    session = await org_session(operator, session_id)
    current = await holder(session_id)
    if current is None or current["operator_id"] != operator.id:
        raise conflict("take over the session before you reply")
    turn_id = await _record_turn(
        session,
        {"answer_text": masked(text), "final_answer": masked(text), "status": "operator", "actor": operator.actor},
        EventRow("OPERATOR_MESSAGE", {"actor": operator.actor, "text": text}),
    )
    await audited(operator, "message", session_id=session_id, turn_id=turn_id, text=text)
    return await _notify(
        session_id, "operator.message", {"turn_id": turn_id, "text": text, "operator": operator.display_name}
    )


async def hold_if_taken_over(connection: Any, text: str) -> bool:
    """Called by the WebSocket app for each ``user.message``: True when an operator holds the session
    (the message is recorded as a ``held`` turn and acknowledged; the bot does not answer)."""
    conv = connection.conv
    if conv is None or await holder(conv.session_id) is None:
        return False
    text = (text or "").strip()
    if not text:
        raise invalid("the message is empty")
    session = await RecordStore().get_session(conv.session_id)
    turn_id = await _record_turn(
        session,
        {"transcript_text": masked(text[:MAX_REPLY]), "status": HELD, "actor": "customer"},
        EventRow("ASR_RECEIVED", {"transcript_text": masked(text[:MAX_REPLY]), "held_for_operator": True}),
    )
    await connection.send("turn.completed", {"turn_id": turn_id, "status": HELD, "answer": None})
    return True


async def _record_turn(session: dict[str, Any], values: dict[str, Any], event: EventRow) -> str:
    store = RecordStore()
    turn_id = new_id()
    connection = LIVE.find(session["id"])
    conv = connection.conv if connection is not None else None
    # the running conversation numbers its turns itself: take its lock, then make it re-read
    lock = conv._lock if conv is not None else contextlib.nullcontext()
    async with lock:
        seq = await store.next_turn_seq(session["id"])
        row = {
            "id": turn_id,
            "session_id": session["id"],
            "created_at": now(),
            "completed_at": now(),
            "seq": seq,
            "kb_references": [],
            "tool_call_ids": [],
            **_versions(session).columns(),
            **values,
        }
        event.turn_id = turn_id
        await store.start_turn(row, [event])
        if conv is not None:
            conv._next_seq = None
    return turn_id


async def _notify(session_id: str, kind: str, payload: dict[str, Any]) -> bool:
    connection = LIVE.find(session_id)
    if connection is None:
        return False
    await connection.send(kind, payload)
    return True


async def continue_after_approval(session_id: str, review_id: str) -> bool:
    """Run a just-decided approval in the customer's live conversation now (a new turn whose answer
    reaches their WebSocket). False when the customer is not connected here: the call then runs at
    their next turn, as before."""
    from host import approvals

    connection = LIVE.find(session_id)
    conv = connection.conv if connection is not None else None
    if conv is None or review_id not in conv.state.approvals:
        return False

    async def proceed(turn: Any) -> None:
        await approvals.run_approved_calls(conv, turn)
        if await holder(session_id) is None:  # a person holding the session answers themselves
            await conv.model_loop(turn)

    async with conv._lock:
        if conv.ended:
            return False
        turn = await conv._open_turn(None)
        await conv._run(turn, proceed(turn))
        await conv._close_turn(turn)
    return True
