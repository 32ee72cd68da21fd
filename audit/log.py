"""Appending to the audit log: validate and redact in the caller's task, then group-commit."""

from __future__ import annotations

from collections.abc import Sequence

from audit.appender import close_appenders, flush_appenders, get_appender
from audit.deferred import DeferredEvent, defer_event
from audit.prepare import PreparedEvent, prepare_event, stored_customer_ref, validate_event
from audit.record import AuditEvent, AuditRecord
from audit.sealing import seal_row
from audit.subjects import SubjectKey, subject_key


def _prepare(event: AuditEvent) -> PreparedEvent:
    """Validate, redact, HMAC and seal ``event`` under its data subject's key (UNAVAILABLE without it)."""
    return _prepared(event, _subject(event)[0])


def _subject(event: AuditEvent) -> tuple[SubjectKey, str | None]:
    """Validate ``event`` (before its org id names a key file); its data subject's key and the
    customer reference as stored (which names that key)."""
    validate_event(event)
    customer_ref = stored_customer_ref(event)
    key = subject_key(event.org_id, customer_ref)
    assert key is not None
    return key, customer_ref


def _prepared(event: AuditEvent, key: SubjectKey) -> PreparedEvent:
    prepared = prepare_event(event, key.value_hmac_key, validated=True)
    seal_row(prepared.row, key)
    return prepared


async def append(event: AuditEvent) -> AuditRecord:
    """Append ``event`` to its org's chain; returns the stored record (``seq``, ``record_hash``).

    Returns only after the record is committed. Raises ``SwitchboardError``: INVALID_ARGUMENT for
    a malformed event (nothing written), CONFLICT for a repeated ``event_id``, UNAVAILABLE when the
    log cannot be written (the caller must then not perform the audited action).
    """
    return await get_appender().append(_prepare(event))


def _defer(event: AuditEvent) -> PreparedEvent | DeferredEvent:
    """``event`` with its payloads sealed raw, redacted when chained (``audit/deferred.py``); an event
    whose payloads are not plain JSON is prepared now."""
    key, customer_ref = _subject(event)
    return defer_event(event, key, customer_ref) or _prepared(event, key)


async def append_journaled(event: AuditEvent) -> None:
    """Append ``event`` through the write-ahead journal (``audit/journal.py``): the servers' tool calls.

    Returns once the record is durable in this process's journal, its payloads sealed but not yet
    redacted (``audit/deferred.py``; on PostgreSQL once it is committed); it is redacted and
    chained right after, off the caller's path. Raises like :func:`append`; a journal that cannot
    be written raises UNAVAILABLE.
    """
    appender = get_appender()
    await appender.append_journaled(_prepare(event) if appender.journal is None else _defer(event))


async def flush() -> None:
    """Wait until every record appended on this event loop is in the log (journaled ones too)."""
    await flush_appenders()


async def append_many(events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """Append several events (one group commit when they arrive together), in order."""
    import asyncio

    prepared = [_prepare(e) for e in events]
    appender = get_appender()
    await appender.ready()  # so every event is queued in order
    records = []
    for chunk_start in range(0, len(prepared), 512):
        chunk = prepared[chunk_start : chunk_start + 512]
        records.extend(await asyncio.gather(*(appender.append(p) for p in chunk)))
    return records


async def ready(org_id: str, customer_ref: str | None = None) -> None:
    """Raise UNAVAILABLE unless an append for ``org_id`` (and its customer) can be written now.

    Loads the data subject's key (fail closed) and probes the database (fast once healthy).
    """
    subject_key(org_id, customer_ref or None)
    await get_appender().ready()


async def close() -> None:
    """Flush and close this event loop's appenders (end of a command, a test or a server)."""
    await close_appenders()
