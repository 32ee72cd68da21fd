"""Traces and metrics for one server tool call, and the HTTP servers' ``/metrics`` route.

The kit's middleware hands a call here only while :data:`core.telemetry.ON`; off, it runs the
call directly. The ``SERVER`` span continues the caller's trace from the W3C trace context in
the request ``_meta`` (``traceparent``, ``tracestate``, MCP semantic conventions); the audit
append and the tool's own SQL run inside it and show up as its children (core/dbtrace.py).
Attributes are names, codes and ids only: never arguments or results.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from core import telemetry
from servers.kit.hooks import ToolCall, ToolCallHook, ToolOutcome


def error_code(result: Any) -> str | None:
    """The stable code of an error result (the kit's ``{code, message}`` text), else None."""
    if not getattr(result, "is_error", False):
        return None
    for block in getattr(result, "content", None) or []:
        try:
            body = json.loads(getattr(block, "text", "") or "")
        except ValueError:
            continue
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            return body["code"][:40]
    return "tool_error"


def _parent(meta: dict[str, Any] | None) -> Any:
    carrier = {k: v for k in ("traceparent", "tracestate") if isinstance(v := (meta or {}).get(k), str)}
    if not carrier:
        return None
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    return TraceContextTextMapPropagator().extract(carrier)


def span_attributes(call: ToolCall, tool: str, session_id: str | None) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "mcp.method.name": "tools/call",
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": tool,
        "switchboard.server.name": call.server_name,
        "switchboard.server.version": call.server_version,
        "switchboard.org.id": telemetry.safe_id(call.context.org_id),
    }
    if session_id:
        attrs["mcp.session.id"] = telemetry.safe_id(session_id)
    if call.context.session_id:
        attrs["gen_ai.conversation.id"] = telemetry.safe_id(call.context.session_id)
    return attrs


def _mcp_session_id(fastmcp_context: Any) -> str | None:
    try:
        value = fastmcp_context.session_id
    except Exception:  # stdio and stateless HTTP have no MCP session
        return None
    return str(value) if value else None


UNKNOWN_TOOL = "_unknown"
_known: dict[int, frozenset[str]] = {}  # id(server) -> its tool names


async def _tool_label(call: ToolCall, fctx: Any) -> str:
    """The tool's name if the server has such a tool, else ``_unknown``: a client's made-up name
    (which could hold anything, personal data included) never becomes an attribute or a label."""
    server = getattr(fctx, "fastmcp", None)
    if server is None:
        return UNKNOWN_TOOL
    names = _known.get(id(server))
    if names is None or call.tool_name not in names:
        try:
            names = frozenset(t.name for t in await server.list_tools(run_middleware=False))
        except Exception:
            names = frozenset()
        _known[id(server)] = names
    return call.tool_name if call.tool_name in names else UNKNOWN_TOOL


async def observed(run: Callable[[], Awaitable[Any]], call: ToolCall, meta: dict[str, Any] | None, fctx: Any) -> Any:
    """``run()`` inside a server span, counted and timed."""
    started = telemetry.monotonic()
    tool = await _tool_label(call, fctx)
    tracer = telemetry.tracer()
    if tracer is None:
        result = await run()
        _record(call, tool, result, telemetry.monotonic() - started)
        return result
    from opentelemetry import trace
    from opentelemetry.trace import Status, StatusCode

    with tracer.start_as_current_span(
        f"tools/call {tool}",
        context=_parent(meta),
        kind=trace.SpanKind.SERVER,
        attributes=span_attributes(call, tool, _mcp_session_id(fctx)),
        record_exception=False,  # exception messages may quote personal data
        set_status_on_exception=True,
    ) as span:
        result = await run()
        code = error_code(result)
        if code:
            span.set_attribute("error.type", code)
            span.set_status(Status(StatusCode.ERROR))
    _record(call, tool, result, telemetry.monotonic() - started, code)
    return result


def _record(call: ToolCall, tool: str, result: Any, seconds: float, code: str | None = None) -> None:
    inst = telemetry.instruments()
    if inst is None:
        return
    code = code or error_code(result)
    telemetry.record_tool_call(f"server:{call.server_name}", tool, seconds, code)
    attrs = {"mcp.method.name": "tools/call", "gen_ai.tool.name": tool}
    if code:
        attrs["error.type"] = code
    inst.mcp_server.record(seconds, attrs)


def add_metrics_route(server: Any) -> bool:
    """Mount ``GET /metrics`` (Prometheus text) on an HTTP server when SWITCHBOARD_METRICS is on."""
    if telemetry.prometheus_text() is None:
        return False
    from starlette.responses import Response

    @server.custom_route("/metrics", methods=["GET"])
    async def metrics(request: Any) -> Response:
        await telemetry.refresh()
        body = telemetry.prometheus_text() or b""
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return True


def traced_hooks(hooks: list[ToolCallHook]) -> list[ToolCallHook]:
    """``hooks`` as they are while tracing is off; else each in a span of its own (the audit
    hook's ``after_call`` is the wait for its record's commit)."""
    if not telemetry.TRACING:
        return hooks
    return [_TracedHook(hook) for hook in hooks]


# hook class -> (span of before_call, span of after_call)
_HOOK_SPANS = {"AuditHook": ("audit ready", "audit append")}


class _TracedHook:
    def __init__(self, hook: ToolCallHook) -> None:
        self.hook = hook
        name = type(hook).__name__
        self.names = _HOOK_SPANS.get(name, (f"{name} before_call", f"{name} after_call"))

    async def before_call(self, call: ToolCall) -> None:
        with _hook_span(self.names[0]):
            await self.hook.before_call(call)

    async def after_call(self, call: ToolCall, outcome: ToolOutcome) -> None:
        with _hook_span(self.names[1]):
            await self.hook.after_call(call, outcome)


def _hook_span(name: str) -> Any:
    tracer = telemetry.tracer()
    if tracer is None:
        import contextlib

        return contextlib.nullcontext()
    return tracer.start_as_current_span(name, record_exception=False)
