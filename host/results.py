"""Tool results the model is shown: a call's outcome, the host's own answer, or an error."""

from __future__ import annotations

import json
import uuid
from typing import Any

from host.providers.base import ToolCallRequest, ToolResult
from host.tooling import CallOutcome


def host_call_id() -> str:
    """The id of a call the host makes up (a confirmed or approved call run on a later turn)."""
    return f"host_{uuid.uuid4().hex[:12]}"


def host_result(call: ToolCallRequest, data: dict[str, Any]) -> ToolResult:
    return ToolResult(call.id, call.name, json.dumps(data, ensure_ascii=False), is_error=False, data=data)


def error_result(call: ToolCallRequest, code: str, message: str, details: dict[str, Any] | None = None) -> ToolResult:
    data: dict[str, Any] = {"code": code, "message": message}
    if details:
        data["details"] = details
    return ToolResult(call.id, call.name, json.dumps(data, ensure_ascii=False), is_error=True, data=data)


def outcome_result(call: ToolCallRequest, outcome: CallOutcome) -> ToolResult:
    if outcome.ok:
        return ToolResult(call.id, call.name, outcome.content, is_error=False, data=outcome.data)
    return error_result(
        call, outcome.error_code or "INTERNAL", outcome.error_message or "tool error", outcome.error_details
    )
