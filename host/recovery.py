"""Crash recovery: what a killed host left open is closed from what actually happened.

A host killed mid-turn (``kill -9``, a power cut) leaves the turn row ``open``, and maybe a
``tool_call`` audit record without its ``tool_result``. When the session resumes
(:meth:`host.engine.Conversation.resume` calls :func:`recover_session`), every open turn of it is
closed here, in order:

1. each tool call of the turn is read back from the audit log (the turn's own events were never
   written) and resolved:
   - it has a ``tool_result``: it is recorded as it ended;
   - a **read** without a result is marked interrupted (``INTERRUPTED``; it is not repeated);
   - a **write** without a result is checked against its server by its idempotency key through
     the pinned lookup tool (``request_refund`` → ``find_refund_request``), through the gateway
     like any call: found means *done* (the refund is recorded as the call's result), not found
     means *not done*; with no lookup pinned or a failed lookup the outcome is *unknown* and the
     session goes to a person (review queue);
   the missing ``tool_result`` is appended to the audit log (``details.recovered``), so
   ``audit verify`` has nothing left to report;
2. the turn is closed ``failed`` with error code ``INTERRUPTED``, its ``TOOL_CALLED`` events and
   a ``TURN_FAILED`` event, its call ids in ``tool_call_ids``;
3. the session state drops the pending confirmation (the customer is told what happened and asks
   again if they still want it), counts the failed turn (so the outcome is not "해결"), keeps the
   interrupted writes for the summary, and queues a notice that :func:`deliver_notices` adds to
   the next turn's answer.

Limit: recovery trusts that no other worker still runs the open turn. A worker that lost its
client but lives on would finish the turn after this closed it; resume a session only where the
old worker is gone (the WebSocket reconnect after a crash is exactly that case).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from host.records import turns
from host.store import EventRow, new_call_id, now
from host.tooling import CallOutcome, ExposedTool, Invocation, TurnBudget

if TYPE_CHECKING:
    from audit import AuditRecord
    from host.port import ConversationPort as Conversation
    from host.session import SessionState

log = logging.getLogger("switchboard.host.recovery")

INTERRUPTED = "INTERRUPTED"
# write tool -> (the read tool that finds it by idempotency key, that tool's key argument)
LOOKUPS = {"request_refund": ("find_refund_request", "key")}
_MAX_RECORDS = 10_000


@dataclass(slots=True)
class Resolution:
    """What became of one call of an interrupted turn."""

    exposed_name: str
    kind: str  # read | write
    outcome: str  # done | failed | not_done | unknown | interrupted | not_sent
    call_id: str | None = None  # None: the call was never sent (no tool_call record)
    tool_name: str = ""
    server_name: str = ""
    server_version: str = ""
    definition_sha256: str = ""
    data: Any = None
    checked_by: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == "done"

    def event(self, seq: int) -> dict[str, Any]:
        """The ``TOOL_CALLED`` payload: the usual call summary, flagged as recovered."""
        summary = CallOutcome(
            call_id=self.call_id or "",
            exposed_name=self.exposed_name,
            ok=self.ok,
            content="",
            error_code=None if self.ok else INTERRUPTED,
            server_name=self.server_name,
            server_version=self.server_version,
            tool_name=self.tool_name,
            definition_sha256=self.definition_sha256,
        ).summary()
        extra = {"latency_ms": None, "recovered": True, "outcome": self.outcome, "checked_by": self.checked_by}
        return {"seq": seq, **summary, **extra}


async def recover_session(conv: Conversation) -> list[Resolution]:
    """Close every open turn of ``conv``'s session from the audit log and the servers (see module doc)."""
    open_turns = await _open_turns(conv)
    if not open_turns:  # the common case: nothing crashed, no audit query
        return []
    from audit.record import utc_timestamp
    from audit.store import find

    first = min(t["created_at"] for t in open_turns)
    first = first if first.tzinfo else first.replace(tzinfo=UTC)
    since = utc_timestamp(first - timedelta(minutes=1))  # the org/time index bounds the search
    records = await find(org_id=conv.profile.org_id, session_id=conv.session_id, since=since, limit=_MAX_RECORDS)
    host = [r for r in records if r.source == "host"]
    results = {r.trace_id: r for r in host if r.event_type == "tool_result"}
    tools = {t.exposed_name: t for t in conv.layer.exposed_tools()}
    lang = conv.state.language or "ko"
    everything: list[Resolution] = []
    for index, turn in enumerate(open_turns):
        calls = [r for r in host if r.event_type == "tool_call" and r.turn_id == turn["id"]]
        resolved = [
            await _resolve(conv, call, results.get(call.trace_id), tools.get(call.exposed_name or ""), turn["id"])
            for call in calls
        ]
        if not calls and conv.state.pending and index == len(open_turns) - 1:
            pending = conv.state.pending.get("call") or {}
            name = str(pending.get("name") or "")
            tool = tools.get(name)
            resolved.append(Resolution(name, _kind(tool), "not_sent", tool_name=tool.tool_name if tool else name))
        everything.extend(resolved)
        await _close_turn(conv, turn, resolved, last=index == len(open_turns) - 1, lang=lang)
    await _resolve_stray(conv, host, results, tools, {r.call_id for r in everything}, lang)
    return everything


