"""Escalation: handing the conversation to a person, and the policies that do it without the model.

The policies run on every utterance before anything else: speech recognised with low confidence
(asked again, then escalated), a customer asking for a person, an angry customer. The model can
escalate too (the ``escalate_to_human`` tool); either way one review-queue row and one ESCALATED
event are written, once per session.

A handed-over session makes no more writes on its own: a confirmation waiting for the customer's
answer is dropped when the session is handed over (a "네" to "잠시만 기다려 주세요" is not a yes to
the refund asked before), and a write the model proposes afterwards is not put to the customer
(:mod:`host.toolstep`): the person who takes over decides.
"""

from __future__ import annotations

from host import nlu, prompts
from host.port import ConversationPort
from host.providers.base import Message
from host.session import _Turn
from host.store import EventRow
from host.telemetry import escalated


async def screen(conv: ConversationPort, turn: _Turn, text: str, asr_confidence: float | None) -> bool:
    """Apply the escalation policies to an utterance; True when the turn is answered by them."""
    state, settings, lang = conv.state, conv.settings, conv.language
    if asr_confidence is not None and asr_confidence < settings.min_asr_confidence:
        state.low_confidence_streak += 1
        if state.low_confidence_streak >= settings.low_confidence_turns_to_escalate:
            await escalate(conv, turn, "low_asr_confidence", detail=f"asr_confidence={asr_confidence}")
        else:
            turn.answer = prompts.text("repeat", lang)
        return True
    state.low_confidence_streak = 0
    family = nlu.escalation_reason(text)
    if family is None:
        return False
    state.messages.append(Message("user", text))
    await escalate(conv, turn, _SOURCES.get(family, family.value), detail=text[:200])
    return True


# the review queue's reason for each family of utterance (host/nlu.py); the others name themselves
_SOURCES = {nlu.Escalation.HUMAN_REQUEST: "customer", nlu.Escalation.ANGER: "angry_customer"}


async def escalate(conv: ConversationPort, turn: _Turn, source: str, *, detail: str = "") -> None:
    """Hand the session to a person (once): review-queue row, ESCALATED event, ``escalated``."""
    lang, state = conv.language, conv.state
    turn.escalated = True
    turn.status = "escalated"
    if state.pending:
        drop_pending(conv, turn)
    if state.escalated:
        turn.answer = prompts.text("already_escalated", lang)
    else:
        reason = prompts.reason_text(source, lang)
        state.escalated = True
        state.escalation_reason = reason
        review_id = await conv.store.add_review(
            session_id=conv.session_id,
            org_id=conv.profile.org_id,
            versions=conv.profile.versions,
            reason=reason,
            kind="escalation",
            turn_id=turn.id,
            payload={"source": source, "detail": detail},
            events=[
                EventRow(
                    "ESCALATED",
                    {"seq": turn.seq, "escalation_reason": reason, "source": source, "detail": detail},
                    turn.id,
                )
            ],
            session_values={"is_escalated": True, "escalation_reason": reason},
        )
        turn.answer = prompts.text("escalated", lang)
        escalated(source)  # the escalations metric (host/telemetry.py)
        await conv.emit("escalated", {"turn_id": turn.id, "reason": reason, "source": source, "review_id": review_id})
    state.messages.append(Message("assistant", turn.answer))


def drop_pending(conv: ConversationPort, turn: _Turn) -> None:
    """The confirmation waiting for an answer is dropped: the session goes to a person."""
    pending = conv.state.pending or {}
    conv.state.pending = None
    turn.asked_turn_update = (pending.get("turn_id", ""), {"user_confirmed": False})
    turn.event(
        "CONFIRMATION_DROPPED",
        {"exposed_name": (pending.get("call") or {}).get("name"), "label": "handed_over", "cues": ["escalated"]},
    )


async def after_failures(conv: ConversationPort, turn: _Turn) -> bool:
    """Hand over when the calls failed too often in a row (``tool_failures_to_escalate``), whether
    the model proposed them or the customer confirmed them, or when lookups found nothing too often
    in a row (``not_found_to_escalate``: a customer who cannot find their order, or someone trying
    order numbers); True when the session was handed over."""
    state, settings = conv.state, conv.settings
    if state.failure_streak >= settings.tool_failures_to_escalate:
        await escalate(conv, turn, "tool_failures", detail=f"{state.failure_streak} failed calls in a row")
        return True
    if state.not_found_streak >= settings.not_found_to_escalate:  # an order the customer cannot find
        await escalate(conv, turn, "not_found", detail=f"{state.not_found_streak} lookups in a row found nothing")
        return True
    return False
