"""Caller verification, one step of the gateway: no personal data and no writes for an unverified caller.

A session started with a ``customer_ref`` (a trusted channel: the logged-in web chat, a CTI line
that already authenticated the caller) is verified. A session without one (an anonymous phone
line, a public web chat) is not: whatever the provider or the prompt says, the gateway lets its
calls reach only what holds no customer's data —

- read tools of the knowledge-base server (policies, not people);
- ``find_orders`` by phone, whose result is cut down to whether a match exists
  (``{"match": true, "phone_masked": ...}``): no order, name or amount reaches the model.

Everything else is refused with FORBIDDEN before anything is sent (and audited as denied). The
host's verification handshake (:mod:`host.verification`: ``verify_caller`` with the phone number on
record plus the tenant's second factor) is what turns an anonymous session into a verified one.
"""

from __future__ import annotations

import json
from typing import Any

from host.tooling import CallOutcome, ExposedTool, Invocation

PUBLIC_SERVERS = frozenset({"kb"})
EXISTENCE_ONLY = frozenset({"find_orders"})
HANDSHAKE = frozenset({"verify_caller"})  # the check itself (host/verification.py reads its answer)
REFUSAL = (
    "the caller is not verified, so no customer data can be read or changed: ask for the phone number on "
    "record and the second factor the service uses, or hand the call to a person"
)


def is_verified(inv: Invocation) -> bool:
    return bool(inv.context.customer_ref)


def refusal(inv: Invocation, tool: ExposedTool) -> str | None:
    """Why an unverified caller may not make this call, or None when it may."""
    return refusal_for(inv.context.customer_ref, tool)


def refusal_for(customer_ref: str | None, tool: ExposedTool) -> str | None:
    """:func:`refusal` for a session (the engine asks before it puts a call to the customer)."""
    if customer_ref:
        return None
    if tool.is_read and (tool.server_name in PUBLIC_SERVERS or tool.tool_name in EXISTENCE_ONLY | HANDSHAKE):
        return None
    return REFUSAL


def reduce_result(inv: Invocation, tool: ExposedTool, out: CallOutcome) -> None:
    """An unverified caller's ``find_orders`` result: whether a match exists, nothing else."""
    if is_verified(inv) or tool.tool_name not in EXISTENCE_ONLY or not out.ok:
        return
    data: Any = out.data if isinstance(out.data, dict) else {}
    reduced = {"match": bool(data.get("orders")), "phone_masked": data.get("phone_masked"), "verified": False}
    out.data = reduced
    out.content = json.dumps(reduced, ensure_ascii=False)