async def _resolve_stray(
    conv: Conversation,
    host: list[AuditRecord],
    results: dict[str | None, AuditRecord],
    tools: dict[str, ExposedTool],
    done: set[str | None],
    lang: str,
) -> None:
    """Calls without a result since the first open turn but outside the open turns (the host's own)."""
    stray = [r for r in host if r.event_type == "tool_call" and r.trace_id not in results and r.trace_id not in done]
    events = []
    for call in stray:
        res = await _resolve(conv, call, None, tools.get(call.exposed_name or ""), call.turn_id or "")
        events.append(EventRow("TOOL_CALLED", {**res.event(0), "actor": call.actor}, call.turn_id))
        if res.kind == "write":
            conv.state.notices.append(notice([res], lang))
    if events:
        await conv.store.add_events(conv.session_id, conv.profile.versions, events)


async def turn_recorded(turn: Any) -> None:
    """Before any call is sent, wait until its turn row is committed (it is queued when the turn opens).

    Then a crash at any later step leaves an ``open`` turn for :func:`recover_session` to close,
    and no call — a write above all — is made by a turn the records do not know. Reads wait too:
    a read whose call record outlived an uncommitted turn row would never be resolved, and
    ``audit verify --strict`` would fail for good. The row is usually committed by the time the
    model has chosen a tool, so the wait is short.
    """
    if turn.opened is not None:
        await turn.opened


async def _open_turns(conv: Conversation) -> list[dict[str, Any]]:
    engine = await conv.store.engine()
    query = (
        select(turns.c.id, turns.c.seq, turns.c.created_at)
        .where(turns.c.session_id == conv.session_id, turns.c.status == "open")
        .order_by(turns.c.seq)
    )
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(query)).mappings().all()]


def _kind(tool: ExposedTool | None) -> str:
    return "read" if tool is not None and tool.is_read else "write"  # unknown tools are treated as writes


async def _resolve(
    conv: Conversation, call: AuditRecord, result: AuditRecord | None, tool: ExposedTool | None, turn_id: str
) -> Resolution:
    kind = _kind(tool)
    res = Resolution(
        call.exposed_name or "",
        kind,
        "interrupted",
        call_id=call.trace_id,
        tool_name=call.tool_name or "",
        server_name=call.server_name or "",
        server_version=call.server_version or "",
        definition_sha256=call.definition_sha256_pinned or "",
    )
    if result is not None:  # killed after the result was recorded: it ended as recorded
        res.outcome = "failed" if result.is_error else "done"
        res.data = result.result
        return res
    if kind == "write":
        res.outcome, res.data, res.checked_by = await _check_write(conv, call, tool, turn_id)
    await _append_result(conv, call, res)
    if res.outcome == "unknown":
        await _escalate(conv, res, turn_id)
    return res


