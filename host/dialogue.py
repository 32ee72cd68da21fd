"""The confirmation dialogue: asking the customer before a ``confirm`` tool runs, and reading the answer.

Asking: the order a write acts on is looked up first, so someone else's order (NOT_FOUND) is
never put to the customer, and the prompt states the action and its effect from the server's
facts (:mod:`host.confirm`).

Answering: the reply is read by :func:`host.replies.read_reply` (no model involved) —

- ``confirm`` runs the call with exactly the confirmed arguments (a :class:`ConfirmationGrant`);
- ``deny`` does not run it, and the model is told so;
- ``correct`` replaces the value (a corrected write is confirmed again with the new value; a
  corrected refund only after the order server says the new order can be refunded, as a fresh
  request is checked: otherwise the model is told why and nothing is asked);
- ``unclear`` asks once more as a closed question; a second ``unclear`` drops the call and says so.

The UI's explicit button (``confirmation.response``) counts as confirm. The asking turn's
``user_confirmed`` is true only when the confirmed call was made; each reading, re-ask and drop is
an event.
"""

from __future__ import annotations

from typing import Any

from host import escalation, prompts
from host.confirm import (
    OrderFacts,
    apply_correction,
    closed_question,
    confirm_prompt,
    expected_value,
    masked_arguments,
    order_arg,
)
from host.port import ConversationPort
from host.providers.base import Message, ToolCallRequest, ToolResult
from host.replies import Reading, ReplyLabel, read_reply
from host.results import error_result, host_call_id, host_result, outcome_result
from host.session import _Turn
from host.store import masked, masked_json
from host.tooling import ConfirmationGrant, ExposedTool

MAX_ASKS = 2  # the first question and one closed re-ask
LOOKUP_TOOLS = ("get_order",)
REFUND_STATUS_TOOLS = ("get_refund_status", "refund_status", "get_refund", "check_refund")


async def ask(
    conv: ConversationPort,
    turn: _Turn,
    call: ToolCallRequest,
    tool: ExposedTool,
    *,
    asks: int = 1,
    facts: OrderFacts | None = None,
    lead: str = "",
) -> ToolResult | None:
    """Put ``call`` to the customer (after ``lead``, a sentence saying why it is asked again); a tool
    result instead when the order does not exist for them."""
    arguments = masked_arguments(call.arguments or {})
    call = ToolCallRequest(call.id, call.name, arguments)
    lang = conv.language
    name = order_arg(arguments)
    if facts is None and name is not None and not tool.is_read:
        facts, problem = await order_facts(conv, call, arguments[name])
        if problem is not None:
            return problem
    prompt = confirm_prompt(tool, arguments, lang, facts)
    if asks > 1:
        prompt = closed_question(prompt, lang)
    if lead:
        prompt = f"{lead} {prompt}"
    conv.state.pending = {
        "call": {"id": call.id, "name": call.name, "arguments": call.arguments},
        "prompt": prompt,
        "turn_id": turn.id,
        "asks": asks,
        "facts": facts.to_dict() if facts is not None else None,
    }
    conv.state.messages.append(Message("assistant", prompt))
    turn.confirm_prompt = prompt
    turn.status = "awaiting_confirmation"
    turn.event(
        "CONFIRMATION_REQUESTED" if asks == 1 else "CONFIRMATION_REASKED",
        {"seq": turn.seq, "confirm_prompt": prompt, "exposed_name": call.name, "arguments": arguments, "asks": asks},
    )
    await conv.emit(
        "confirmation.requested",
        {
            "turn_id": turn.id,
            "prompt": prompt,
            "exposed_name": call.name,
            "arguments": masked_json(call.arguments),
            "asks": asks,
        },
    )
    return None


async def order_facts(
    conv: ConversationPort, call: ToolCallRequest, order: Any
) -> tuple[OrderFacts | None, ToolResult | None]:
    """The order's facts from this session's lookups or a host lookup; a NOT_FOUND result when it is not theirs."""
    lang = conv.language
    bare: OrderFacts | None = None  # an answer about the order that names no product or amount
    for message in reversed(conv.state.messages):
        for result in message.results:
            facts = OrderFacts.from_order(result.data, lang) if not result.is_error else None
            if facts is not None and facts.order_id == str(order):
                if facts.product or facts.amount_krw is not None:
                    return facts, None
                bare = bare or facts
    if bare is not None:
        return bare, None
    lookup = next(
        (t for t in conv.layer.exposed_tools() if t.enabled and t.is_read and t.tool_name in LOOKUP_TOOLS), None
    )
    if lookup is None:
        return None, None
    name = order_arg(lookup.input_schema.get("properties") or {}) or "order_id"
    arguments = {name: order}
    outcome = await conv.host_call(
        lookup.exposed_name, arguments, confirmation=ConfirmationGrant.for_call(lookup.exposed_name, arguments)
    )
    if outcome.ok:
        return OrderFacts.from_order(outcome.data, lang), None
    if outcome.error_code == "NOT_FOUND":
        message = f"order {order} was not found for this customer: nothing was asked or done"
        return None, error_result(call, "NOT_FOUND", message)
    return None, None


