"""The kit: identity from the connection, strict validation, stable error codes, hooks."""

from __future__ import annotations

import json
from typing import Annotated

import pytest
from fastmcp import Client
from pydantic import BaseModel, Field

from core.errors import not_found
from servers.kit import ServerLaunch, build_server, request_context
from servers.kit.hooks import ToolCall, ToolOutcome


class Echo(BaseModel):
    org_id: str
    customer_ref: str | None
    text: str


class RecordingHook:
    def __init__(self, fail_before: bool = False) -> None:
        self.calls: list[tuple[ToolCall, ToolOutcome]] = []
        self.fail_before = fail_before

    async def before_call(self, call: ToolCall) -> None:
        if self.fail_before:
            raise OSError("disk full")

    async def after_call(self, call: ToolCall, outcome: ToolOutcome) -> None:
        self.calls.append((call, outcome))


def make_server(launch: ServerLaunch, hooks: list | None = None):
    server = build_server("test", "1.0.0", instructions="test", launch=launch, hooks=hooks or [])

    @server.tool
    async def echo(text: Annotated[str, Field(min_length=1, max_length=20)]) -> Echo:
        """Echo the text with the caller's identity."""
        ctx = request_context()
        return Echo(org_id=ctx.org_id, customer_ref=ctx.customer_ref, text=text)

    @server.tool
    async def missing() -> Echo:
        """Always not found."""
        raise not_found("no such thing")

    @server.tool
    async def broken() -> Echo:
        """Raises an internal error with a secret in it."""
        raise RuntimeError("password=hunter2")

    return server


async def call(server, name, args, meta=None):
    async with Client(server) as client:
        return await client.call_tool_mcp(name, args, meta=meta)


def error_body(result) -> dict:
    assert result.is_error
    return json.loads(result.content[0].text)


async def test_launch_identity_is_used_and_meta_ignored_when_untrusted():
    server = make_server(ServerLaunch(org_id="acme", customer_ref="C1"))
    result = await call(
        server, "echo", {"text": "hi"}, meta={"switchboard/org_id": "evil", "switchboard/customer_ref": "C2"}
    )
    assert not result.is_error
    assert result.structured_content == {"org_id": "acme", "customer_ref": "C1", "text": "hi"}


async def test_trusted_meta_supplies_identity():
    server = make_server(ServerLaunch(trust_meta=True))
    result = await call(
        server, "echo", {"text": "hi"}, meta={"switchboard/org_id": "beta", "switchboard/customer_ref": "K9"}
    )
    assert result.structured_content["org_id"] == "beta"
    assert result.structured_content["customer_ref"] == "K9"


async def test_trusted_meta_cannot_switch_a_fixed_tenant():
    server = make_server(ServerLaunch(org_id="acme", trust_meta=True))
    result = await call(server, "echo", {"text": "hi"}, meta={"switchboard/org_id": "other"})
    assert error_body(result)["code"] == "FORBIDDEN"


async def test_no_tenant_is_forbidden():
    server = make_server(ServerLaunch())
    assert error_body(await call(server, "echo", {"text": "hi"}))["code"] == "FORBIDDEN"


@pytest.mark.parametrize(
    "args",
    [{"text": 5}, {"text": ""}, {"text": "x" * 21}, {}, {"text": "ok", "org_id": "evil"}, {"text": None}],
)
async def test_strict_validation_gives_invalid_argument(args):
    server = make_server(ServerLaunch(org_id="acme"))
    body = error_body(await call(server, "echo", args))
    assert body["code"] == "INVALID_ARGUMENT"
    assert body["message"]


async def test_error_codes_and_no_leaks():
    server = make_server(ServerLaunch(org_id="acme"))
    assert error_body(await call(server, "missing", {}))["code"] == "NOT_FOUND"
    body = error_body(await call(server, "broken", {}))
    assert body["code"] == "INTERNAL"
    assert "hunter2" not in body["message"]
    assert error_body(await call(server, "nope", {}))["code"] == "NOT_FOUND"


async def test_hooks_see_every_call_and_fail_closed():
    hook = RecordingHook()
    server = make_server(ServerLaunch(org_id="acme"), hooks=[hook])
    await call(server, "echo", {"text": "hi"})
    await call(server, "echo", {"text": 1})
    assert [o.is_error for _, o in hook.calls] == [False, True]
    assert hook.calls[0][0].context.org_id == "acme"
    assert hook.calls[1][1].error_code == "INVALID_ARGUMENT"

    closed = make_server(ServerLaunch(org_id="acme"), hooks=[RecordingHook(fail_before=True)])
    assert error_body(await call(closed, "echo", {"text": "hi"}))["code"] == "INTERNAL"


async def test_server_identity_and_schemas():
    server = make_server(ServerLaunch(org_id="acme"))
    async with Client(server) as client:
        assert client.server_info.name == "switchboard-test"
        assert client.server_info.version == "1.0.0"
        tools = {t.name: t for t in await client.list_tools()}
    assert tools["echo"].input_schema["additionalProperties"] is False
    assert tools["echo"].output_schema["type"] == "object"


def test_version_must_be_semver():
    from core.errors import SwitchboardError

    with pytest.raises(SwitchboardError):
        build_server("test", "latest", instructions="x", hooks=[])


class EncodingHook(RecordingHook):
    """Stores the arguments as UTF-8 JSON, as the audit log does."""

    async def before_call(self, call: ToolCall) -> None:
        json.dumps([call.tool_name, call.arguments], ensure_ascii=False).encode("utf-8")
        self.calls.append((call, ToolOutcome(is_error=False)))


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ({"text": "\ud800"}, "'text'"),
        ({"text": ["a", "b\udc00"]}, "'text[1]'"),
        ({"text": {"k": "\udfff"}}, "'text.k'"),
    ],
)
async def test_a_lone_surrogate_is_invalid_argument_before_any_hook(args, where):
    """JSON allows an escaped lone surrogate ("\\ud800"); it is no character and cannot be stored
    as UTF-8. Over HTTP it was UNAVAILABLE 'the audit log could not record this call
    (UnicodeEncodeError)': the caller's bad input reported as the server's failure. Now
    INVALID_ARGUMENT naming the argument, and no hook (the audit log) sees the call."""
    hook = EncodingHook()
    server = make_server(ServerLaunch(org_id="acme"), hooks=[hook])
    body = error_body(await call(server, "echo", args))
    assert body["code"] == "INVALID_ARGUMENT", body
    assert where in body["message"] and "UTF-8" in body["message"], body
    assert hook.calls == []


@pytest.mark.parametrize(
    ("value", "quoted"), [(8841, '"8841"'), (12.5, '"12.5"'), (True, None), ([1], None), (float("nan"), None)]
)
async def test_a_number_where_a_string_is_expected_says_to_quote_it(value, quoted):
    """MCP Inspector's CLI sends `--tool-arg order_id=8841` as the number 8841; the answer was
    'order_id: Input should be a valid string', which does not say what to change."""
    server = make_server(ServerLaunch(org_id="acme"))
    body = error_body(await call(server, "echo", {"text": value}))
    assert body["code"] == "INVALID_ARGUMENT"
    assert body["message"].startswith("text: "), body
    if quoted:
        assert f"send it as a JSON string: {quoted}" in body["message"], body
    else:
        assert "JSON string:" not in body["message"], body
