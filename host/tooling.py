"""What the conversation engine knows about tools: pinned exposed tools, invocations, outcomes.

The engine talks to a :class:`ToolLayer`; in production that is :class:`host.gateway.Gateway`
(the one choke point), in engine tests an in-memory fake.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.canonical import canonical_sha256
from core.context import RequestContext

POLICIES = ("never", "confirm", "approve")
# Arguments the host fills in itself; the model never sees them in the schema.
HOST_MANAGED_ARGS = ("idempotency_key",)

EventSink = Callable[[str, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ExposedTool:
    """One pinned tool of an agent version, as the model may use it."""

    exposed_name: str
    server_name: str
    server_version: str
    tool_name: str
    definition: dict[str, Any]  # the pinned wire definition (camelCase fields)
    definition_sha256: str
    policy: str = "never"
    timeout_ms: int = 10_000
    max_calls_per_turn: int = 3
    risk_class: str = "read"
    enabled: bool = True
    disabled_reason: str | None = None

    @property
    def description(self) -> str:
        return str(self.definition.get("description") or "")

    @property
    def title(self) -> str:
        annotations = self.definition.get("annotations") or {}
        return str(self.definition.get("title") or annotations.get("title") or self.tool_name)

    @property
    def input_schema(self) -> dict[str, Any]:
        return self.definition.get("inputSchema") or {"type": "object"}

    @property
    def output_schema(self) -> dict[str, Any] | None:
        return self.definition.get("outputSchema")

    @property
    def is_read(self) -> bool:
        """Safe to retry: the reviewer classed it as read (a server's own hint is not enough)."""
        return self.risk_class == "read"

    @property
    def effective_policy(self) -> str:
        """The pinned policy, raised to ``confirm`` for anything that is not a read."""
        if self.policy == "never" and not self.is_read:
            return "confirm"
        return self.policy

    def policy_for(self, actor: str) -> str:
        """The policy that applies to a call by ``actor``: the host's own calls (memory) follow the pin."""
        return self.policy if actor == "host" else self.effective_policy

    def model_schema(self) -> dict[str, Any]:
        """The input schema shown to the model: the pinned one minus host-managed arguments."""
        schema = self.input_schema
        props = schema.get("properties") or {}
        managed = [name for name in HOST_MANAGED_ARGS if name in props]
        if not managed:
            return schema
        schema = copy.deepcopy(schema)
        for name in managed:
            schema["properties"].pop(name, None)
        if isinstance(schema.get("required"), list):
            schema["required"] = [r for r in schema["required"] if r not in managed]
        return schema


@dataclass(frozen=True, slots=True)
class ConfirmationGrant:
    """The customer confirmed exactly these arguments for this tool."""

    exposed_name: str
    arguments_sha256: str

    @classmethod
    def for_call(cls, exposed_name: str, arguments: dict[str, Any]) -> ConfirmationGrant:
        return cls(exposed_name, arguments_digest(arguments))


def arguments_digest(arguments: dict[str, Any]) -> str:
    """sha256 of the canonical arguments, host-managed ones left out."""
    return canonical_sha256({k: v for k, v in arguments.items() if k not in HOST_MANAGED_ARGS})


@dataclass(slots=True)
class TurnBudget:
    """Per-turn call counters (``max_calls_per_turn`` per tool, a cap for the whole turn)."""

    max_total: int = 12
    counts: dict[str, int] = field(default_factory=dict)

    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(slots=True)
class Invocation:
    """One tool call the engine wants made."""

    call_id: str
    exposed_name: str
    arguments: dict[str, Any]
    context: RequestContext
    turn_id: str | None = None
    budget: TurnBudget | None = None
    confirmation: ConfirmationGrant | None = None
    approval_id: str | None = None
    actor: str = "model"
    on_event: EventSink | None = None
    # When given, the ``tool_result`` audit record may be appended in the background: its
    # pending append is added here and the caller must await it (see ``settle_records``) before
    # anything built on the result is acknowledged. None: the record is written before returning.
    deferred: list[asyncio.Future[Any]] | None = None


@dataclass(slots=True)
class CallOutcome:
    """How a tool call ended, and what the model is told."""

    call_id: str
    exposed_name: str
    ok: bool
    content: str
    data: Any = None
    error_code: str | None = None
    error_message: str | None = None
    error_details: dict[str, Any] | None = None  # the server's sub-code: {"reason": "window_passed"}
    latency_ms: float = 0.0
    server_name: str = ""
    server_version: str = ""
    tool_name: str = ""
    definition_sha256: str = ""
    reached_server: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "exposed_name": self.exposed_name,
            "server_name": self.server_name,
            "server_version": self.server_version,
            "tool_name": self.tool_name,
            "definition_sha256": self.definition_sha256,
            "ok": self.ok,
            "error_code": self.error_code,
            "latency_ms": round(self.latency_ms, 2),
        }


async def settle_records(deferred: list[asyncio.Future[Any]]) -> list[BaseException]:
    """Wait for every deferred audit append in ``deferred`` (emptied); the failures."""
    if not deferred:
        return []
    pending = list(deferred)
    deferred.clear()
    results = await asyncio.gather(*pending, return_exceptions=True)
    return [r for r in results if isinstance(r, BaseException)]


class ToolLayer(Protocol):
    """The tools of one agent version and the way to call them."""

    def exposed_tools(self) -> list[ExposedTool]: ...

    def validate(self, exposed_name: str, arguments: dict[str, Any]) -> list[str]: ...

    async def call(self, invocation: Invocation) -> CallOutcome: ...