async def _check_write(
    conv: Conversation, call: AuditRecord, tool: ExposedTool | None, turn_id: str
) -> tuple[str, Any, str | None]:
    """("done", the record found, lookup call id) / ("not_done", None, id) / ("unknown", None, id or None)."""
    key = (call.arguments or {}).get("idempotency_key") if isinstance(call.arguments, dict) else None
    lookup_name, key_arg = LOOKUPS.get(call.tool_name or "", (None, None))
    lookup = next(
        (
            t
            for t in conv.layer.exposed_tools()
            if t.tool_name == lookup_name and t.server_name == call.server_name and t.enabled
        ),
        None,
    )
    if not key or lookup is None or key_arg is None:
        log.warning("call %s: no way to check %s by idempotency key", call.trace_id, call.exposed_name)
        return "unknown", None, None
    call_id = new_call_id()
    outcome = await conv.layer.call(
        Invocation(
            call_id=call_id,
            exposed_name=lookup.exposed_name,
            arguments={key_arg: key},
            context=conv.call_context(call_id),
            turn_id=turn_id,
            budget=TurnBudget(),
            actor="host",
        )
    )
    if not outcome.ok or not isinstance(outcome.data, dict):
        return "unknown", None, call_id
    if outcome.data.get("found"):
        return "done", outcome.data.get("refund") or outcome.data, call_id
    return "not_done", None, call_id


async def _append_result(conv: Conversation, call: AuditRecord, res: Resolution) -> None:
    """The ``tool_result`` the crash never wrote, saying what recovery found."""
    from audit import AuditEvent, append

    messages = {
        "done": "the host stopped before the result arrived; the server shows the write was made",
        "not_done": "the host stopped before the result arrived; the server shows the write was not made",
        "unknown": "the host stopped before the result arrived; whether the write was made could not be checked",
        "interrupted": "the host stopped before the result arrived; the read was not repeated",
    }
    await append(
        AuditEvent(
            org_id=call.org_id,
            event_type="tool_result",
            source="host",
            actor=call.actor,
            customer_ref=call.customer_ref,
            session_id=call.session_id,
            turn_id=call.turn_id,
            trace_id=call.trace_id,
            agent_version_id=call.agent_version_id,
            manifest_sha256=call.manifest_sha256,
            server_name=call.server_name,
            server_version=call.server_version,
            tool_name=call.tool_name,
            exposed_name=call.exposed_name,
            definition_sha256_pinned=call.definition_sha256_pinned,
            result=res.data if res.ok else None,
            details={"recovered": True, "outcome": res.outcome, "checked_by": res.checked_by},
            is_error=not res.ok,
            error_code=None if res.ok else INTERRUPTED,
            error_message=messages[res.outcome],
        )
    )


async def _escalate(conv: Conversation, res: Resolution, turn_id: str) -> None:
    """An interrupted write nobody could check goes to a person."""
    reason = f"crash recovery: could not check whether {res.exposed_name} (call {res.call_id}) was made"
    conv.state.escalated = True
    conv.state.escalation_reason = reason
    await conv.store.add_review(
        session_id=conv.session_id,
        org_id=conv.profile.org_id,
        versions=conv.profile.versions,
        reason=reason,
        kind="escalation",
        turn_id=turn_id,
        payload={"source": "crash_recovery", "call_id": res.call_id, "exposed_name": res.exposed_name},
        events=[EventRow("ESCALATED", {"escalation_reason": reason, "source": "crash_recovery"}, turn_id)],
        session_values={"is_escalated": True, "escalation_reason": reason},
    )


async def _close_turn(
    conv: Conversation, turn: dict[str, Any], resolved: list[Resolution], *, last: bool, lang: str
) -> None:
    state = conv.state
    state.failed_turns += 1
    state.interrupted.extend(
        {"exposed_name": r.exposed_name, "outcome": r.outcome, "reference": _reference(r)}
        for r in resolved
        if r.kind == "write"
    )
    state.notices.append(notice(resolved, lang))
    if last:
        state.pending = None
    message = "the host stopped during this turn; it was closed when the session resumed"
    events = [EventRow("TOOL_CALLED", r.event(turn["seq"]), turn["id"]) for r in resolved if r.call_id]
    events.append(
        EventRow(
            "TURN_FAILED",
            {"code": INTERRUPTED, "message": message, "recovered": [r.event(turn["seq"]) for r in resolved]},
            turn["id"],
        )
    )
    await conv.store.finish_turn(
        turn["id"],
        conv.session_id,
        conv.profile.versions,
        {
            "status": "failed",
            "error_code": INTERRUPTED,
            "tool_call_ids": [r.call_id for r in resolved if r.call_id],
            "completed_at": now(),
        },
        events,
        session_values={"state": state.to_masked_json()},
    )


