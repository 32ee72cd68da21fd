"""The host's traces and metrics: a span per turn, per tool call, per MCP request.

One trace per customer turn::

    invoke_agent <agent>            (the turn: host/engine.py)
      execute_tool <exposed name>   (the gateway's choke point: policy, audit, call)
        tools/call <tool>           (the MCP request; its W3C trace context goes in ``_meta``)
          tools/call <tool>         (the server's span, in the server's process: servers/kit)
            INSERT audit_event ...  (the server's database work)

Every helper here is reached only while :data:`core.telemetry.ON` (or returns a shared no-op
at once). Attributes are names, codes and ids only; ids that could carry personal data are
hashed (:func:`core.telemetry.safe_id`). Metrics: tool calls, turns, confirmations by class,
escalations by source, audit append lag and checkpoint age (docs/observability.md).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

from core import telemetry

_NULL = contextlib.nullcontext()


METRICS_OFF = (
    "metrics are off on this host worker: start it with SWITCHBOARD_METRICS=1 to serve "
    "GET /metrics (Prometheus text; docs/observability.md)"
)


def observability_routes() -> list[Any]:
    """Turn telemetry on as the environment asks; ``[GET /metrics]`` when SWITCHBOARD_METRICS is on.

    Off, ``GET /metrics`` is a 404 that says how to turn it on (it was a bare "Not Found": a
    scale-out walk scraped a worker started without the variable). Nothing is loaded for it.
    """
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    telemetry.configure_from_env("switchboard-host")
    if telemetry.prometheus_text() is None:

        async def metrics_off(request: Any) -> Response:
            return JSONResponse({"error": "not_found", "detail": METRICS_OFF}, status_code=404)

        return [Route("/metrics", metrics_off)]

    telemetry.add_refresher(refresh_checkpoint_age)

    async def metrics(request: Any) -> Response:
        await telemetry.refresh()
        body = telemetry.prometheus_text() or b""
        return Response(body, media_type="text/plain; version=0.0.4; charset=utf-8")

    return [Route("/metrics", metrics)]


# the turn ---------------------------------------------------------------------------------------


def turn_span(conv: Any, turn: Any) -> Any:
    """A context manager around one turn (a shared no-op while telemetry is off)."""
    if not telemetry.ON:
        return _NULL
    return _turn_span(conv, turn)


@contextlib.contextmanager
def _turn_span(conv: Any, turn: Any) -> Iterator[None]:
    started = time.perf_counter()
    profile = conv.profile
    span_cm = _NULL
    tracer = telemetry.tracer()
    if tracer is not None:
        span_cm = tracer.start_as_current_span(
            f"invoke_agent {profile.agent_slug}",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": telemetry.safe_id(profile.agent_slug),
                "gen_ai.agent.id": telemetry.safe_id(profile.agent_version_id),
                "gen_ai.provider.name": telemetry.safe_id(profile.provider),
                "gen_ai.conversation.id": telemetry.safe_id(conv.session_id),
                "switchboard.org.id": telemetry.safe_id(profile.org_id),
                "switchboard.turn.seq": int(turn.seq),
            },
            record_exception=False,
        )
    with span_cm as span:
        try:
            yield
        finally:
            _turn_ended(span, turn, time.perf_counter() - started)


def _turn_ended(span: Any, turn: Any, seconds: float) -> None:
    status = str(turn.status)
    code = (turn.error or {}).get("code")
    if span is not None:
        span.set_attribute("switchboard.turn.status", status)
        if code:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", str(code))
            span.set_status(Status(StatusCode.ERROR))
    inst = telemetry.instruments()
    if inst is None:
        return
    inst.turns.record(seconds, {"switchboard.turn.status": status})
    for event in turn.events:
        if event.event_type == "CONFIRMATION_CLASSIFIED":
            payload = event.payload or {}
            inst.confirmations.add(
                1,
                {
                    "switchboard.confirmation.class": str(payload.get("label") or "unknown"),
                    "switchboard.confirmation.source": str(payload.get("source") or "unknown"),
                },
            )


async def traced_model_call(conv: Any, request: Any, on_delta: Any) -> Any:
    """One model step (``provider.complete``) as a ``chat`` span, timed by provider and model."""
    profile = conv.profile
    attrs = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": telemetry.safe_id(profile.provider),
        "gen_ai.request.model": telemetry.safe_id(profile.model or profile.provider),
    }
    started = time.perf_counter()
    tracer = telemetry.tracer()
    span_cm = _NULL
    if tracer is not None:
        from opentelemetry import trace

        name = f"chat {attrs['gen_ai.request.model']}"
        kind = trace.SpanKind.CLIENT
        span_cm = tracer.start_as_current_span(name, kind=kind, attributes=attrs, record_exception=False)
    error: str | None = None
    try:
        with span_cm as span:
            try:
                reply = await conv.provider.complete(request, on_delta)
            except BaseException as exc:
                error = getattr(getattr(exc, "code", None), "value", None) or type(exc).__name__
                if span is not None:
                    span.set_attribute("error.type", error)
                raise
            if span is not None:
                usage = reply.usage or {}
                for key in ("input_tokens", "output_tokens"):
                    if isinstance(usage.get(key), int):
                        span.set_attribute(f"gen_ai.usage.{key}", usage[key])
                if reply.stop_reason:
                    span.set_attribute("gen_ai.response.finish_reasons", [telemetry.safe_id(reply.stop_reason)])
            return reply
    finally:
        inst = telemetry.instruments()
        if inst is not None:
            inst.model.record(time.perf_counter() - started, {**attrs, **({"error.type": error} if error else {})})


def escalated(source: str) -> None:
    """Count a session handed to a person (``source``: customer, model, low_confidence, ...)."""
    inst = telemetry.instruments()
    if inst is not None:
        inst.escalations.add(1, {"switchboard.escalation.source": telemetry.safe_id(source)})


# the gateway and the MCP request -----------------------------------------------------------------


async def traced_tool_call(call: Callable[[Any], Awaitable[Any]], inv: Any, tool: Any) -> Any:
    """The gateway's ``call(inv)`` in an ``execute_tool`` span, counted by outcome and code."""
    started = time.perf_counter()
    tracer = telemetry.tracer()
    span_cm = _NULL
    # a name the model made up (it could quote the customer) is neither an attribute nor a label
    name = inv.exposed_name if tool is not None else "_unknown"
    if tracer is not None:
        attrs = {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": name,
            "gen_ai.tool.call.id": telemetry.safe_id(inv.call_id),
            "switchboard.actor": telemetry.safe_id(inv.actor),
        }
        if tool is not None:
            attrs["switchboard.server.name"] = tool.server_name
            attrs["switchboard.server.version"] = tool.server_version
        span_cm = tracer.start_as_current_span(f"execute_tool {attrs['gen_ai.tool.name']}", attributes=attrs)
    with span_cm as span:
        outcome = await call(inv)
        if span is not None and not outcome.ok:
            from opentelemetry.trace import Status, StatusCode

            span.set_attribute("error.type", str(outcome.error_code or "error"))
            span.set_status(Status(StatusCode.ERROR))
    code = None if outcome.ok else str(outcome.error_code or "error")
    telemetry.record_tool_call("host", name, time.perf_counter() - started, code)
    return outcome


