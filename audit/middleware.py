"""The server side of the audit log: one record per tool call, fail closed.

``AuditHook(server_name)`` implements the kit's hook protocol (``servers/kit/hooks.py``):

- ``before_call`` checks that the log can be written (the chain's database answers a write
  probe the first time and after any failure; the org's HMAC key loads). If not, the call is
  refused with UNAVAILABLE and the tool never runs.
- ``after_call`` appends the single record of the call (source ``server:<name>``, client name
  and version, tool, redacted arguments, result or error code, latency, trace and session ids).
  It returns only after the record is durable in the write-ahead journal (``audit/journal.py``;
  chained into the log right after, off the call's path); if that fails the caller gets
  UNAVAILABLE instead of the result.
"""

from __future__ import annotations

from typing import Any

from audit.log import append_journaled, ready
from audit.record import AuditEvent
from core.errors import ErrorCode, SwitchboardError, unavailable
from core.factors import hide_factors, verified_customer


def _is_sha256(value: str | None) -> bool:
    return value is None or (len(value) == 64 and not value.strip("0123456789abcdef"))


def _actor(client_name: str | None, oauth: dict[str, Any] | None) -> str:
    """``oauth:<subject>@<client id>`` for an OAuth token, else ``client:<MCP client name>``."""
    if oauth:
        return f"oauth:{oauth.get('subject') or '-'}@{oauth.get('client_id') or '-'}"
    return f"client:{client_name}" if client_name else "client:unknown"


class AuditHook:
    """Appends one audit record per tool call of the server ``server_name``."""

    def __init__(self, server_name: str) -> None:
        self.server_name = server_name
        self.source = f"server:{server_name}"

    async def before_call(self, call: Any) -> None:
        try:
            await ready(call.context.org_id, call.context.customer_ref)
        except SwitchboardError as err:
            raise unavailable(f"the audit log is unavailable, so the call was not made: {err.message}") from None
        except Exception as exc:
            raise unavailable(
                f"the audit log is unavailable ({type(exc).__name__}), so the call was not made"
            ) from None

    async def after_call(self, call: Any, outcome: Any) -> None:
        ctx = call.context
        oauth = call.state.get("oauth")  # set by servers/kit/scopes.py for an OAuth token
        details = None if _is_sha256(ctx.manifest_sha256) else {"manifest_sha256_claimed": ctx.manifest_sha256}
        if oauth:
            details = {**(details or {}), "oauth": oauth}
        event = AuditEvent(
            org_id=ctx.org_id,
            event_type="tool_call",
            source=self.source,
            actor=_actor(call.client_name, oauth),
            customer_ref=ctx.customer_ref or (None if outcome.is_error else verified_customer(outcome.result)),
            session_id=ctx.session_id,
            trace_id=ctx.trace_id,
            agent_version_id=ctx.agent_version_id,
            manifest_sha256=ctx.manifest_sha256 if _is_sha256(ctx.manifest_sha256) else None,
            server_name=self.server_name,
            server_version=call.server_version,
            client_name=call.client_name,
            client_version=call.client_version,
            tool_name=call.tool_name,
            arguments=hide_factors(call.arguments),
            result=outcome.result if not outcome.is_error else None,
            is_error=outcome.is_error,
            error_code=outcome.error_code or ("TOOL_ERROR" if outcome.is_error else None),
            error_message=outcome.error_message,
            latency_ms=outcome.latency_ms,
            details=details,
        )
        try:
            await append_journaled(event)
        except SwitchboardError as err:
            if err.code is ErrorCode.UNAVAILABLE:
                raise
            raise unavailable(f"the audit record of this call was refused ({err.code.value}): {err.message}") from None
        except Exception as exc:
            raise unavailable(f"the audit log could not record this call ({type(exc).__name__})") from None
