"""The caller-verification handshake: an anonymous session becomes one verified customer's session.

A session without a ``customer_ref`` (an anonymous phone line, a public web chat) reaches no
customer's data (:mod:`host.callercheck`) until the caller passes the order server's
``verify_caller``: the phone number on record plus the second factor the tenant configures
(:mod:`host.callerpolicy`). Whichever provider runs the conversation (offline planner, Anthropic,
OpenAI) the check is the same call through the gateway, and the host — not the model — reads
its answer:

- before the call: a factor other than the org's is refused INVALID_ARGUMENT; once the attempts
  are used up every further try is refused FORBIDDEN. ``CALLER_VERIFICATION_REQUESTED`` is recorded
  (the phone masked, the factor never);
- after it: on a match the session's ``customer_ref`` becomes the verified customer (stored in the
  session row, so a resumed session keeps it), the customer's memories are recalled, and
  ``CALLER_VERIFICATION_PASSED`` is recorded; on
  a miss ``CALLER_VERIFICATION_FAILED`` with the attempts left, and the last miss hands the call
  to a person (an escalation review item). The model is told only ``verified`` and the attempts
  left, never the customer's reference or anything on record.

A session started with a ``customer_ref`` from a trusted channel is verified from the start; it
cannot switch to another customer (the server checks the number inside that customer's scope).
"""

from __future__ import annotations

import json
import re
from typing import Any

from core.factors import HIDDEN, hide_factors
from core.pii import mask_text
from host import callerlimit, callerpolicy, escalation, memory
from host.port import ConversationPort
from host.providers.base import ToolCallRequest
from host.session import _Turn
from host.tooling import CallOutcome, ExposedTool

TOOL = "verify_caller"


def is_check(tool: ExposedTool | None) -> bool:
    return tool is not None and tool.tool_name == TOOL


def _progress(conv: ConversationPort) -> dict[str, Any]:
    return conv.state.verification


def _phone(call: ToolCallRequest) -> str:
    return mask_text(str((call.arguments or {}).get("phone") or ""))


def _refused(call: ToolCallRequest, tool: ExposedTool, code: str, message: str) -> CallOutcome:
    body = {"code": code, "message": message}
    return CallOutcome(
        call.id,
        call.name,
        ok=False,
        content=json.dumps(body, ensure_ascii=False),
        error_code=code,
        error_message=message,
        server_name=tool.server_name,
        server_version=tool.server_version,
        tool_name=tool.tool_name,
        definition_sha256=tool.definition_sha256,
    )


async def before(conv: ConversationPort, turn: _Turn, tool: ExposedTool, call: ToolCallRequest) -> CallOutcome | None:
    """Check a ``verify_caller`` call before it is made: an outcome when it is refused, else None."""
    policy = callerpolicy.for_org(conv.profile.org_id)
    progress = _progress(conv)
    attempts = int(progress.get("attempts", 0))
    kind = str((call.arguments or {}).get("factor_kind") or "")
    if progress.get("locked") or attempts >= policy.max_attempts:
        message = "too many failed verification attempts: the call is being handed to a person"
        return _refused(call, tool, "FORBIDDEN", message)
    if kind != policy.factor:
        message = f"this service verifies callers by factor_kind={policy.factor!r}: ask the caller for it"
        return _refused(call, tool, "INVALID_ARGUMENT", message)
    key = callerlimit.phone_key(conv.profile.org_id, str((call.arguments or {}).get("phone") or ""))
    if key is not None and await callerlimit.failures(key) >= policy.max_attempts:
        # this number used its tries in an earlier session (host/callerlimit.py): no fresh ones here
        progress.update(locked=True)
        phone = _phone(call)
        payload = {"seq": turn.seq, "attempt": 0, "attempts_left": 0, "phone_masked": phone, "phone_locked": True}
        turn.event("CALLER_VERIFICATION_FAILED", payload)
        detail = f"the phone number {phone} has used its {policy.max_attempts} caller-check tries in the last day"
        await escalation.escalate(conv, turn, "caller_verification", detail=detail)
        message = "too many failed verification attempts for this number: the call is being handed to a person"
        return _refused(call, tool, "FORBIDDEN", message)
    payload = {"seq": turn.seq, "attempt": attempts + 1, "factor_kind": kind, "phone_masked": _phone(call)}
    turn.event("CALLER_VERIFICATION_REQUESTED", payload)
    return None


def _hide_spoken(conv: ConversationPort, turn: _Turn, factor: Any) -> None:
    """The factor as the caller said it ("김 민수요"), hidden in this turn's utterance and history."""
    letters = [c for c in str(factor or "") if not c.isspace()]
    if len(letters) < 2:
        return
    spoken = re.compile(r"\s*".join(re.escape(c) for c in letters), re.IGNORECASE)
    for message in reversed(conv.state.messages):
        if message.role == "user":
            hidden = spoken.sub(HIDDEN, message.text)
            if hidden != message.text:
                message.text = turn.transcript = hidden
            return


async def after(conv: ConversationPort, turn: _Turn, call: ToolCallRequest, outcome: CallOutcome) -> None:
    """Read a ``verify_caller`` answer: set the verified customer or count the miss; the model sees less."""
    spoken_phone = str((call.arguments or {}).get("phone") or "")
    _hide_spoken(conv, turn, (call.arguments or {}).get("factor"))
    call.arguments = hide_factors(call.arguments)  # the history keeps the kind, never the value
    if not outcome.ok:
        return  # a malformed number or an unreachable server is not an attempt
    policy = callerpolicy.for_org(conv.profile.org_id)
    progress = _progress(conv)
    data = outcome.data if isinstance(outcome.data, dict) else {}
    ref = data.get("customer_ref") if data.get("verified") is True else None
    phone = data.get("phone_masked") or _phone(call)
    key = callerlimit.phone_key(conv.profile.org_id, spoken_phone)
    if isinstance(ref, str) and ref and conv.customer_ref in (None, ref):
        fresh = conv.customer_ref is None
        conv.customer_ref = ref
        progress.update(verified=True, factor_kind=policy.factor)
        if key is not None:
            await callerlimit.clear(key)
        turn.event("CALLER_VERIFICATION_PASSED", {"seq": turn.seq, "phone_masked": phone, "factor_kind": policy.factor})
        if fresh:
            await conv.store.update_session(conv.session_id, conv.profile.versions, {"customer_ref": ref})
            conv.state.memories = await memory.recall(conv)  # what a trusted channel would have had at the start
        shown: dict[str, Any] = {"verified": True, "phone_masked": phone}
    else:
        attempts = int(progress.get("attempts", 0)) + 1
        left = max(policy.max_attempts - attempts, 0)
        if key is not None:  # the number's tries across sessions bound this session's too
            left = min(left, max(policy.max_attempts - await callerlimit.count_failure(key), 0))
        progress.update(attempts=attempts, locked=left == 0)
        payload = {"seq": turn.seq, "attempt": attempts, "attempts_left": left, "phone_masked": phone}
        turn.event("CALLER_VERIFICATION_FAILED", payload)
        shown = {"verified": False, "attempts_left": left, "phone_masked": phone}
        if left == 0:
            detail = f"{attempts} failed caller verification attempts (phone {phone})"
            await escalation.escalate(conv, turn, "caller_verification", detail=detail)
    await conv.emit("caller.verification", {"turn_id": turn.id, **shown})
    outcome.data = shown
    outcome.content = json.dumps(shown, ensure_ascii=False)
