"""Turn anything a tool raises into a tool error result with a stable ``{code, message}``.

Internals never leak: an unexpected exception becomes INTERNAL with a trace id to quote.
"""

from __future__ import annotations

import json
import logging
import traceback
from typing import Any

from core.errors import ErrorCode, SwitchboardError

log = logging.getLogger("switchboard.server")


def _pydantic_summary(exc: BaseException) -> str | None:
    cause = exc.__cause__
    errors = getattr(cause, "errors", None)
    if not callable(errors):
        return None
    parts = []
    for err in errors()[:5]:
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("call",)) or "arguments"
        said = f"{where}: {err.get('msg', 'invalid value')}"
        given = err.get("input")
        if err.get("type") == "string_type" and _finite_number(given):
            said += f", not the number {given!r}: send it as a JSON string: {json.dumps(str(given))}"
        parts.append(said)
    return "; ".join(parts) or None


def classify(exc: BaseException, *, trace_id: str | None = None) -> SwitchboardError:
    """The caller-safe error for ``exc``."""
    from fastmcp.exceptions import NotFoundError, ToolError, ValidationError

    if isinstance(exc, SwitchboardError):
        return exc
    if isinstance(exc, ToolError) and not isinstance(exc, ValidationError) and exc.__cause__ is not None:
        return classify(exc.__cause__, trace_id=trace_id)  # fastmcp wraps what the tool raised
    if isinstance(exc, ValidationError):
        return SwitchboardError(ErrorCode.INVALID_ARGUMENT, _pydantic_summary(exc) or "invalid arguments")
    if isinstance(exc, NotFoundError):
        return SwitchboardError(ErrorCode.NOT_FOUND, "unknown tool: see tools/list")
    if isinstance(exc, ToolError):
        return SwitchboardError(ErrorCode.INVALID_ARGUMENT, str(exc)[:500] or "tool error")
    if _caused_by_bad_unicode(exc):
        return SwitchboardError(ErrorCode.INVALID_ARGUMENT, "arguments contain invalid Unicode (lone surrogates)")
    # Exception messages may carry personal data: log the type and the frames, never the text.
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("internal error (trace %s): %s\n%s", trace_id, type(exc).__name__, frames)
    suffix = f" (trace {trace_id})" if trace_id else ""
    return SwitchboardError(ErrorCode.INTERNAL, f"internal error{suffix}")


def error_result(error: SwitchboardError) -> Any:
    """A fastmcp ToolResult with ``isError`` set and ``{code, message}`` as its JSON text.

    No structuredContent: TypeScript-SDK clients (the Inspector, Claude Desktop) validate it
    against the tool's output schema even on error results.
    """
    from fastmcp.tools.base import ToolResult

    body = {"code": error.code.value, "message": error.message}
    if isinstance(error.details.get("reason"), str):  # a stable sub-code, e.g. confirmation_expired
        body["reason"] = error.details["reason"]
    return ToolResult(content=json.dumps(body, ensure_ascii=False), is_error=True)


def _finite_number(value: Any) -> bool:
    """A JSON number a client meant as text (``8841``); not a bool, not NaN or Infinity."""
    import math

    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _caused_by_bad_unicode(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, UnicodeError) or "surrogates not allowed" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
