"""One model step's tool calls: checked, then run, queued for approval, or put to the customer.

Calls with policy ``never`` run at once (in parallel); ``approve`` calls wait in the review queue
(:mod:`host.approvals`); the first ``confirm`` call is put to the customer (:mod:`host.dialogue`)
and ends the turn; the host's own ``escalate_to_human`` hands the session over
(:mod:`host.escalation`). Problems the model can correct (an unknown tool, bad arguments) go back
to it as tool errors before anything is sent or asked.
"""

from __future__ import annotations

import asyncio

from host import approvals, callercheck, dialogue, escalation, prompts
from host.port import ConversationPort
from host.providers.base import Message, ToolCallRequest, ToolResult
from host.results import error_result, host_result, outcome_result
from host.session import _Turn
from host.tooling import ExposedTool


async def handle_tool_calls(conv: ConversationPort, turn: _Turn, text: str, calls: list[ToolCallRequest]) -> bool:
    """Run a model step's tool calls; True when the turn is over (confirmation, escalation)."""
    results: dict[str, ToolResult] = {}
    to_run: list[ToolCallRequest] = []
    confirm: tuple[ToolCallRequest, ExposedTool] | None = None
    escalate_reason: str | None = None
    for call in calls:
        tool = conv.tool(call.name)
        if call.name == prompts.ESCALATE_TOOL and tool is None:
            escalate_reason = str((call.arguments or {}).get("reason") or "")[:300]
            results[call.id] = host_result(call, {"host_status": "escalated"})
            continue
        problem = precheck(conv, tool, call)
        if problem is not None:
            results[call.id] = error_result(call, *problem)
            continue
        assert tool is not None
        policy = tool.effective_policy
        if policy == "confirm" and confirm is None:
            confirm = (call, tool)
        elif policy == "confirm":
            message = "one confirmation at a time: ask for this call again later"
            results[call.id] = error_result(call, "CONFIRMATION_REQUIRED", message)
        elif policy == "approve":
            results[call.id] = await approvals.request_approval(conv, turn, call, tool)
        else:
            to_run.append(call)
    outcomes = await asyncio.gather(*(conv.invoke(turn, call) for call in to_run))
    for call, outcome in zip(to_run, outcomes, strict=True):
        results[call.id] = outcome_result(call, outcome)
    if confirm is not None and (escalate_reason is not None or conv.state.escalated):
        # a handed-over session asks for no write: the person who takes over decides
        message = "the session is handed over to a person: this call waits for them; tell the customer so"
        results[confirm[0].id] = error_result(confirm[0], prompts.HANDED_OVER, message)
        confirm = None
    checked: list[tuple[ToolCallRequest, ToolResult]] = []
    if confirm is not None:
        # a refund is asked only after the order server says it can be made, whoever proposed it
        # (a model's own "8801 환불" past its window was put to the customer and met CONFLICT)
        checked, problem = await dialogue.refund_check(conv, *confirm)
        if problem is None:
            problem = await dialogue.ask(conv, turn, *confirm)
        if problem is not None:  # not asked (someone else's order, not refundable): the model is told instead
            results[confirm[0].id] = problem
            confirm = None
    shown = [c for c, _ in checked] + [c for c in calls if confirm is None or c.id != confirm[0].id]
    results.update({c.id: r for c, r in checked})
    if shown:
        conv.state.messages.append(Message("assistant", text, tool_calls=shown))
        conv.state.messages.append(Message("tool", results=[results[c.id] for c in shown]))
    if escalate_reason is not None:
        await escalation.escalate(conv, turn, "model", detail=escalate_reason)
        return True
    if turn.escalated:  # a host policy handed the call over during the calls (caller verification)
        return True
    if await escalation.after_failures(conv, turn):
        return True
    return confirm is not None


def precheck(conv: ConversationPort, tool: ExposedTool | None, call: ToolCallRequest) -> tuple[str, str] | None:
    """Problems the model can correct, found before anything is sent or asked."""
    if tool is None:
        return "NOT_FOUND", f"no tool named {call.name!r}: use one of the tools you were given"
    if not tool.enabled:
        return "UNAVAILABLE", f"the tool {call.name!r} is disabled for this session"
    if call.arguments is None:
        return "INVALID_ARGUMENT", "the arguments are not a JSON object"
    if tool.effective_policy == "never":
        return None  # the gateway validates it before anything is sent
    refused = callercheck.refusal_for(conv.customer_ref, tool)
    if refused is not None:  # never ask the customer to confirm what the gateway will refuse
        return "FORBIDDEN", refused
    # never ask the customer (or an operator) to confirm arguments the tool would refuse
    errors = conv.layer.validate(call.name, call.arguments)
    if errors:
        return "INVALID_ARGUMENT", "; ".join(errors)[:1000]
    return None
