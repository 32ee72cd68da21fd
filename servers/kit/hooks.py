"""The hook point around every tool call; the audit log plugs in here.

A hook's ``before_call`` runs after the caller's identity is resolved and before the tool runs:
raising there stops the call (fail closed). ``after_call`` sees the outcome of every call,
successful or not; raising there turns the result into an error for the caller.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from core.context import RequestContext


@dataclass(slots=True)
class ToolCall:
    """One tool call as the server saw it."""

    server_name: str
    server_version: str
    tool_name: str
    arguments: dict[str, Any]
    context: RequestContext
    client_name: str | None = None
    client_version: str | None = None
    started: float = field(default_factory=time.perf_counter)
    state: dict[str, Any] = field(default_factory=dict)  # scratch space shared by before/after

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000.0


@dataclass(slots=True)
class ToolOutcome:
    """How a tool call ended: its structured result, or an error code and message."""

    is_error: bool
    result: dict[str, Any] | None = None
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: float = 0.0


class ToolCallHook(Protocol):
    async def before_call(self, call: ToolCall) -> None: ...

    async def after_call(self, call: ToolCall, outcome: ToolOutcome) -> None: ...


def default_hooks(server_name: str) -> list[ToolCallHook]:
    """Hooks every production server runs: OAuth scopes per tool, then the audit log (one record per call,
    fail closed)."""
    from audit.middleware import AuditHook
    from servers.kit.scopes import ScopeHook

    return [ScopeHook(server_name), AuditHook(server_name)]
