"""THE choke point: every tool call the host makes passes through :meth:`Gateway.call`.

In order: exposed name → pinned tool (the allowlist); arguments validated against the pinned
input schema (a failure goes back to the model as a tool error, nothing is sent); policy —
confirmation bound to the exact arguments, operator approval through the review queue, per-turn
call limits; the ``tool_call`` audit record is appended (fail closed: no record, no call); the
call, with ``_meta`` naming org, customer, session, agent version, manifest hash and trace id,
under the pinned timeout; the result validated against the pinned output schema, invisible
characters stripped, size capped; the ``tool_result`` record appended; ``tool.started`` and
``tool.completed`` emitted. Only read tools are retried after a reconnect; writes are never
repeated (``request_refund`` gets a deterministic idempotency key).

The ``tool_call`` record is always committed before the call is sent. The ``tool_result`` record
is committed before :meth:`Gateway.call` returns, unless the invocation carries a ``deferred``
list (the engine's turns do): then its append runs off the call's path and the caller settles it
(:func:`host.tooling.settle_records`) before acknowledging anything built on the result.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from core import telemetry
from core.canonical import sha256_hex
from core.context import META_PREFIX
from core.errors import SwitchboardError
from core.factors import hide_factors, verified_customer
from host import callercheck
from host.confirmmeta import confirmation_meta_for
from host.crashpoints import crash_point
from host.pool import AgentPool
from host.store import RecordStore, masked_json
from host.telemetry import timed_append, traced_tool_call
from host.tooling import HOST_MANAGED_ARGS, CallOutcome, ExposedTool, Invocation, arguments_digest
from host.validation import schema_errors, strip_invisible

log = logging.getLogger("switchboard.host.gateway")

MAX_MODEL_CHARS = 16_000  # what the model is shown of one result
MAX_RESULT_BYTES = 256_000  # larger structured results are not passed on
_TIMEOUT_SLACK_S = 2.0

# Host-level outcome codes besides core.errors.ErrorCode
CONFIRMATION_REQUIRED = "CONFIRMATION_REQUIRED"
APPROVAL_REQUIRED = "APPROVAL_REQUIRED"
LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
INVALID_OUTPUT = "INVALID_OUTPUT"


class _Denied(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def idempotency_key(session_id: str | None, exposed_name: str, arguments: dict[str, Any]) -> str:
    """The same key for the same write in the same session: a retry never makes a second refund."""
    digest = sha256_hex(f"{session_id or '-'}|{exposed_name}|{arguments_digest(arguments)}")
    return f"sb-{digest[:40]}"


def _is_connection_error(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError

    if isinstance(exc, MCPError):
        return exc.code == -32000  # CONNECTION_CLOSED
    name = type(exc).__name__
    return name in {
        "ClosedResourceError",
        "BrokenResourceError",
        "EndOfStream",
        "ConnectError",
        "ReadError",
        "WriteError",
        "RemoteProtocolError",
    }


def _is_timeout(exc: BaseException) -> bool:
    from mcp.shared.exceptions import MCPError

    return isinstance(exc, TimeoutError) or (isinstance(exc, MCPError) and exc.code == -32001)


class Gateway:
    """The tool layer of one agent version: pinned tools, policy, audit, calls."""

    def __init__(self, pool: AgentPool, *, store: RecordStore | None = None, audit_append: Any = None) -> None:
        self.pool = pool
        self.store = store or RecordStore()
        if audit_append is None:
            from audit import append as audit_append
        self._append = audit_append if not telemetry.ON else timed_append(audit_append)
        self._kb_meta = kb_pins_meta(pool.pinned)

    # ToolLayer ------------------------------------------------------------------------------

    def exposed_tools(self) -> list[ExposedTool]:
        return self.pool.exposed_tools()

    def validate(self, exposed_name: str, arguments: dict[str, Any]) -> list[str]:
        tool = self.pool.tool(exposed_name)
        if tool is None:
            return [f"no tool named {exposed_name!r}"]
        return schema_errors(tool.input_schema, self._with_host_args(tool, arguments, None))

    async def call(self, inv: Invocation) -> CallOutcome:
        if telemetry.ON:  # an execute_tool span and the tool-call metrics (host/telemetry.py)
            return await traced_tool_call(self._call, inv, self.pool.tool(inv.exposed_name))
        return await self._call(inv)

    async def _call(self, inv: Invocation) -> CallOutcome:
        started = time.perf_counter()
        tool = self.pool.tool(inv.exposed_name)
        outcome = CallOutcome(call_id=inv.call_id, exposed_name=inv.exposed_name, ok=False, content="")
        if tool is not None:
            outcome.server_name, outcome.server_version = tool.server_name, tool.server_version
            outcome.tool_name, outcome.definition_sha256 = tool.tool_name, tool.definition_sha256
        try:
            tool, arguments = await self._admit(inv, tool)
        except _Denied as denied:
            outcome.error_code, outcome.error_message = denied.code, denied.message
            outcome.content = json.dumps({"code": denied.code, "message": denied.message}, ensure_ascii=False)
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            await self._audit_denied(inv, tool, outcome)
            return outcome
        # fail closed: no audit record, no call
        crash_point("before_call_record", inv.exposed_name)
        try:
            await self._append(
                self._event(inv, tool, "tool_call", arguments=hide_factors(arguments), details=self._details(inv, tool))
            )
        except Exception as exc:
            message = getattr(exc, "message", None) or type(exc).__name__
            log.error("audit append failed, call %s not made: %s", inv.call_id, message)
            outcome.error_code = "UNAVAILABLE"
            outcome.error_message = "the audit log cannot be written, so the call was not made"
            outcome.content = json.dumps({"code": outcome.error_code, "message": outcome.error_message})
            outcome.latency_ms = (time.perf_counter() - started) * 1000
            return outcome
        if inv.on_event is not None:
            await self._emit(
                inv,
                "tool.started",
                {
                    "call_id": inv.call_id,
                    "exposed_name": tool.exposed_name,
                    "server_name": tool.server_name,
                    "server_version": tool.server_version,
                    "definition_sha256": tool.definition_sha256,
                    "arguments": masked_json(
                        {k: v for k, v in hide_factors(arguments).items() if k not in HOST_MANAGED_ARGS}
                    ),
                    "actor": inv.actor,
                },
            )
        crash_point("after_call_record", inv.exposed_name)
        await self._execute(inv, tool, arguments, outcome)
        crash_point("after_server_write", inv.exposed_name)
        callercheck.reduce_result(inv, tool, outcome)
        outcome.latency_ms = (time.perf_counter() - started) * 1000
        result_event = self._event(
            inv,
            tool,
            "tool_result",
            customer_ref=verified_customer(outcome.data) if outcome.ok else None,
            result=outcome.data if outcome.ok else None,
            is_error=not outcome.ok,
            error_code=outcome.error_code,
            error_message=outcome.error_message,
            latency_ms=outcome.latency_ms,
        )
        if inv.deferred is not None:
            # off the call's path: the caller awaits it before the turn completes
            inv.deferred.append(asyncio.ensure_future(self._append_result(inv.call_id, result_event)))
        else:
            try:
                await self._append_result(inv.call_id, result_event)
            except Exception:
                outcome.ok, outcome.data = False, None
                outcome.error_code = "UNAVAILABLE"
                outcome.error_message = "the audit log cannot be written, so the result is withheld"
                outcome.content = json.dumps({"code": outcome.error_code, "message": outcome.error_message})
        await self._emit(
            inv,
            "tool.completed",
            {
                "call_id": inv.call_id,
                "exposed_name": tool.exposed_name,
                "ok": outcome.ok,
                "error_code": outcome.error_code,
                "latency_ms": round(outcome.latency_ms, 2),
            },
        )
        return outcome

    # admission ------------------------------------------------------------------------------

    async def _admit(self, inv: Invocation, tool: ExposedTool | None) -> tuple[ExposedTool, dict[str, Any]]:
        """Allowlist, schema, policy and limits; raises _Denied."""
        if tool is None:
            raise _Denied("NOT_FOUND", f"no tool named {inv.exposed_name!r} is pinned for this agent version")
        if not tool.enabled:
            raise _Denied("UNAVAILABLE", f"the tool {tool.exposed_name!r} is disabled: {tool.disabled_reason}")
        refused = callercheck.refusal(inv, tool)
        if refused is not None:
            raise _Denied("FORBIDDEN", refused)
        if not isinstance(inv.arguments, dict):
            raise _Denied("INVALID_ARGUMENT", "the arguments must be a JSON object")
        arguments = self._with_host_args(tool, inv.arguments, inv.context.session_id)
        errors = schema_errors(tool.input_schema, arguments)
        if errors:
            raise _Denied("INVALID_ARGUMENT", "; ".join(errors)[:1000])
        policy = tool.policy_for(inv.actor)
        if policy == "confirm":
            grant = inv.confirmation
            if grant is None or grant.exposed_name != tool.exposed_name:
                raise _Denied(CONFIRMATION_REQUIRED, "the customer has not confirmed this call")
            if grant.arguments_sha256 != arguments_digest(arguments):
                raise _Denied(CONFIRMATION_REQUIRED, "the customer confirmed different arguments")
        elif policy == "approve":
            await self._check_approval(inv, tool, arguments)
        if inv.budget is not None:
            used = inv.budget.counts.get(tool.exposed_name, 0)
            if used >= tool.max_calls_per_turn:
                raise _Denied(
                    LIMIT_EXCEEDED, f"{tool.exposed_name} may be called {tool.max_calls_per_turn} times a turn"
                )
            if inv.budget.total() >= inv.budget.max_total:
                raise _Denied(LIMIT_EXCEEDED, f"at most {inv.budget.max_total} tool calls a turn")
            inv.budget.counts[tool.exposed_name] = used + 1
        return tool, arguments

    async def _check_approval(self, inv: Invocation, tool: ExposedTool, arguments: dict[str, Any]) -> None:
        if not inv.approval_id:
            raise _Denied(APPROVAL_REQUIRED, "an operator must approve this call in the review queue")
        try:
            item = await self.store.get_review(inv.approval_id)
        except SwitchboardError:
            raise _Denied(APPROVAL_REQUIRED, "the approval was not found") from None
        payload = item.get("payload") or {}
        if (
            item["kind"] != "approval"
            or item["status"] != "Approved"
            or item["session_id"] != inv.context.session_id
            or payload.get("exposed_name") != tool.exposed_name
            or payload.get("arguments_sha256") != arguments_digest(arguments)
        ):
            raise _Denied(APPROVAL_REQUIRED, "no operator approval matches this call")

    @staticmethod
    def _with_host_args(tool: ExposedTool, arguments: dict[str, Any], session_id: str | None) -> dict[str, Any]:
        props = tool.input_schema.get("properties") or {}
        if "idempotency_key" not in props:
            return dict(arguments)
        args = {k: v for k, v in arguments.items() if k != "idempotency_key"}
        args["idempotency_key"] = idempotency_key(session_id, tool.exposed_name, args)
        return args

    # the call -------------------------------------------------------------------------------

    async def _execute(self, inv: Invocation, tool: ExposedTool, arguments: dict[str, Any], out: CallOutcome) -> None:
        conn = self.pool.connection(tool.server_name)
        timeout_s = tool.timeout_ms / 1000.0
        deadline = time.monotonic() + timeout_s
        meta = {**inv.context.to_meta(), **self._kb_meta, **confirmation_meta_for(inv, tool, arguments)}
        attempts = 2 if tool.is_read else 1
        for attempt in range(attempts):
            remaining = deadline - time.monotonic()
            if conn is None or not await conn.ensure_ready(remaining):
                reason = conn.error if conn is not None else "not pinned"
                _fail(out, "UNAVAILABLE", f"server {tool.server_name}@{tool.server_version} is unavailable: {reason}")
                return
            await self.pool.verify(conn)
            current = self.pool.tool(tool.exposed_name)
            if current is None or not current.enabled:
                _fail(out, "UNAVAILABLE", f"the tool is disabled: {current.disabled_reason if current else 'gone'}")
                return
            remaining = max(deadline - time.monotonic(), 0.05)
            try:
                async with asyncio.timeout(remaining + _TIMEOUT_SLACK_S):  # no extra task, unlike wait_for
                    result = await conn.call(tool.tool_name, arguments, meta=meta, timeout_s=remaining)
            except Exception as exc:
                if _is_timeout(exc):
                    _fail(out, "UNAVAILABLE", f"{tool.exposed_name} timed out after {tool.timeout_ms} ms")
                    out.reached_server = True
                    return
                if _is_connection_error(exc):
                    conn.mark_dead(f"connection lost: {type(exc).__name__}")
                    if attempt + 1 < attempts:
                        log.warning("%s lost during %s; reconnecting to retry a read", conn.label, tool.exposed_name)
                        continue
                    what = "" if tool.is_read else " (a write is never repeated; it may or may not have happened)"
                    _fail(out, "UNAVAILABLE", f"the connection to {conn.label} was lost{what}")
                    out.reached_server = not tool.is_read
                    return
                if isinstance(exc, RuntimeError) and "structured content" in str(exc).lower():
                    _fail(out, INVALID_OUTPUT, "the result does not match the tool's output schema")
                    out.reached_server = True
                    return
                log.exception("call %s failed", inv.call_id)
                _fail(out, "INTERNAL", f"the call failed ({type(exc).__name__})")
                return
            out.reached_server = True
            self._read_result(tool, result, out, checked=_client_checked(conn, tool))
            return

    def _read_result(self, tool: ExposedTool, result: Any, out: CallOutcome, *, checked: bool = False) -> None:
        texts = [getattr(c, "text", "") for c in (result.content or []) if getattr(c, "type", "") == "text"]
        if result.is_error:
            body = _parse_error(" ".join(texts), result.structured_content)
            _fail(out, body["code"], body["message"], body.get("details"))
            return
        data: Any = result.structured_content
        if tool.output_schema and not checked:
            if data is None:
                _fail(
                    out, INVALID_OUTPUT, "the tool returned no structured result although it declares an output schema"
                )
                return
            errors = schema_errors(tool.output_schema, data)
            if errors:
                _fail(out, INVALID_OUTPUT, "the result does not match the pinned output schema: " + errors[0][:300])
                return
        if data is None:
            data = {"text": "\n".join(texts)}
        data = strip_invisible(data)
        encoded = json.dumps(data, ensure_ascii=False)
        if len(encoded.encode("utf-8")) > MAX_RESULT_BYTES:
            data = {"truncated": True, "text": encoded[:MAX_MODEL_CHARS]}
            encoded = json.dumps(data, ensure_ascii=False)
        if len(encoded) > MAX_MODEL_CHARS:
            encoded = encoded[:MAX_MODEL_CHARS] + "…[truncated]"
        out.ok, out.data, out.content = True, data, encoded

    # audit and events -----------------------------------------------------------------------

    def _details(self, inv: Invocation, tool: ExposedTool) -> dict[str, Any]:
        return {
            "policy": tool.policy_for(inv.actor),
            "confirmed": inv.confirmation is not None,
            "approval_id": inv.approval_id,
            "risk_class": tool.risk_class,
        }

    def _event(self, inv: Invocation, tool: ExposedTool | None, event_type: str, **fields: Any) -> Any:
        from audit import AuditEvent

        ctx = inv.context
        conn = self.pool.connection(tool.server_name) if tool else None
        verified = fields.pop("customer_ref", None)  # the customer a caller check just matched
        return AuditEvent(
            org_id=ctx.org_id,
            event_type=event_type,
            source="host",
            actor=inv.actor,
            customer_ref=ctx.customer_ref or verified,
            session_id=ctx.session_id,
            turn_id=inv.turn_id,
            trace_id=inv.call_id,
            agent_version_id=ctx.agent_version_id,
            manifest_sha256=ctx.manifest_sha256,
            server_name=tool.server_name if tool else None,
            server_version=tool.server_version if tool else None,
            tool_name=tool.tool_name if tool else None,
            exposed_name=inv.exposed_name,
            definition_sha256_pinned=tool.definition_sha256 if tool else None,
            definition_sha256_observed=conn.live_hashes.get(tool.tool_name) if conn and tool else None,
            **fields,
        )

    async def _append_result(self, call_id: str, event: Any) -> None:
        try:
            await self._append(event)
            crash_point("after_result_record", event.exposed_name)
        except Exception as exc:
            log.error("audit append of result %s failed: %s", call_id, getattr(exc, "message", exc))
            raise

    async def _audit_denied(self, inv: Invocation, tool: ExposedTool | None, out: CallOutcome) -> None:
        try:
            await self._append(
                self._event(
                    inv,
                    tool,
                    "tool_call_denied",
                    arguments=hide_factors(inv.arguments) if isinstance(inv.arguments, dict) else None,
                    is_error=True,
                    error_code=out.error_code,
                    error_message=out.error_message,
                )
            )
        except Exception as exc:
            log.warning("could not audit a denied call: %s", getattr(exc, "message", exc))

    @staticmethod
    async def _emit(inv: Invocation, event_type: str, payload: dict[str, Any]) -> None:
        if inv.on_event is not None:
            try:
                await inv.on_event(event_type, payload)
            except Exception:
                log.debug("event listener failed", exc_info=True)


def _client_checked(conn: Any, tool: ExposedTool) -> bool:
    """True when the MCP client already validated this result against exactly the pinned schema.

    The client SDK checks structured content against the output schema it cached from
    ``tools/list``; when that cached schema equals the pinned one, checking again would only
    repeat the same work (and add to the call's latency).
    """
    try:
        cached = conn.client.session._tool_output_schemas.get(tool.tool_name)
    except Exception:  # a client without that cache: validate ourselves
        return False
    if cached is None:
        return False
    pinned = tool.output_schema
    key = (id(cached), id(pinned))
    known = _SAME_SCHEMA.get(key)
    if known is not None and known[0] is cached and known[1] is pinned:
        return known[2]
    same = cached == pinned
    if len(_SAME_SCHEMA) >= 256:
        _SAME_SCHEMA.clear()
    _SAME_SCHEMA[key] = (cached, pinned, same)  # holds both, so their ids stay theirs
    return same


# (id(client's cached schema), id(pinned schema)) -> (cached, pinned, equal): the deep comparison
# runs once per pair of schema objects, not once per call
_SAME_SCHEMA: dict[tuple[int, int], tuple[Any, Any, bool]] = {}


def kb_pins_meta(pinned: Any) -> dict[str, Any]:
    """``_meta["switchboard/kb_versions"]``: the agent version's KB pins, so search stays on them."""
    pins = {}
    for kb in getattr(pinned, "kbs", None) or []:
        version = str(kb.version)
        if version.isdigit():
            pins[kb.kb_id] = int(version)
    return {f"{META_PREFIX}kb_versions": pins} if pins else {}


def _fail(out: CallOutcome, code: str, message: str, details: dict[str, Any] | None = None) -> None:
    out.ok, out.data = False, None
    out.error_code, out.error_message, out.error_details = code, message, details or None
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    out.content = json.dumps(body, ensure_ascii=False)


def _parse_error(text: str, structured: Any) -> dict[str, Any]:
    """The ``{code, message, details?}`` of a tool error (the kit's shape: ``{code, message,
    reason?}``, ``reason`` a stable sub-code such as ``window_passed``), or a generic one."""
    for candidate in (structured, text):
        body = candidate
        if isinstance(candidate, str):
            try:
                body = json.loads(candidate)
            except ValueError:
                body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            parsed: dict[str, Any] = {"code": body["code"][:40], "message": str(body.get("message", ""))[:500]}
            if isinstance(body.get("reason"), str) and body["reason"]:
                parsed["details"] = {"reason": body["reason"][:40]}  # the kit's stable sub-code
            return parsed
    return {"code": "TOOL_ERROR", "message": strip_invisible(text)[:500] or "the tool reported an error"}
