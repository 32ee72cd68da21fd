"""Operator approval: a call pinned ``approve`` waits in the review queue; approved calls run later.

The model's call is not made: a review-queue row (kind ``approval``) holds the exact arguments
and their digest; the model is told the call is pending. On the customer's next turn, calls an
operator approved since are made (the gateway checks the approval matches), rejected ones are
reported as declined.
"""

from __future__ import annotations

from host.port import ConversationPort
from host.providers.base import Message, ToolCallRequest, ToolResult
from host.results import host_call_id, host_result, outcome_result
from host.session import _Turn
from host.store import EventRow
from host.tooling import ExposedTool, arguments_digest


async def request_approval(conv: ConversationPort, turn: _Turn, call: ToolCallRequest, tool: ExposedTool) -> ToolResult:
    """Queue ``call`` for an operator; the model is told it is pending."""
    title = f"{tool.title} ({call.name})"
    reason = f"승인 요청: {title}" if conv.language == "ko" else f"approval needed: {title}"
    review_id = await conv.store.add_review(
        session_id=conv.session_id,
        org_id=conv.profile.org_id,
        versions=conv.profile.versions,
        reason=reason,
        kind="approval",
        turn_id=turn.id,
        payload={
            "exposed_name": call.name,
            "arguments": call.arguments,
            "arguments_sha256": arguments_digest(call.arguments or {}),
            "server_version": tool.server_version,
            "definition_sha256": tool.definition_sha256,
        },
        events=[EventRow("APPROVAL_REQUESTED", {"exposed_name": call.name, "arguments": call.arguments}, turn.id)],
    )
    conv.state.approvals.append(review_id)
    return host_result(call, {"host_status": "pending_approval", "review_id": review_id})


async def run_approved_calls(conv: ConversationPort, turn: _Turn) -> None:
    """Calls an operator approved (or rejected) since the last turn: run them, tell the model."""
    state = conv.state
    for item in await conv.store.approved_calls(conv.session_id):
        if item["id"] in state.approvals:
            state.approvals.remove(item["id"])
        payload = item["payload"] or {}
        call = ToolCallRequest(host_call_id(), payload.get("exposed_name", ""), payload.get("arguments") or {})
        state.messages.append(Message("assistant", "", tool_calls=[call]))
        if item["status"] == "Approved":
            outcome = await conv.invoke(turn, call, approval_id=item["id"])
            result = outcome_result(call, outcome)
            await conv.store.mark_approval_handled(item["id"], executed=outcome.reached_server)
        else:
            result = host_result(call, {"host_status": "declined", "message": "An operator rejected this call."})
            await conv.store.mark_approval_handled(item["id"], executed=False)
        state.messages.append(Message("tool", results=[result]))