def _reference(res: Resolution) -> str | None:
    data = res.data if isinstance(res.data, dict) else {}
    value = data.get("refund_id") or data.get("id")
    return str(value) if value else None


# what the customer is told ------------------------------------------------------------------------


def _label(res: Resolution, lang: str) -> str:
    if "refund" in res.tool_name or "refund" in res.exposed_name:
        return "환불 요청" if lang == "ko" else "refund request"
    return res.tool_name or res.exposed_name


def _topic(word: str) -> str:
    """``word`` with the Korean topic particle 은/는 that fits its last syllable."""
    last = word[-1:] if word else ""
    if "가" <= last <= "힣":
        return word + ("은" if (ord(last) - 0xAC00) % 28 else "는")
    return word + "은(는)"


def notice(resolved: list[Resolution], lang: str) -> str:
    """What the customer hears first on the next turn about the interrupted one."""
    ko = lang == "ko"
    lines = []
    for res in resolved:
        label = _label(res, lang)
        ref = _reference(res)
        if res.kind == "read":
            continue
        if res.outcome == "done":
            suffix = (f" (접수번호 {ref})" if ko else f" (reference {ref})") if ref else ""
            lines.append(
                f"앞서 연결이 끊겼지만 {_topic(label)} 처리되었습니다{suffix}."
                if ko
                else f"The connection dropped earlier, but your {label} went through{suffix}."
            )
        elif res.outcome == "unknown":
            lines.append(
                f"앞서 연결이 끊겨 {_topic(label)} 처리되었는지 확인하지 못했습니다."
                " 상담원이 확인 후 안내해 드리겠습니다."
                if ko
                else f"The connection dropped earlier and we could not confirm your {label}. "
                "A person will check and get back to you."
            )
        else:
            lines.append(
                f"앞서 연결이 끊겨 {_topic(label)} 처리되지 않았습니다. 원하시면 다시 요청해 주세요."
                if ko
                else f"The connection dropped earlier and your {label} was not made. Ask again if you still want it."
            )
    if not lines:
        lines.append(
            "앞서 연결이 끊겨 마지막 말씀에 답하지 못했습니다. 다시 말씀해 주세요."
            if ko
            else "The connection dropped before I could answer your last message. Could you say it again?"
        )
    return " ".join(lines)


async def deliver_notices(conv: Conversation, turn: Any) -> None:
    """Put queued recovery notices in front of this turn's answer (called as a turn closes)."""
    if not conv.state.notices:
        return
    text = " ".join(conv.state.notices)
    conv.state.notices = []
    turn.event("CUSTOMER_NOTIFIED", {"seq": turn.seq, "notice": text, "source": "crash_recovery"})
    if turn.answer and turn.status != "awaiting_confirmation":
        turn.answer = f"{text}\n\n{turn.answer}"
    else:
        await conv.emit("assistant.message", {"turn_id": turn.id, "text": text, "kb_references": []})


def summary_lines(state: SessionState, ko: bool) -> list[str]:
    """The summary's sentences about interrupted writes (only what actually happened)."""
    out = []
    for item in state.interrupted:
        label = "환불 요청" if "refund" in item.get("exposed_name", "") else item.get("exposed_name", "")
        if not ko:
            label = "refund request" if "refund" in item.get("exposed_name", "") else label
        ref = item.get("reference")
        outcome = item.get("outcome")
        if outcome == "done":
            out.append(f"{label} 처리됨({ref or '접수'})." if ko else f"{label} made ({ref or 'accepted'}).")
        elif outcome == "unknown":
            out.append(f"{label} 처리 여부 확인 필요." if ko else f"{label}: outcome to be checked.")
        else:
            out.append(f"{label} 처리 안 됨(연결 끊김)." if ko else f"{label} not made (connection lost).")
    return out
