"""A session's records: its row and SESSION_STARTED event, and its close (summary, outcome, events)."""

from __future__ import annotations

from typing import Any

from core.errors import invalid
from host.session import AgentProfile, SessionState
from host.store import EventRow, RecordStore, masked, masked_json, now
from host.tooling import ToolLayer


def disabled_tools(layer: ToolLayer) -> list[dict[str, Any]]:
    return [
        {"exposed_name": t.exposed_name, "reason": t.disabled_reason} for t in layer.exposed_tools() if not t.enabled
    ]


async def create(
    store: RecordStore,
    session_id: str,
    profile: AgentProfile,
    provider: str,
    customer_ref: str | None,
    channel: str,
    caller: str | None,
    language: str | None,
    metadata: dict[str, Any] | None,
    disabled: list[dict[str, Any]],
) -> None:
    """Insert the session row (caller and metadata masked) with its SESSION_STARTED event."""
    created = now()
    row = {
        "id": session_id,
        "created_at": created,
        "started_at": created,
        "org_id": profile.org_id,
        "customer_ref": customer_ref,
        "channel": channel,
        "caller_masked": masked(caller),
        "agent_id": profile.agent_slug,
        "status": "active",
        "language": language,
        "provider": provider,
        "model": profile.model or None,
        "metadata": masked_json(metadata or {}),
        "is_escalated": False,
        "state": {},
        "updated_at": created,
        **profile.versions.columns(),
    }
    event = {
        "agent": profile.ref,
        "provider": provider,
        "customer_ref": customer_ref,
        "channel": channel,
        "disabled_tools": disabled,
    }
    await store.create_session(row, [EventRow("SESSION_STARTED", event)])


def started_payload(
    profile: AgentProfile, provider: str, customer_ref: str | None, layer: ToolLayer, disabled: list[dict[str, Any]]
) -> dict[str, Any]:
    """What ``session.started`` says (the client's view of the pinned agent)."""
    return {
        "agent": profile.ref,
        "agent_version_id": profile.agent_version_id,
        "manifest_sha256": profile.manifest_sha256,
        "provider": provider,
        "customer_ref": customer_ref,
        "tools": [
            {"exposed_name": t.exposed_name, "server_version": t.server_version, "policy": t.effective_policy}
            for t in layer.exposed_tools()
            if t.enabled
        ],
        "disabled_tools": disabled,
    }


# the outcomes a client (a softphone, a person's console) may set at session.end; English is stored as Korean
OUTCOMES = {"해결": "해결", "이관": "이관", "미해결": "미해결", "resolved": "해결", "escalated": "이관"}
OUTCOMES |= {"unresolved": "미해결"}


def given_outcome(value: str | None) -> str | None:
    """The outcome a client set, in the legacy vocabulary; INVALID_ARGUMENT for anything else."""
    if value is None:
        return None
    found = OUTCOMES.get(value.strip().lower())
    if found is None:
        raise invalid(f"outcome must be one of {', '.join(OUTCOMES)} (or left out: the host decides)")
    return found


def outcome(state: SessionState) -> str:
    """Legacy vocabulary: 이관 (handed to a person), 해결 (answered), 미해결 (not answered)."""
    if state.escalated:
        return "이관"
    if state.pending is not None:  # the session ended while a confirmation waited: nothing was done
        return "미해결"
    if state.planner.get("unanswered"):  # the offline planner's last fallback was never answered
        return "미해결"
    return "해결" if state.answered and not state.failed_turns else "미해결"


async def close(
    store: RecordStore,
    session_id: str,
    profile: AgentProfile,
    state: SessionState,
    summary: str,
    final_outcome: str,
    duration: int,
    host_outcome: str | None = None,
) -> None:
    """Mark the session ended with its masked summary and state; SUMMARY_GENERATED and SESSION_ENDED."""
    await store.update_session(
        session_id,
        profile.versions,
        {
            "status": "ended",
            "ended_at": now(),
            "duration_sec": duration,
            "outcome": final_outcome,
            "summary_text": masked(summary),
            "state": state.to_masked_json(),
            "language": state.language or "ko",
        },
        [
            EventRow("SUMMARY_GENERATED", {"summary": summary}),
            EventRow(
                "SESSION_ENDED",
                # what the host read of the session, beside an outcome the client set instead
                {"outcome": final_outcome, "duration_sec": duration}
                | ({"host_outcome": host_outcome} if host_outcome and host_outcome != final_outcome else {}),
            ),
        ],
    )
