"""Resolve the tenant and customer of a tool call from the connection, never from arguments.

- stdio: fixed at launch (``--org``/``--customer`` or ``SWITCHBOARD_ORG``/``SWITCHBOARD_CUSTOMER``);
- HTTP: the bearer token maps to an org (see :mod:`servers.kit.tokens`);
- a trusted client (a host that spawned us with ``--trust-meta``, or a service token) may pass
  ``switchboard/*`` keys in the request ``_meta``; untrusted clients' ``_meta`` identity is ignored.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from core.context import RequestContext, customer_ref_problem, is_valid_identifier
from core.errors import forbidden, invalid

_current: ContextVar[RequestContext | None] = ContextVar("switchboard_request_context", default=None)


@dataclass(frozen=True, slots=True)
class ServerLaunch:
    """Identity fixed when the server process starts."""

    org_id: str | None = None
    customer_ref: str | None = None
    trust_meta: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ServerLaunch:
        env = os.environ if env is None else env
        return cls(
            org_id=env.get("SWITCHBOARD_ORG") or None,
            customer_ref=env.get("SWITCHBOARD_CUSTOMER") or None,
            trust_meta=env.get("SWITCHBOARD_TRUST_META", "").lower() in {"1", "true", "yes"},
        )

    def validate(self) -> ServerLaunch:
        if self.org_id is not None and not is_valid_identifier(self.org_id):
            raise invalid("--org must be 1-128 letters, digits or ._:@- characters")
        if self.customer_ref is not None and (problem := customer_ref_problem(self.customer_ref)):
            raise invalid(f"--customer {problem}")
        return self


@dataclass(frozen=True, slots=True)
class TokenIdentity:
    """What a verified bearer token grants: an org (None for a service token), trust, and
    optionally one customer of that org."""

    token_id: str
    org_id: str | None
    trusted: bool
    customer_ref: str | None = None


def resolve_context(
    launch: ServerLaunch, token: TokenIdentity | None, meta: Mapping[str, Any] | None
) -> RequestContext:
    """The request context for one call; raises FORBIDDEN when no tenant can be established."""
    fixed_org = token.org_id if token else launch.org_id
    trusted = token.trusted if token else launch.trust_meta
    fixed_customer = token.customer_ref if token else launch.customer_ref
    claimed = RequestContext.from_meta(meta) if trusted else {}

    org = fixed_org or claimed.get("org_id")
    if fixed_org and claimed.get("org_id") not in (None, fixed_org):
        raise forbidden("the request names a different tenant than this connection")
    if not org:
        raise forbidden("no tenant for this connection: start the server with --org, or connect with a token")
    if not is_valid_identifier(org):
        raise forbidden("the tenant id of this connection is not valid")

    customer = fixed_customer
    if fixed_customer and claimed.get("customer_ref") not in (None, fixed_customer):
        raise forbidden("the request names a different customer than this connection")
    customer = customer or claimed.get("customer_ref")
    if customer is not None and not fixed_customer and (problem := customer_ref_problem(customer)):
        raise invalid(f"the customer_ref in _meta {problem}")
    return RequestContext(
        org_id=org,
        customer_ref=customer,
        session_id=claimed.get("session_id"),
        agent_version_id=claimed.get("agent_version_id"),
        manifest_sha256=claimed.get("manifest_sha256"),
        trace_id=claimed.get("trace_id"),
        trusted=trusted,
    ).with_trace()


def request_context() -> RequestContext:
    """The context of the tool call being served (set by the kit's middleware)."""
    ctx = _current.get()
    if ctx is None:
        raise forbidden("no request context: tools run only inside a Switchboard server call")
    return ctx


def set_request_context(ctx: RequestContext | None) -> Any:
    return _current.set(ctx)


def reset_request_context(token: Any) -> None:
    _current.reset(token)
