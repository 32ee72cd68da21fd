"""Anthropic Messages API with tools, streamed when the caller wants text deltas."""

from __future__ import annotations

import logging
import os
from typing import Any

from host.providers.base import (
    DeltaSink,
    Message,
    ModelReply,
    ModelRequest,
    ProviderError,
    ToolCallRequest,
    merge_consecutive,
)

DEFAULT_MODEL = "claude-sonnet-5-5"
log = logging.getLogger("switchboard.host.anthropic")


def to_wire_messages(messages: list[Message]) -> list[dict[str, Any]]:
    """Neutral messages → Messages API ``messages`` (tool results travel in user turns)."""
    out: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "user":
            out.append({"role": "user", "content": msg.text})
        elif msg.role == "assistant":
            blocks: list[dict[str, Any]] = []
            if msg.text:
                blocks.append({"type": "text", "text": msg.text})
            for call in msg.tool_calls:
                blocks.append({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments or {}})
            out.append({"role": "assistant", "content": blocks or [{"type": "text", "text": ""}]})
        else:
            out.append(
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": r.call_id,
                            "content": [{"type": "text", "text": r.content}],
                            "is_error": r.is_error,
                        }
                        for r in msg.results
                    ],
                }
            )
    return merge_consecutive(out)


def to_wire_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [{"name": t.name, "description": t.description, "input_schema": t.input_schema} for t in request.tools]


def from_wire_message(message: Any) -> ModelReply:
    """An SDK ``Message`` → :class:`ModelReply`."""
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for block in message.content or []:
        if block.type == "text":
            texts.append(block.text)
        elif block.type == "tool_use":
            args = block.input if isinstance(block.input, dict) else None
            calls.append(ToolCallRequest(id=block.id, name=block.name, arguments=args, raw_arguments=str(block.input)))
    usage = {}
    if getattr(message, "usage", None) is not None:
        usage = {"input_tokens": message.usage.input_tokens or 0, "output_tokens": message.usage.output_tokens or 0}
    return ModelReply(text="".join(texts), tool_calls=calls, stop_reason=message.stop_reason or "", usage=usage)


class AnthropicProvider:
    """Claude through the official SDK (imported lazily: it costs seconds)."""

    name = "anthropic"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        import anthropic

        self.model = model or DEFAULT_MODEL
        self._client = anthropic.AsyncAnthropic(
            api_key=api_key or os.environ.get("ANTHROPIC_API_KEY"),
            base_url=base_url or os.environ.get("ANTHROPIC_BASE_URL") or None,
            timeout=timeout_s,
            max_retries=max_retries,
        )
        self._errors = (anthropic.APIError,)

    async def complete(self, request: ModelRequest, on_delta: DeltaSink | None = None) -> ModelReply:
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "max_tokens": request.max_tokens,
            "messages": to_wire_messages(request.messages),
        }
        if request.system:
            params["system"] = request.system
        tools = to_wire_tools(request)
        if tools:
            params["tools"] = tools
        _warn_unsent_sampling(request.params)
        try:
            if on_delta is None:
                return from_wire_message(await self._client.messages.create(**params))
            async with self._client.messages.stream(**params) as stream:
                async for event in stream:
                    if event.type == "text" and event.text:
                        await on_delta(event.text)
                return from_wire_message(await stream.get_final_message())
        except self._errors as err:
            raise ProviderError(f"anthropic API error: {type(err).__name__}: {str(err)[:200]}") from err

    async def aclose(self) -> None:
        await self._client.close()


_warned: set[str] = set()


def _warn_unsent_sampling(params: dict[str, Any]) -> None:
    """Anthropic's API version 2026-10-21 (the one the SDK 2.x sends) refuses ``temperature``,
    ``top_p`` and ``top_k`` on every model, and the SDK has no such arguments: passing them made
    every turn of an agent version that set one fail with a TypeError. They are not sent; the
    operator hears it once per process."""
    for key in ("temperature", "top_p", "top_k"):
        if key in params and key not in _warned:
            _warned.add(key)
            log.warning("anthropic: the agent version's %s is not sent (the Claude API no longer accepts it)", key)
