"""Appending to the audit log: validate and redact in the caller's task, then group-commit."""

from __future__ import annotations

from collections.abc import Sequence

from audit.appender import close_appenders, get_appender
from audit.keys import hmac_key
from audit.prepare import prepare_event, validate_event
from audit.record import AuditEvent, AuditRecord


async def append(event: AuditEvent) -> AuditRecord:
    """Append ``event`` to its org's chain; returns the stored record (``seq``, ``record_hash``).

    Returns only after the record is committed. Raises ``SwitchboardError``: INVALID_ARGUMENT for
    a malformed event (nothing written), CONFLICT for a repeated ``event_id``, UNAVAILABLE when the
    log cannot be written (the caller must then not perform the audited action).
    """
    validate_event(event)  # before the org id names a key file
    prepared = prepare_event(event, hmac_key(event.org_id) or b"", validated=True)
    return await get_appender().append(prepared)


async def append_many(events: Sequence[AuditEvent]) -> list[AuditRecord]:
    """Append several events (one group commit when they arrive together), in order."""
    import asyncio

    for event in events:
        validate_event(event)
    prepared = [prepare_event(e, hmac_key(e.org_id) or b"", validated=True) for e in events]
    appender = get_appender()
    await appender.ready()  # so every event is queued in order
    records = []
    for chunk_start in range(0, len(prepared), 512):
        chunk = prepared[chunk_start : chunk_start + 512]
        records.extend(await asyncio.gather(*(appender.append(p) for p in chunk)))
    return records


async def ready(org_id: str) -> None:
    """Raise UNAVAILABLE unless an append for ``org_id`` can be written now (fast once healthy)."""
    hmac_key(org_id)
    await get_appender().ready()


async def close() -> None:
    """Flush and close this event loop's appenders (end of a command, a test or a server)."""
    await close_appenders()
