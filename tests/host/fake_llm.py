"""A local fake of the Anthropic Messages, OpenAI Responses and Chat Completions HTTP APIs.

It speaks the real wire formats (JSON and SSE streaming) so tests drive the real SDKs against it.
What the "model" says is decided by a ``brain``: a function from the normalised conversation to a
:class:`FakeStep` (text and/or tool calls). Every request is logged (path, headers, body).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class FakeStep:
    """One model step: optional text, then tool calls ``(name, arguments)``."""

    text: str = ""
    tool_calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


@dataclass
class FakeConversation:
    """A request, normalised across the three APIs."""

    api: str  # anthropic | responses | chat
    system: str
    events: list[tuple[str, str, Any]]  # (role, kind, payload): user/text, assistant/text|tool_call, tool/result
    tools: list[dict[str, Any]]  # {"name", "description", "schema"}
    body: dict[str, Any]

    @property
    def tool_names(self) -> list[str]:
        return [t["name"] for t in self.tools]

    def tool(self, name: str) -> dict[str, Any] | None:
        return next((t for t in self.tools if t["name"] == name), None)

    @property
    def last_user_text(self) -> str:
        for role, kind, payload in reversed(self.events):
            if role == "user" and kind == "text":
                return payload
        return ""

    def results_since_user(self) -> list[dict[str, Any]]:
        """Tool results after the last user text, oldest first."""
        out: list[dict[str, Any]] = []
        for role, kind, payload in reversed(self.events):
            if role == "user" and kind == "text":
                break
            if role == "tool":
                out.append(payload)
        return list(reversed(out))


Brain = Callable[[FakeConversation], FakeStep]


def echo_brain(conv: FakeConversation) -> FakeStep:
    """Default: answer with the tool results, or repeat the user."""
    results = conv.results_since_user()
    if results:
        return FakeStep(text="Results: " + " | ".join(r["content"] for r in results))
    return FakeStep(text=f"You said: {conv.last_user_text}")


# --- request normalisation -----------------------------------------------------------------


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    parts = []
    for block in content or []:
        if isinstance(block, dict) and block.get("type") in ("text", "input_text", "output_text"):
            parts.append(block.get("text", ""))
    return "".join(parts)


def _normalise_anthropic(body: dict[str, Any]) -> FakeConversation:
    events: list[tuple[str, str, Any]] = []
    for msg in body.get("messages", []):
        content = msg.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        for block in blocks:
            kind = block.get("type")
            if kind == "text" and block.get("text"):
                events.append((msg["role"], "text", block["text"]))
            elif kind == "tool_use":
                events.append(
                    (
                        "assistant",
                        "tool_call",
                        {"id": block["id"], "name": block["name"], "arguments": block.get("input")},
                    )
                )
            elif kind == "tool_result":
                events.append(
                    (
                        "tool",
                        "result",
                        {
                            "id": block["tool_use_id"],
                            "content": _text_of(block.get("content")),
                            "is_error": bool(block.get("is_error")),
                        },
                    )
                )
    tools = [
        {"name": t["name"], "description": t.get("description", ""), "schema": t.get("input_schema")}
        for t in body.get("tools", [])
    ]
    system = body.get("system") or ""
    return FakeConversation("anthropic", system if isinstance(system, str) else _text_of(system), events, tools, body)


def _normalise_responses(body: dict[str, Any]) -> FakeConversation:
    events: list[tuple[str, str, Any]] = []
    items = body.get("input", [])
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    for item in items:
        kind = item.get("type", "message")
        if kind == "function_call":
            events.append(
                (
                    "assistant",
                    "tool_call",
                    {
                        "id": item["call_id"],
                        "name": item["name"],
                        "arguments": json.loads(item.get("arguments") or "{}"),
                    },
                )
            )
        elif kind == "function_call_output":
            events.append(
                ("tool", "result", {"id": item["call_id"], "content": item.get("output", ""), "is_error": False})
            )
        elif item.get("role") in ("user", "assistant"):
            text = _text_of(item.get("content"))
            if text:
                events.append((item["role"], "text", text))
    tools = [
        {"name": t["name"], "description": t.get("description", ""), "schema": t.get("parameters")}
        for t in body.get("tools", [])
    ]
    return FakeConversation("responses", body.get("instructions") or "", events, tools, body)


def _normalise_chat(body: dict[str, Any]) -> FakeConversation:
    events: list[tuple[str, str, Any]] = []
    system = ""
    for msg in body.get("messages", []):
        role = msg.get("role")
        if role in ("system", "developer"):
            system += _text_of(msg.get("content"))
        elif role == "tool":
            events.append(
                (
                    "tool",
                    "result",
                    {"id": msg["tool_call_id"], "content": _text_of(msg.get("content")), "is_error": False},
                )
            )
        else:
            text = _text_of(msg.get("content"))
            if text:
                events.append((role, "text", text))
            for call in msg.get("tool_calls") or []:
                fn = call["function"]
                events.append(
                    (
                        "assistant",
                        "tool_call",
                        {"id": call["id"], "name": fn["name"], "arguments": json.loads(fn.get("arguments") or "{}")},
                    )
                )
    tools = [
        {
            "name": t["function"]["name"],
            "description": t["function"].get("description", ""),
            "schema": t["function"].get("parameters"),
        }
        for t in body.get("tools", [])
    ]
    return FakeConversation("chat", system, events, tools, body)


# --- response rendering --------------------------------------------------------------------


class _Ids:
    def __init__(self) -> None:
        self._n = itertools.count(1)
        self._lock = threading.Lock()

    def next(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_{next(self._n):04d}"


def _chunks(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or []


def _anthropic_json(step: FakeStep, model: str, ids: _Ids) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if step.text:
        content.append({"type": "text", "text": step.text})
    for name, args in step.tool_calls:
        content.append({"type": "tool_use", "id": ids.next("toolu"), "name": name, "input": args})
    return {
        "id": ids.next("msg"),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": "tool_use" if step.tool_calls else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 10, "output_tokens": 5},
    }


def _anthropic_sse(step: FakeStep, model: str, ids: _Ids) -> list[tuple[str, dict[str, Any]]]:
    full = _anthropic_json(step, model, ids)
    start = {**full, "content": [], "stop_reason": None, "usage": {"input_tokens": 10, "output_tokens": 0}}
    events: list[tuple[str, dict[str, Any]]] = [("message_start", {"type": "message_start", "message": start})]
    for index, block in enumerate(full["content"]):
        if block["type"] == "text":
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
                )
            )
            for piece in _chunks(block["text"]):
                events.append(
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": index, "delta": {"type": "text_delta", "text": piece}},
                    )
                )
        else:
            events.append(
                (
                    "content_block_start",
                    {"type": "content_block_start", "index": index, "content_block": {**block, "input": {}}},
                )
            )
            for piece in _chunks(json.dumps(block["input"], ensure_ascii=False), 7):
                events.append(
                    (
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": index,
                            "delta": {"type": "input_json_delta", "partial_json": piece},
                        },
                    )
                )
        events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": full["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": 5},
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _responses_json(step: FakeStep, model: str, ids: _Ids) -> dict[str, Any]:
    output: list[dict[str, Any]] = []
    if step.text:
        output.append(
            {
                "type": "message",
                "id": ids.next("msg"),
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": step.text, "annotations": []}],
            }
        )
    for name, args in step.tool_calls:
        output.append(
            {
                "type": "function_call",
                "id": ids.next("fc"),
                "call_id": ids.next("call"),
                "name": name,
                "arguments": json.dumps(args, ensure_ascii=False),
                "status": "completed",
            }
        )
    return {
        "id": ids.next("resp"),
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 10,
            "output_tokens": 5,
            "total_tokens": 15,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }


def _responses_sse(step: FakeStep, model: str, ids: _Ids) -> list[tuple[str, dict[str, Any]]]:
    full = _responses_json(step, model, ids)
    seq = itertools.count()
    events: list[tuple[str, dict[str, Any]]] = []

    def add(kind: str, **data: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": next(seq), **data}))

    add("response.created", response={**full, "status": "in_progress", "output": []})
    for index, item in enumerate(full["output"]):
        if item["type"] == "message":
            add("response.output_item.added", output_index=index, item={**item, "status": "in_progress", "content": []})
            part = {"type": "output_text", "text": "", "annotations": []}
            add("response.content_part.added", output_index=index, item_id=item["id"], content_index=0, part=part)
            text = item["content"][0]["text"]
            for piece in _chunks(text):
                add(
                    "response.output_text.delta",
                    output_index=index,
                    item_id=item["id"],
                    content_index=0,
                    delta=piece,
                    logprobs=[],
                )
            add(
                "response.output_text.done",
                output_index=index,
                item_id=item["id"],
                content_index=0,
                text=text,
                logprobs=[],
            )
            add(
                "response.content_part.done",
                output_index=index,
                item_id=item["id"],
                content_index=0,
                part=item["content"][0],
            )
        else:
            add(
                "response.output_item.added",
                output_index=index,
                item={**item, "arguments": "", "status": "in_progress"},
            )
            for piece in _chunks(item["arguments"], 7):
                add("response.function_call_arguments.delta", output_index=index, item_id=item["id"], delta=piece)
            add(
                "response.function_call_arguments.done",
                output_index=index,
                item_id=item["id"],
                arguments=item["arguments"],
            )
        add("response.output_item.done", output_index=index, item=item)
    add("response.completed", response=full)
    return events


def _chat_json(step: FakeStep, model: str, ids: _Ids) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": step.text or None}
    if step.tool_calls:
        message["tool_calls"] = [
            {
                "id": ids.next("call"),
                "type": "function",
                "function": {"name": n, "arguments": json.dumps(a, ensure_ascii=False)},
            }
            for n, a in step.tool_calls
        ]
    return {
        "id": ids.next("chatcmpl"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if step.tool_calls else "stop"}],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def _chat_sse(step: FakeStep, model: str, ids: _Ids) -> list[tuple[str | None, Any]]:
    full = _chat_json(step, model, ids)
    base = {"id": full["id"], "object": "chat.completion.chunk", "created": full["created"], "model": model}

    def chunk(delta: dict[str, Any], finish: str | None = None) -> tuple[None, dict[str, Any]]:
        return (None, {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})

    events: list[tuple[str | None, Any]] = [chunk({"role": "assistant", "content": ""})]
    for piece in _chunks(step.text):
        events.append(chunk({"content": piece}))
    for index, call in enumerate(full["choices"][0]["message"].get("tool_calls", [])):
        head = {
            "index": index,
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": ""},
        }
        events.append(chunk({"tool_calls": [head]}))
        for piece in _chunks(call["function"]["arguments"], 7):
            events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    events.append(chunk({}, full["choices"][0]["finish_reason"]))
    events.append((None, "[DONE]"))
    return events


# --- the server ----------------------------------------------------------------------------


class FakeLLM:
    """Run with ``with FakeLLM(brain) as llm:``; ``llm.anthropic_url`` / ``llm.openai_url``."""

    def __init__(self, brain: Brain = echo_brain, *, delay_s: float = 0.0) -> None:
        self.brain = brain
        self.delay_s = delay_s
        self.fail_status: int | None = None  # answer every request with this HTTP status
        self.requests: list[dict[str, Any]] = []
        self._ids = _Ids()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def anthropic_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def __enter__(self) -> FakeLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def bodies(self, path_suffix: str = "") -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].endswith(path_suffix)]

    def respond(self, path: str, body: dict[str, Any]) -> tuple[bool, list[tuple[str | None, Any]] | dict[str, Any]]:
        """(streaming, SSE events or a JSON body) for one request."""
        model = body.get("model", "fake-model")
        if path.endswith("/messages"):
            conv, render_json, render_sse = _normalise_anthropic(body), _anthropic_json, _anthropic_sse
        elif path.endswith("/responses"):
            conv, render_json, render_sse = _normalise_responses(body), _responses_json, _responses_sse
        elif path.endswith("/chat/completions"):
            conv, render_json, render_sse = _normalise_chat(body), _chat_json, _chat_sse
        else:
            raise KeyError(path)
        step = self.brain(conv)
        if body.get("stream"):
            return True, render_sse(step, model, self._ids)
        return False, render_json(step, model, self._ids)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._send_json(400, {"error": {"type": "invalid_request_error", "message": "bad json"}})
                    return
                with fake._lock:
                    fake.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                if fake.delay_s:
                    time.sleep(fake.delay_s)
                if fake.fail_status:
                    self._send_json(
                        fake.fail_status,
                        {"type": "error", "error": {"type": "api_error", "message": "injected failure"}},
                    )
                    return
                try:
                    streaming, payload = fake.respond(self.path, body)
                except KeyError:
                    self._send_json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                except Exception as exc:
                    self._send_json(500, {"type": "error", "error": {"type": "api_error", "message": repr(exc)}})
                    return
                if streaming:
                    self._send_sse(payload)  # type: ignore[arg-type]
                else:
                    self._send_json(200, payload)  # type: ignore[arg-type]

            def _send_json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.send_header("request-id", "req_fake")
                self.end_headers()
                self.wfile.write(data)

            def _send_sse(self, events: list[tuple[str | None, Any]]) -> None:
                chunks = []
                for name, data in events:
                    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
                    prefix = f"event: {name}\n" if name else ""
                    chunks.append(f"{prefix}data: {text}\n\n")
                payload = "".join(chunks).encode()
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        return Handler