async def traced_mcp_call(
    conn: Any, tool_name: str, meta: dict[str, Any], send: Callable[[dict[str, Any]], Awaitable[Any]]
) -> Any:
    """One ``tools/call`` as a ``CLIENT`` span whose trace context travels in ``_meta``."""
    started = time.perf_counter()
    tracer = telemetry.tracer()
    transport = "tcp" if (conn.pin.launch or {}).get("transport") == "http" else "pipe"
    attrs = {"mcp.method.name": "tools/call", "gen_ai.tool.name": tool_name, "network.transport": transport}
    error: str | None = None
    try:
        if tracer is None:
            result = await send(meta)
        else:
            from opentelemetry import trace
            from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

            span_attrs = {
                **attrs,
                "gen_ai.operation.name": "execute_tool",
                "switchboard.server.name": conn.pin.name,
                "switchboard.server.version": conn.pin.version,
            }
            if conn.protocol_version:
                span_attrs["mcp.protocol.version"] = str(conn.protocol_version)
            with tracer.start_as_current_span(
                f"tools/call {tool_name}", kind=trace.SpanKind.CLIENT, attributes=span_attrs, record_exception=False
            ) as span:
                carried = dict(meta)
                TraceContextTextMapPropagator().inject(carried)
                try:
                    result = await send(carried)
                except BaseException as exc:
                    span.set_attribute("error.type", type(exc).__name__)
                    raise
                if getattr(result, "is_error", False):
                    span.set_attribute("error.type", "tool_error")
        if getattr(result, "is_error", False):
            error = "tool_error"
        return result
    except BaseException as exc:
        error = type(exc).__name__
        raise
    finally:
        inst = telemetry.instruments()
        if inst is not None:
            if error:
                attrs["error.type"] = error
            inst.mcp_client.record(time.perf_counter() - started, attrs)


# audit ------------------------------------------------------------------------------------------


def timed_append(append: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    """``append`` that records its lag (request to commit) in ``switchboard.audit.append.duration``."""

    async def timed(event: Any) -> Any:
        started = time.perf_counter()
        try:
            return await append(event)
        finally:
            inst = telemetry.instruments()
            if inst is not None:
                attrs = {"switchboard.audit.event_type": str(getattr(event, "event_type", "") or "unknown")}
                inst.audit_append.record(time.perf_counter() - started, attrs)

    return timed


async def refresh_checkpoint_age() -> None:
    """``switchboard.audit.checkpoint.age`` per org: seconds since its newest checkpoint file."""
    import asyncio

    from audit.checkpoints import checkpoint_dir

    ages = await asyncio.to_thread(_checkpoint_ages, checkpoint_dir())
    telemetry.set_gauge("switchboard.audit.checkpoint.age", {(("switchboard.org.id", k),): v for k, v in ages.items()})


def _checkpoint_ages(root: Path) -> dict[str, float]:
    now = time.time()
    ages: dict[str, float] = {}
    if not root.is_dir():
        return ages
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        newest = max((f.stat().st_mtime for f in folder.glob("*.json")), default=None)
        if newest is not None:
            ages[telemetry.safe_id(folder.name)] = max(0.0, now - newest)
    return ages
