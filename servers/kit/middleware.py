"""The kit's tool-call middleware: identity, hooks (audit), stable errors."""

from __future__ import annotations

from typing import Any

from fastmcp.server.middleware import Middleware, MiddlewareContext

from core import telemetry
from core.errors import SwitchboardError, invalid
from servers.kit import warm
from servers.kit.errors import classify, error_result
from servers.kit.hooks import ToolCall, ToolCallHook, ToolOutcome
from servers.kit.identity import (
    ServerLaunch,
    TokenIdentity,
    reset_request_context,
    resolve_context,
    set_request_context,
)


def _token_identity() -> TokenIdentity | None:
    from fastmcp.server.dependencies import get_access_token

    token = get_access_token()
    if token is None:
        return None
    claims = token.claims or {}
    return TokenIdentity(
        str(claims.get("token_id", "")), claims.get("org_id"), bool(claims.get("trusted")), claims.get("customer_ref")
    )


def _client_info(meta: dict[str, Any] | None, fastmcp_context: Any) -> tuple[str | None, str | None]:
    info = (meta or {}).get("io.modelcontextprotocol/clientInfo")
    if isinstance(info, dict):
        return _short(info.get("name")), _short(info.get("version"))
    try:
        params = fastmcp_context.session.client_params
        return _short(params.client_info.name), _short(params.client_info.version)
    except Exception:
        return None, None


def _not_utf8(value: Any, path: str = "") -> str | None:
    """Where in ``value`` (a JSON value) a string or key cannot be encoded as UTF-8, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "arguments"
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if (isinstance(key, str) and _not_utf8(key) is not None) or (where := _not_utf8(item, where)):
                return where.encode("utf-8", "backslashreplace").decode("utf-8")
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            if where := _not_utf8(item, f"{path}[{index}]"):
                return where
    return None


def _short(value: Any) -> str | None:
    return str(value)[:100] if value is not None else None


class ToolCallMiddleware(Middleware):
    """Resolves who is calling, runs the hooks around the tool, and maps errors to codes."""

    def __init__(self, server_name: str, server_version: str, launch: ServerLaunch, hooks: list[ToolCallHook]):
        self.server_name = server_name
        self.server_version = server_version
        self.launch = launch
        self.hooks = hooks

    async def on_list_tools(self, context: MiddlewareContext, call_next: Any) -> Any:
        result = await call_next(context)
        warm.mark_listed()  # the handshake is over: background model loading may start
        return result

    async def on_call_tool(self, context: MiddlewareContext, call_next: Any) -> Any:
        if warm.unsettled():  # the first call waits for the start-up jobs' imports (servers/kit/warm.py)
            await warm.settle()
        fctx = context.fastmcp_context
        meta = None
        try:
            meta = dict(fctx.request_context.meta or {}) if fctx and fctx.request_context else None
        except Exception:
            meta = None
        try:
            req = resolve_context(self.launch, _token_identity(), meta)
        except SwitchboardError as err:
            return error_result(err)
        name, version = _client_info(meta, fctx)
        arguments = context.message.arguments if isinstance(context.message.arguments, dict) else {}
        names = {"tool name": context.message.name, "client name": name, "client version": version}
        if where := _not_utf8(names) or _not_utf8(arguments):
            # JSON can escape a lone surrogate ("\ud800"): no character, and nothing (the audit log
            # included) can store it as UTF-8. The caller's input, refused before any hook runs.
            return error_result(
                invalid(
                    f"{where!r} holds a lone surrogate (an escaped \\ud800-\\udfff that is not part of a pair), "
                    "which is not text: send the arguments as valid UTF-8"
                )
            )
        call = ToolCall(self.server_name, self.server_version, context.message.name, arguments, req, name, version)
        token = set_request_context(req)
        try:
            if telemetry.ON:  # off: this one read, nothing else (docs/observability.md)
                from servers.kit.telemetry import observed

                return await observed(lambda: self._run(call, context, call_next), call, meta, fctx)
            return await self._run(call, context, call_next)
        finally:
            reset_request_context(token)

    async def _run(self, call: ToolCall, context: MiddlewareContext, call_next: Any) -> Any:
        try:
            for hook in self.hooks:
                await hook.before_call(call)
        except Exception as exc:
            return error_result(classify(exc, trace_id=call.context.trace_id))
        error: SwitchboardError | None = None
        result: Any = None
        try:
            result = await call_next(context)
        except Exception as exc:
            error = classify(exc, trace_id=call.context.trace_id)
        outcome = ToolOutcome(
            is_error=error is not None or bool(getattr(result, "is_error", False)),
            result=getattr(result, "structured_content", None) if error is None else None,
            error_code=error.code.value if error else None,
            error_message=error.message if error else None,
            latency_ms=call.elapsed_ms(),
        )
        try:
            for hook in self.hooks:
                await hook.after_call(call, outcome)
        except Exception as exc:
            return error_result(classify(exc, trace_id=call.context.trace_id))
        return error_result(error) if error else result