async def refund_check(
    conv: ConversationPort, call: ToolCallRequest, tool: ExposedTool
) -> tuple[list[tuple[ToolCallRequest, ToolResult]], ToolResult | None]:
    """Whether the order server can refund the order ``call`` names, asked before it is put to the customer.

    Returns the status lookup to show the model (its call and result) and, when the refund
    cannot be made, the result to give instead of a prompt: ``NOT_FOUND`` (not this customer's
    order), ``CONFLICT`` with the server's ``not_refundable_code`` as ``details.reason`` (past its
    window, on its way, already refunded …), or the lookup's own error (nothing is asked when it
    cannot be checked). ``([], None)``: ask as before — not a refund, no order named, no status
    tool pinned, or the server says it can be refunded (or does not say).
    """
    name = order_arg(call.arguments or {})
    if tool.is_read or "refund" not in tool.tool_name or name is None:
        return [], None
    order = (call.arguments or {})[name]
    if _known_refundable(conv, order):
        return [], None
    status = next(
        (
            t
            for t in conv.layer.exposed_tools()
            if t.enabled and t.is_read and t.tool_name in REFUND_STATUS_TOOLS
            and (not tool.server_name or t.server_name == tool.server_name)
        ),
        None,
    )  # fmt: skip
    if status is None:
        return [], None
    arguments = {order_arg(status.input_schema.get("properties") or {}) or "order_id": order}
    outcome = await conv.host_call(
        status.exposed_name, arguments, confirmation=ConfirmationGrant.for_call(status.exposed_name, arguments)
    )
    if outcome.error_code == "NOT_FOUND":
        message = f"order {order} was not found for this customer: nothing was asked or done"
        return [], error_result(call, "NOT_FOUND", message)
    if not outcome.ok:
        message = f"whether order {order} can be refunded could not be checked: nothing was asked or done"
        return [], error_result(call, outcome.error_code or "UNAVAILABLE", message)
    data = outcome.data if isinstance(outcome.data, dict) else {}
    if data.get("refundable") is not False:
        return [], None
    code = str(data.get("not_refundable_code") or "unknown")  # a server before 1.3.0 gives only a sentence
    why = str(data.get("not_refundable_reason") or "")
    message = f"order {order} cannot be refunded now ({code}{': ' + why if why else ''}): the customer was not asked"
    shown = ToolCallRequest(host_call_id(), status.exposed_name, arguments)
    return [(shown, outcome_result(shown, outcome))], error_result(call, "CONFLICT", message, {"reason": code})


def _known_refundable(conv: ConversationPort, order: Any) -> bool:
    """Whether this session's latest refund status of ``order`` did not say it cannot be refunded,
    with no write on it since (the offline planner checks before it asks the reason: not twice)."""
    for message in reversed(conv.state.messages):
        for result in message.results:
            status = conv.tool(result.name)
            data = result.data if isinstance(result.data, dict) and not result.is_error else {}
            is_status = status is not None and status.tool_name in REFUND_STATUS_TOOLS
            if is_status and str(data.get("order_id")) == str(order):
                return data.get("refundable") is not False  # as refund_check reads it
        for request in message.tool_calls:
            written = conv.tool(request.name)
            name = order_arg(request.arguments or {})
            if written is not None and not written.is_read and name and str(request.arguments[name]) == str(order):
                return False
    return False


async def on_reply(conv: ConversationPort, turn: _Turn, text: str) -> None:
    """The customer answered the pending confirmation in words."""
    pending = conv.state.pending or {}
    call = pending.get("call") or {}
    arguments = call.get("arguments") or {}
    tool = conv.tool(call.get("name", ""))
    # a lookup's "네 조회해 주세요" names the action asked; for a write it asks for something else;
    # the prompt's own amount said back ("네 35,500원 맞아요") agrees, another amount never does
    facts = OrderFacts.from_dict(pending.get("facts"))
    reading = read_reply(
        text,
        expected=expected_value(arguments),
        read_only=tool is not None and tool.is_read,
        amount=facts.amount_krw if facts is not None else None,
    )
    _classified(turn, reading, pending, "words")
    if tool is None:
        await _drop(conv, turn, text, reading)
        return
    if reading.label is ReplyLabel.CONFIRM:
        await resolve(conv, turn, text, confirmed=True)
        return
    if reading.label is ReplyLabel.DENY:
        await resolve(conv, turn, text, confirmed=False)
        return
    corrected = apply_correction(tool, arguments, reading.value or "") if reading.label is ReplyLabel.CORRECT else None
    if corrected is not None:
        await resolve(conv, turn, text, confirmed=False, correction=text, corrected=corrected)
        return
    if int(pending.get("asks") or 1) < MAX_ASKS:
        await _reask(conv, turn, text, tool, reading)
        return
    await _drop(conv, turn, text, reading)


