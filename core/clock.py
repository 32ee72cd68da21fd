"""Times as people read them: Korea time with its offset, the way the order server shows them.

Switchboard stores every moment in UTC. The order server answers in Korea time
(``2026-01-22T13:03:31+09:00``), so the human-facing tables of the CLIs (registry, review,
memory) show moments the same way, offset included: ``2026-01-22 13:03 +09:00``. ``--json`` output
keeps ISO 8601 as stored, for scripts. The audit log keeps its explicit UTC column (its records
are hashed in UTC).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

KST = timezone(timedelta(hours=9), "KST")


def shown(value: datetime | str | None, *, seconds: bool = False) -> str:
    """``value`` in Korea time with its offset; a naive value is taken as UTC (how it is stored)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    local = value.astimezone(KST)
    return local.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M") + " +09:00"


def korea_date(value: datetime | str | None) -> str:
    """The Korea-time calendar day of a moment (``2026-01-21T16:00:00Z`` → ``2026-01-22``).

    A plain date, or text that is not a time, is returned as it is (its first 10 characters).
    """
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        if len(value) <= 10:
            return value
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value[:10]
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(KST).date().isoformat()


def iso_utc(value: datetime) -> str:
    """ISO 8601 with its offset for machines (REST, CSV): a naive value is UTC (how SQLite hands
    stored moments back) and gets ``+00:00``; an aware one is written as it is."""
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()
