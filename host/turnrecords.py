"""A turn's records: its row opened while the turn runs, closed with the answer, events and calls.

Nothing of a turn is acknowledged before its records are written: the turn row's insert and the
tool calls' ``tool_result`` audit appends run while the turn does and are awaited before the turn
completes. Every text column is masked (:func:`host.store.masked`), the confirmation prompt too.
"""

from __future__ import annotations

import logging
from typing import Any

from host.citations import dedupe, to_reference
from host.session import TurnResult, _Turn
from host.store import EventRow, RecordStore, Versions, masked, new_id, now
from host.tooling import TurnBudget, settle_records

log = logging.getLogger("switchboard.host.engine")


def open_turn(
    store: RecordStore,
    session_id: str,
    versions: Versions,
    seq: int,
    text: str | None,
    *,
    asr_confidence: float | None = None,
    audio_url: str | None = None,
    start_time: str | None = None,
    end_time: str | None = None,
) -> _Turn:
    """A new turn whose row is being inserted (``turn.opened``)."""
    turn = _Turn(id=new_id(), seq=seq, budget=TurnBudget())
    events = []
    if asr_confidence is not None:
        payload = {
            "seq": seq,
            "transcript_text": text,
            "asr_confidence": asr_confidence,
            "start_time": start_time,
            "end_time": end_time,
        }
        events.append(EventRow("ASR_RECEIVED", payload, turn.id))
    turn.opened = store.submit_start_turn(
        {
            "id": turn.id,
            "session_id": session_id,
            "created_at": now(),
            "seq": seq,
            "transcript_text": masked(text),
            "asr_confidence": asr_confidence,
            "audio_url": audio_url,
            "start_time": start_time,
            "end_time": end_time,
            "kb_references": [],
            "tool_call_ids": [],
            "status": "open",
            **versions.columns(),
        },
        events,
    )
    return turn


async def settle(turn: _Turn) -> bool:
    """Await the turn's pending writes; False when a tool result could not be audited."""
    failures = await settle_records(turn.deferred)
    opened, turn.opened = turn.opened, None
    if opened is not None:
        await opened
    if failures:
        log.error("turn %s: %d tool result(s) could not be audited", turn.id, len(failures))
    return not failures


def references(turn: _Turn) -> list[dict[str, Any]]:
    """The turn's distinct KB references (with versions)."""
    return dedupe([to_reference(c) for c in turn.citations])


async def close_turn(
    store: RecordStore,
    session_id: str,
    versions: Versions,
    turn: _Turn,
    references: list[dict[str, Any]],
    session_values: dict[str, Any],
) -> TurnResult:
    """Write the turn's answer, references, calls and events; the result sent as ``turn.completed``."""
    values: dict[str, Any] = {
        "answer_text": masked(turn.answer),
        "final_answer": masked(turn.answer) if turn.status == "completed" else None,
        "confirm_prompt": masked(turn.confirm_prompt),
        "kb_references": references,
        "tool_call_ids": [o.call_id for o in turn.outcomes],
        "status": turn.status,
        "error_code": turn.error["code"] if turn.error else None,
        "completed_at": now(),
    }
    if turn.transcript is not None:
        values["transcript_text"] = masked(turn.transcript)
    await store.finish_turn(
        turn.id,
        session_id,
        versions,
        values,
        turn.events,
        session_values=session_values,
        other_turn=turn.asked_turn_update,
    )
    return TurnResult(
        turn_id=turn.id,
        seq=turn.seq,
        status=turn.status,
        answer=turn.answer,
        confirm_prompt=turn.confirm_prompt,
        escalated=turn.escalated,
        tool_calls=[o.summary() for o in turn.outcomes],
        kb_references=references,
        error=turn.error,
    )
