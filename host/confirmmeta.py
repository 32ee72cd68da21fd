"""What the gateway tells a server about the confirmation it already obtained for a call.

A call the customer confirmed (policy ``confirm``) or an operator approved (policy ``approve``)
carries ``_meta["switchboard/confirmation"]`` bound to its exact arguments (:mod:`core.confirmation`),
so a server that confirms writes itself (the order server's ``request_refund``) does not ask the
customer a second time. The gateway admits a call before this runs, so the grant was checked.
"""

from __future__ import annotations

from typing import Any

from core.confirmation import confirmation_meta
from host.tooling import ExposedTool, Invocation


def confirmation_meta_for(inv: Invocation, tool: ExposedTool, arguments: dict[str, Any]) -> dict[str, Any]:
    """The ``_meta`` entry for an admitted call, or ``{}`` when nobody confirmed it."""
    policy = tool.policy_for(inv.actor)
    if policy == "confirm" and inv.confirmation is not None:
        return confirmation_meta(arguments, "customer")
    if policy == "approve" and inv.approval_id:
        return confirmation_meta(arguments, "operator")
    return {}
