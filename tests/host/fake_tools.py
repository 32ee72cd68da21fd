"""An in-memory ToolLayer for engine tests: pinned-like tools with Python handlers."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from core.canonical import canonical_sha256
from core.errors import SwitchboardError
from host.tooling import CallOutcome, ExposedTool, Invocation, arguments_digest
from host.validation import schema_errors

Handler = Callable[[dict[str, Any]], Awaitable[Any] | Any]

ORDER_SCHEMA = {
    "type": "object",
    "properties": {"order_id": {"type": "string", "pattern": r"^[1-9][0-9]{3,19}$"}},
    "required": ["order_id"],
    "additionalProperties": False,
}
QUERY_SCHEMA = {
    "type": "object",
    "properties": {"query": {"type": "string", "minLength": 1}, "top_k": {"type": "integer", "minimum": 1}},
    "required": ["query"],
    "additionalProperties": False,
}
REFUND_SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string", "pattern": r"^[1-9][0-9]{3,19}$"},
        "reason": {"type": "string", "minLength": 2},
        "idempotency_key": {"type": "string", "minLength": 8},
    },
    "required": ["order_id", "reason", "idempotency_key"],
    "additionalProperties": False,
}


def make_tool(
    exposed: str,
    server: str,
    tool_name: str,
    schema: dict[str, Any],
    *,
    policy: str = "never",
    risk: str = "read",
    description: str = "",
    enabled: bool = True,
    max_calls: int = 3,
) -> ExposedTool:
    definition = {"name": tool_name, "description": description or tool_name, "inputSchema": schema}
    return ExposedTool(
        exposed_name=exposed,
        server_name=server,
        server_version="1.0.0",
        tool_name=tool_name,
        definition=definition,
        definition_sha256=canonical_sha256(definition),
        policy=policy,
        risk_class=risk,
        enabled=enabled,
        max_calls_per_turn=max_calls,
    )


@dataclass
class FakeToolLayer:
    """Calls handlers in-process; records every call that reached a "server"."""

    tools: list[ExposedTool]
    handlers: dict[str, Handler]
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    invocations: list[Invocation] = field(default_factory=list)

    def exposed_tools(self) -> list[ExposedTool]:
        return self.tools

    def tool(self, name: str) -> ExposedTool | None:
        return next((t for t in self.tools if t.exposed_name == name), None)

    def validate(self, exposed_name: str, arguments: dict[str, Any]) -> list[str]:
        tool = self.tool(exposed_name)
        if tool is None:
            return [f"unknown tool {exposed_name}"]
        args = dict(arguments)
        if "idempotency_key" in (tool.input_schema.get("properties") or {}):
            args.setdefault("idempotency_key", "k" * 16)
        return schema_errors(tool.input_schema, args)

    async def call(self, inv: Invocation) -> CallOutcome:
        self.invocations.append(inv)
        tool = self.tool(inv.exposed_name)
        assert tool is not None
        base = {
            "call_id": inv.call_id,
            "exposed_name": inv.exposed_name,
            "server_name": tool.server_name,
            "server_version": tool.server_version,
            "tool_name": tool.tool_name,
            "definition_sha256": tool.definition_sha256,
        }
        errors = self.validate(inv.exposed_name, inv.arguments)
        if errors:  # like the gateway: invalid arguments never reach a server
            return CallOutcome(
                ok=False,
                content=json.dumps({"code": "INVALID_ARGUMENT", "message": "; ".join(errors)}),
                error_code="INVALID_ARGUMENT",
                error_message="; ".join(errors),
                **base,
            )
        if tool.policy_for(inv.actor) == "confirm" and (
            inv.confirmation is None or inv.confirmation.arguments_sha256 != arguments_digest(inv.arguments)
        ):
            return CallOutcome(ok=False, content="", error_code="CONFIRMATION_REQUIRED", **base)
        if inv.on_event:
            await inv.on_event("tool.started", {"call_id": inv.call_id, "exposed_name": inv.exposed_name})
        args = dict(inv.arguments)
        if "idempotency_key" in (tool.input_schema.get("properties") or {}):
            args["idempotency_key"] = f"idem-{inv.context.session_id}"
        self.calls.append((inv.exposed_name, args))
        try:
            result = self.handlers[inv.exposed_name](args)
            if hasattr(result, "__await__"):
                result = await result
            outcome = CallOutcome(
                ok=True, content=json.dumps(result, ensure_ascii=False), data=result, reached_server=True, **base
            )
        except SwitchboardError as err:
            outcome = CallOutcome(
                ok=False,
                content="",
                error_code=err.code.value,
                error_message=err.message,
                error_details=err.details or None,
                reached_server=True,
                **base,
            )
        if inv.on_event:
            await inv.on_event("tool.completed", {"call_id": inv.call_id, "ok": outcome.ok})
        return outcome


ADD_MEMORY_SCHEMA = {
    "type": "object",
    "properties": {
        "text": {"type": "string"},
        "messages": {"type": "array", "items": {"type": "object"}},
        "infer": {"type": "boolean"},
    },
    "additionalProperties": False,
}


def record_memory_writes(layer: Any) -> list[dict]:
    """Give ``layer`` the memory server's ``add_memory``; returns the list its calls' arguments go to."""
    layer.tools.append(make_tool("memory_add_memory", "memory", "add_memory", ADD_MEMORY_SCHEMA, risk="write"))
    stored: list[dict] = []
    layer.handlers["memory_add_memory"] = lambda a: stored.append(a) or {"results": []}
    return stored
