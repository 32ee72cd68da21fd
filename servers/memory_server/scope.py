"""Whose memories a call may touch: the (org, customer) from the connection, narrowed by arguments.

Rules (DESIGN principle 1):

- the org and the customer come from the request context, never from tool arguments;
- a call with a customer sees only that customer's memories; ``agent_id``/``run_id`` narrow further;
- a call without a customer is **agent-scoped**: it must name an ``agent_id`` and then sees only
  that agent's own, customer-independent memories in the org (stored with ``customer_ref = ""``);
  customer memories are never reachable from such a connection, and vice versa.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.context import RequestContext, opaque_id_problem
from core.errors import forbidden, invalid

NO_CUSTOMER = ""


@dataclass(frozen=True, slots=True)
class Scope:
    """The partition a memory call works in, and who is acting (for history and tombstones)."""

    org_id: str
    customer_ref: str
    agent_id: str | None = None
    run_id: str | None = None
    actor: str = "unknown"

    @property
    def key(self) -> tuple[str, str]:
        return (self.org_id, self.customer_ref)

    @property
    def agent_scoped(self) -> bool:
        return self.customer_ref == NO_CUSTOMER


def actor_of(ctx: RequestContext) -> str:
    """A short description of who made a call: the session, agent version or customer connection."""
    parts = []
    if ctx.agent_version_id:
        parts.append(f"agent_version:{ctx.agent_version_id}")
    if ctx.session_id:
        parts.append(f"session:{ctx.session_id}")
    if not parts:
        parts.append(f"customer:{ctx.customer_ref}" if ctx.customer_ref else f"org:{ctx.org_id}")
    return " ".join(parts)[:200]


def resolve_scope(ctx: RequestContext, agent_id: str | None = None, run_id: str | None = None) -> Scope:
    """The scope of a tool call; FORBIDDEN when there is neither a customer nor an agent, and
    INVALID_ARGUMENT for an agent or run id that is personal data (ids are stored as given)."""
    for label, value in (("agent_id", agent_id), ("run_id", run_id)):
        if value is not None and (problem := opaque_id_problem(value)):
            raise invalid(f"{label} {problem}")
    if ctx.customer_ref:
        return Scope(ctx.org_id, ctx.customer_ref, agent_id, run_id, actor_of(ctx))
    if not agent_id:
        raise forbidden(
            "this connection has no customer: memory calls need a customer (--customer, a token or the host), "
            "or an agent_id for the agent's own memories"
        )
    return Scope(ctx.org_id, NO_CUSTOMER, agent_id, run_id, actor_of(ctx))
