"""Database spans: one ``CLIENT`` span per SQL statement, a child of whatever span is current.

Installed once, on SQLAlchemy's ``Engine`` class, when tracing starts (so every engine, sync or
async, is covered without touching core/db.py). Attributes: ``db.system.name``,
``db.operation.name`` (the statement's first keyword) and ``db.collection.name`` when it is
plain; never the statement's text or its parameters (they may hold personal data).
A statement outside any open span makes no span: background writers (the audit appender's group
commit, the host's record writer) run in tasks of their own, so their SQL is not in a call's trace;
the call's wait for them is (the ``audit ...`` spans of servers/kit/telemetry.py).
"""

from __future__ import annotations

import re
from typing import Any

from core import telemetry

_installed = False
_SPAN_KEY = "_switchboard_span"
_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|TABLE)\s+\"?([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_SYSTEMS = {"postgresql": "postgresql", "sqlite": "sqlite"}


def install() -> None:
    global _installed
    if _installed:
        return
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    event.listen(Engine, "before_cursor_execute", _before)
    event.listen(Engine, "after_cursor_execute", _after)
    event.listen(Engine, "handle_error", _error)
    _installed = True


def _before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    tracer = telemetry.tracer()
    if tracer is None or context is None:
        return
    from opentelemetry import trace

    if not trace.get_current_span().is_recording():  # no span, or a long-lived task's ended one
        return
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    attrs = {"db.system.name": _SYSTEMS.get(conn.dialect.name, conn.dialect.name), "db.operation.name": operation}
    table = _TABLE.search(statement[:400])
    if table:
        attrs["db.collection.name"] = table.group(1)
    name = f"{operation} {attrs['db.collection.name']}" if table else operation
    span = tracer.start_span(name, kind=trace.SpanKind.CLIENT, attributes=attrs)
    setattr(context, _SPAN_KEY, span)


def _after(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
    span = getattr(context, _SPAN_KEY, None) if context is not None else None
    if span is not None:
        span.end()
        setattr(context, _SPAN_KEY, None)


def _error(exception_context: Any) -> None:
    context = exception_context.execution_context
    span = getattr(context, _SPAN_KEY, None) if context is not None else None
    if span is not None:
        from opentelemetry.trace import Status, StatusCode

        span.set_attribute("error.type", type(exception_context.original_exception).__name__)
        span.set_status(Status(StatusCode.ERROR))
        span.end()
        setattr(context, _SPAN_KEY, None)