async def on_button(conv: ConversationPort, turn: _Turn, confirmed: bool, correction_text: str | None) -> None:
    """The customer pressed the UI's button (``confirmation.response``); an explicit yes confirms."""
    pending = conv.state.pending or {}
    call = pending.get("call") or {}
    corrected = None
    tool = conv.tool(call.get("name", ""))
    if correction_text and tool is not None:
        corrected = apply_correction(tool, call.get("arguments") or {}, correction_text)
    label = ReplyLabel.CORRECT if corrected else (ReplyLabel.CONFIRM if confirmed else ReplyLabel.DENY)
    _classified(turn, Reading(label, cues=("button",)), pending, "button")
    words = correction_text or ("네" if confirmed else "아니요")
    await resolve(
        conv, turn, words, confirmed=confirmed and corrected is None, correction=correction_text, corrected=corrected
    )


def _classified(turn: _Turn, reading: Reading, pending: dict[str, Any], source: str) -> None:
    turn.event(
        "CONFIRMATION_CLASSIFIED",
        {"source": source, "asks": pending.get("asks") or 1, "exposed_name": (pending.get("call") or {}).get("name"),
         **reading.to_dict()},
    )  # fmt: skip


async def _reask(conv: ConversationPort, turn: _Turn, text: str, tool: ExposedTool, reading: Reading) -> None:
    pending = conv.state.pending or {}
    call = pending["call"]
    turn.asked_turn_update = (
        pending.get("turn_id", ""),
        {"user_confirmed": False, "confirmation_response": masked(text)},
    )
    conv.state.messages.append(Message("user", text))
    request = ToolCallRequest(call["id"], call["name"], call["arguments"])
    facts = OrderFacts.from_dict(pending.get("facts"))
    # "네 8834도 같이요": say why only this order is asked again
    lead = prompts.text("one_order_at_a_time", conv.language) if "more_orders" in reading.cues else ""
    await ask(conv, turn, request, tool, asks=int(pending.get("asks") or 1) + 1, facts=facts, lead=lead)


async def _drop(conv: ConversationPort, turn: _Turn, text: str, reading: Reading) -> None:
    """A second unclear answer: the call is not made, and the customer is told."""
    pending = conv.state.pending or {}
    conv.state.pending = None
    turn.asked_turn_update = (
        pending.get("turn_id", ""),
        {"user_confirmed": False, "confirmation_response": masked(text)},
    )
    turn.event("CONFIRMATION_DROPPED", {"exposed_name": (pending.get("call") or {}).get("name"), **reading.to_dict()})
    turn.answer = prompts.text("confirmation_dropped", conv.language)
    conv.state.messages.append(Message("user", text))
    conv.state.messages.append(Message("assistant", turn.answer))


async def resolve(
    conv: ConversationPort,
    turn: _Turn,
    text: str,
    *,
    confirmed: bool,
    correction: str | None = None,
    corrected: dict[str, Any] | None = None,
) -> None:
    """Run (confirmed), decline, or re-ask with a corrected value; then let the model answer."""
    state = conv.state
    pending = state.pending or {}
    state.pending = None
    call = pending.get("call") or {}
    name, arguments = call.get("name", ""), dict(call.get("arguments") or {})
    tool = conv.tool(name)
    asked = {
        "user_confirmed": False,
        "confirmation_response": masked(text),
        "correction_text": masked(correction) if correction else None,
    }
    turn.asked_turn_update = (pending.get("turn_id", ""), asked)
    turn.event(
        "CONFIRMATION_RESPONSE",
        {"confirmed": confirmed, "correction_text": correction, "corrected_arguments": corrected},
    )
    state.messages.append(Message("user", text))
    run_with: dict[str, Any] | None = arguments if confirmed else None
    if corrected is not None and tool is not None:
        if conv.layer.validate(name, corrected):
            corrected = None
        elif not tool.is_read:  # a corrected write is confirmed again, with the new values
            request = ToolCallRequest(host_call_id(), name, corrected)
            # a corrected refund goes the way a fresh one does: the server says first whether the
            # new order can be refunded at all ("네 8801이요" at 8822's prompt: 8801 was past its
            # window, and the customer's yes met CONFLICT)
            checked, problem = await refund_check(conv, request, tool)
            if problem is None:
                problem = await ask(conv, turn, request, tool)
                if problem is None:
                    return
            shown = [*(c for c, _ in checked), ToolCallRequest(problem.call_id, name, corrected)]
            state.messages.append(Message("assistant", "", tool_calls=shown))
            state.messages.append(Message("tool", results=[*(r for _, r in checked), problem]))
            await conv.model_loop(turn)
            return
        else:
            run_with = corrected
    synthetic = ToolCallRequest(host_call_id(), name, run_with if run_with is not None else arguments)
    state.messages.append(Message("assistant", "", tool_calls=[synthetic]))
    if run_with is None or tool is None:
        message = "The customer did not confirm; the call was not made."
        result = host_result(synthetic, {"host_status": "declined", "message": message})
    else:
        outcome = await conv.invoke(turn, synthetic, confirmation=ConfirmationGrant.for_call(name, run_with))
        asked["user_confirmed"] = confirmed and outcome.reached_server
        result = outcome_result(synthetic, outcome)
    state.messages.append(Message("tool", results=[result]))
    if not await escalation.after_failures(conv, turn):  # a confirmed call that failed once too often
        await conv.model_loop(turn)
