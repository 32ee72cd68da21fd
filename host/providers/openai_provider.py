"""OpenAI: the Responses API with function tools (default) or Chat Completions, streamed on demand."""

from __future__ import annotations

import os
from typing import Any, Literal

from host.providers.base import (
    DeltaSink,
    Message,
    ModelReply,
    ModelRequest,
    ProviderError,
    ToolCallRequest,
    parse_arguments,
)

DEFAULT_MODEL = "gpt-5.5"
Api = Literal["responses", "chat"]


# --- Responses API -------------------------------------------------------------------------


def to_responses_input(messages: list[Message]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for msg in messages:
        if msg.role == "user":
            items.append({"role": "user", "content": msg.text})
        elif msg.role == "assistant":
            if msg.text:
                items.append({"role": "assistant", "content": msg.text})
            for call in msg.tool_calls:
                items.append(
                    {"type": "function_call", "call_id": call.id, "name": call.name, "arguments": call.arguments_json()}
                )
        else:
            for r in msg.results:
                items.append({"type": "function_call_output", "call_id": r.call_id, "output": r.content})
    return items


def to_responses_tools(request: ModelRequest) -> list[dict[str, Any]]:
    # strict mode needs every property in `required`; pinned schemas leave defaults out, so not strict.
    return [
        {
            "type": "function",
            "name": t.name,
            "description": t.description,
            "parameters": t.input_schema,
            "strict": False,
        }
        for t in request.tools
    ]


def from_response(response: Any) -> ModelReply:
    texts: list[str] = []
    calls: list[ToolCallRequest] = []
    for item in response.output or []:
        if item.type == "message":
            for part in item.content or []:
                if getattr(part, "type", "") == "output_text":
                    texts.append(part.text)
        elif item.type == "function_call":
            calls.append(
                ToolCallRequest(
                    id=item.call_id,
                    name=item.name,
                    arguments=parse_arguments(item.arguments),
                    raw_arguments=item.arguments or "",
                )
            )
    usage = {}
    if getattr(response, "usage", None) is not None:
        usage = {"input_tokens": response.usage.input_tokens or 0, "output_tokens": response.usage.output_tokens or 0}
    return ModelReply(text="".join(texts), tool_calls=calls, stop_reason=response.status or "", usage=usage)


# --- Chat Completions ----------------------------------------------------------------------


def to_chat_messages(system: str, messages: list[Message]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for msg in messages:
        if msg.role == "user":
            out.append({"role": "user", "content": msg.text})
        elif msg.role == "assistant":
            item: dict[str, Any] = {"role": "assistant", "content": msg.text or None}
            if msg.tool_calls:
                item["tool_calls"] = [
                    {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments_json()}}
                    for c in msg.tool_calls
                ]
            out.append(item)
        else:
            for r in msg.results:
                out.append({"role": "tool", "tool_call_id": r.call_id, "content": r.content})
    return out


def to_chat_tools(request: ModelRequest) -> list[dict[str, Any]]:
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}}
        for t in request.tools
    ]


def from_chat_completion(completion: Any) -> ModelReply:
    if not completion.choices:
        raise ProviderError("openai API returned no choices")
    choice = completion.choices[0]
    message = choice.message
    calls = [
        ToolCallRequest(
            id=c.id,
            name=c.function.name,
            arguments=parse_arguments(c.function.arguments),
            raw_arguments=c.function.arguments or "",
        )
        for c in (message.tool_calls or [])
        if getattr(c, "type", "function") == "function"
    ]
    usage = {}
    if getattr(completion, "usage", None) is not None:
        usage = {
            "input_tokens": completion.usage.prompt_tokens or 0,
            "output_tokens": completion.usage.completion_tokens or 0,
        }
    return ModelReply(text=message.content or "", tool_calls=calls, stop_reason=choice.finish_reason or "", usage=usage)


class OpenAIProvider:
    """GPT models through the official SDK; ``api="chat"`` selects Chat Completions."""

    name = "openai"

    def __init__(
        self,
        *,
        api: Api = "responses",
        api_key: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        timeout_s: float = 60.0,
        max_retries: int = 2,
    ) -> None:
        import openai

        if api not in ("responses", "chat"):
            raise ValueError(f"unknown OpenAI API {api!r}: use 'responses' or 'chat'")
        self.api: Api = api
        self.model = model or DEFAULT_MODEL
        self._client = openai.AsyncOpenAI(
            api_key=api_key or os.environ.get("OPENAI_API_KEY"),
            base_url=base_url or os.environ.get("OPENAI_BASE_URL") or None,
            timeout=timeout_s,
            max_retries=max_retries,
        )
        self._errors = (openai.APIError,)

    async def complete(self, request: ModelRequest, on_delta: DeltaSink | None = None) -> ModelReply:
        try:
            if self.api == "chat":
                return await self._chat(request, on_delta)
            return await self._responses(request, on_delta)
        except self._errors as err:
            raise ProviderError(f"openai API error: {type(err).__name__}: {str(err)[:200]}") from err

    async def _responses(self, request: ModelRequest, on_delta: DeltaSink | None) -> ModelReply:
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "input": to_responses_input(request.messages),
            "max_output_tokens": request.max_tokens,
        }
        if request.system:
            params["instructions"] = request.system
        tools = to_responses_tools(request)
        if tools:
            params["tools"] = tools
        for key in ("temperature", "top_p"):  # as the agent version sets them (agent draft --param)
            if key in request.params:
                params[key] = request.params[key]
        if on_delta is None:
            return from_response(await self._client.responses.create(**params))
        async with self._client.responses.stream(**params) as stream:
            async for event in stream:
                if event.type == "response.output_text.delta" and event.delta:
                    await on_delta(event.delta)
            return from_response(await stream.get_final_response())

    async def _chat(self, request: ModelRequest, on_delta: DeltaSink | None) -> ModelReply:
        params: dict[str, Any] = {
            "model": request.model or self.model,
            "messages": to_chat_messages(request.system, request.messages),
            "max_completion_tokens": request.max_tokens,
        }
        tools = to_chat_tools(request)
        if tools:
            params["tools"] = tools
        for key in ("temperature", "top_p"):  # as the agent version sets them (agent draft --param)
            if key in request.params:
                params[key] = request.params[key]
        if on_delta is None:
            return from_chat_completion(await self._client.chat.completions.create(**params))
        async with self._client.chat.completions.stream(**params) as stream:
            async for event in stream:
                if event.type == "content.delta" and event.delta:
                    await on_delta(event.delta)
            return from_chat_completion(await stream.get_final_completion())

    async def aclose(self) -> None:
        await self._client.close()
