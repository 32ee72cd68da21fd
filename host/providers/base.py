"""Provider-neutral conversation types: what the engine sends a model and what it gets back.

Every provider (Anthropic, OpenAI, the offline planner) takes a :class:`ModelRequest` and returns
a :class:`ModelReply`; the wire formats live in the provider modules.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from core.errors import ErrorCode, SwitchboardError

DeltaSink = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool as the model sees it: the pinned definition under its exposed name."""

    name: str
    description: str
    input_schema: dict[str, Any]
    tool_name: str = ""  # the upstream tool name on its server (the offline planner matches on it)
    server_name: str = ""
    host_builtin: bool = False  # a host action (escalation), not an MCP tool


@dataclass(slots=True)
class ToolCallRequest:
    """One tool call the model asked for. ``arguments`` is None when its JSON did not parse."""

    id: str
    name: str
    arguments: dict[str, Any] | None
    raw_arguments: str = ""

    def arguments_json(self) -> str:
        if self.arguments is None:
            return self.raw_arguments or "{}"
        return json.dumps(self.arguments, ensure_ascii=False)


@dataclass(slots=True)
class ToolResult:
    """What a tool call returned, as text for the model (JSON when structured)."""

    call_id: str
    name: str
    content: str
    is_error: bool = False
    data: Any = None  # the structured result, for the engine and the offline planner


@dataclass(slots=True)
class Message:
    """One message of the conversation: a user utterance, an assistant turn, or tool results."""

    role: Literal["user", "assistant", "tool"]
    text: str = ""
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    results: list[ToolResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "text": self.text,
            "tool_calls": [
                {"id": c.id, "name": c.name, "arguments": c.arguments, "raw_arguments": c.raw_arguments}
                for c in self.tool_calls
            ],
            "results": [
                {"call_id": r.call_id, "name": r.name, "content": r.content, "is_error": r.is_error, "data": r.data}
                for r in self.results
            ],
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Message:
        return cls(
            role=raw["role"],
            text=raw.get("text", ""),
            tool_calls=[ToolCallRequest(**c) for c in raw.get("tool_calls", [])],
            results=[ToolResult(**r) for r in raw.get("results", [])],
        )


@dataclass(slots=True)
class ModelRequest:
    """Everything a provider needs for one step."""

    system: str
    messages: list[Message]
    tools: list[ToolSpec]
    model: str = ""
    max_tokens: int = 1024
    params: dict[str, Any] = field(default_factory=dict)
    context: dict[str, Any] = field(default_factory=dict)  # memories, language: hints for the planner


@dataclass(slots=True)
class ModelReply:
    """One model step: text, tool calls, or both."""

    text: str
    tool_calls: list[ToolCallRequest] = field(default_factory=list)
    stop_reason: str = ""
    citations: list[dict[str, Any]] | None = None  # the planner says which KB hits it used
    usage: dict[str, int] = field(default_factory=dict)
    state: dict[str, Any] | None = None  # the offline planner's memory between turns


class Provider(Protocol):
    """A model backend."""

    name: str

    async def complete(self, request: ModelRequest, on_delta: DeltaSink | None = None) -> ModelReply: ...

    async def aclose(self) -> None: ...


class ProviderError(SwitchboardError):
    """The model API failed (unreachable, refused, malformed reply)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.UNAVAILABLE, message)


def parse_arguments(raw: str | dict[str, Any] | None) -> dict[str, Any] | None:
    """Tool-call arguments as a dict; None when they are not a JSON object."""
    if isinstance(raw, dict):
        return raw
    if raw is None or raw == "":
        return {}
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def merge_consecutive(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Merge neighbouring messages of the same role (Anthropic wants them alternating)."""
    merged: list[dict[str, Any]] = []
    for item in items:
        if merged and merged[-1]["role"] == item["role"]:
            prev = merged[-1]
            prev["content"] = _as_blocks(prev["content"]) + _as_blocks(item["content"])
        else:
            merged.append(dict(item))
    return merged


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    return list(content)
