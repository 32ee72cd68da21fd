"""Limits every host worker shares through the database: open connections and turns per minute.

A limit kept in one process's memory is multiplied by the number of workers behind the
balancer; these are kept in the database every worker already uses, so they hold for the whole
deployment (PostgreSQL across machines, SQLite on one machine).

- **Connections** (``max_connections`` in all, ``max_connections_per_org`` per tenant): each
  open WebSocket inserts a ``host_connection`` row, then counts the rows of live workers (fresh
  heartbeat). Over the limit, it deletes its own row and is refused. No lock is needed: of any
  set of connections over the limit, the last one to commit sees all the others and steps back,
  so the limit is never exceeded (under contention a few more than necessary may be refused).
  A worker killed with ``kill -9`` leaves rows behind; they stop counting once its heartbeat
  is older than ``stale_s`` and are deleted by the next worker's sweep.
- **Turns per minute per tenant** (``turns_per_minute``): a fixed one-minute window per tenant,
  bumped with one atomic ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` (PostgreSQL and SQLite
  3.35+). A turn over the limit is refused with ``RATE_LIMITED`` and when to retry; it still
  counts in the window (a client hammering a closed window does not reopen it).

A limit of 0 (the default) means none: then no row is written and no query runs.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.db import get_engine, is_sqlite
from core.errors import rate_limited
from host.clustertables import host_connection, host_rate_window, host_worker

WINDOW_S = 60
SERVICE_BUCKET = "_service"  # connections of a trusted service token (tenant named per session)


def _env_int(name: str, default: int = 0) -> int:
    raw = os.environ.get(name, "")
    try:
        return max(0, int(raw)) if raw else default
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class LimitSettings:
    """The shared limits (0 = none) and how long a silent worker still counts as alive."""

    max_connections: int = 0
    max_connections_per_org: int = 0
    turns_per_minute: int = 0
    stale_s: float = 10.0

    @classmethod
    def from_env(cls, **overrides: Any) -> LimitSettings:
        """From ``SWITCHBOARD_HOST_MAX_CONNECTIONS``, ``…_MAX_CONNECTIONS_PER_ORG``, ``…_TURNS_PER_MINUTE``
        and ``…_STALE_S``; ``overrides`` (CLI flags) win when not None."""
        values: dict[str, Any] = {
            "max_connections": _env_int("SWITCHBOARD_HOST_MAX_CONNECTIONS"),
            "max_connections_per_org": _env_int("SWITCHBOARD_HOST_MAX_CONNECTIONS_PER_ORG"),
            "turns_per_minute": _env_int("SWITCHBOARD_HOST_TURNS_PER_MINUTE"),
            "stale_s": float(_env_int("SWITCHBOARD_HOST_STALE_S", 10)) or 10.0,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def limits_connections(self) -> bool:
        return bool(self.max_connections or self.max_connections_per_org)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _live_workers(stale_s: float) -> Any:
    cutoff = utcnow() - timedelta(seconds=stale_s)
    return select(host_worker.c.worker_id).where(host_worker.c.state == "serving", host_worker.c.heartbeat_at > cutoff)


async def open_connection(worker_id: str, org_id: str, settings: LimitSettings) -> str | None:
    """Take a connection slot for ``org_id``: its lease id, None when no connection limit is set.

    Raises ``RATE_LIMITED`` when the deployment (or the tenant) already has its maximum open.
    """
    if not settings.limits_connections:
        return None
    lease = str(uuid.uuid4())
    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(
            insert(host_connection).values(id=lease, worker_id=worker_id, org_id=org_id, opened_at=utcnow())
        )
    live = host_connection.c.worker_id.in_(_live_workers(settings.stale_s))
    async with engine.connect() as conn:
        total = (await conn.execute(select(func.count()).select_from(host_connection).where(live))).scalar() or 0
        mine = (
            await conn.execute(
                select(func.count()).select_from(host_connection).where(live, host_connection.c.org_id == org_id)
            )
        ).scalar() or 0
    over = None
    if settings.max_connections and total > settings.max_connections:
        over = f"all workers together already hold {settings.max_connections} open connections"
    elif settings.max_connections_per_org and mine > settings.max_connections_per_org:
        over = f"tenant {org_id} already has {settings.max_connections_per_org} open connections"
    if over:
        await close_connection(lease)
        raise rate_limited(f"{over}: try again shortly, or close an idle session", retry_after_s=5)
    return lease


async def close_connection(lease: str | None) -> None:
    if lease is None:
        return
    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(delete(host_connection).where(host_connection.c.id == lease))


def upsert_into(engine: AsyncEngine, table: Any) -> Any:
    """The dialect's ``INSERT`` with ``on_conflict_do_update`` (PostgreSQL, SQLite 3.24+)."""
    if is_sqlite(engine):
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    return dialect_insert(table)


def bump_window(engine: AsyncEngine, key: str, window: int) -> Any:
    """One atomic UPSERT adding 1 to ``key``'s counter in ``window``; returns the new count."""
    stmt = upsert_into(engine, host_rate_window).values(key=key, window_start=window, count=1)
    return stmt.on_conflict_do_update(
        index_elements=[host_rate_window.c.key, host_rate_window.c.window_start],
        set_={"count": host_rate_window.c.count + 1},
    ).returning(host_rate_window.c.count)


async def admit_turn(org_id: str, settings: LimitSettings, *, clock: Any = time.time) -> int | None:
    """Count one turn of ``org_id`` in this minute; ``RATE_LIMITED`` over ``turns_per_minute``.

    Returns the turn's number in the current window (None when no turn limit is set).
    """
    if not settings.turns_per_minute:
        return None
    current = clock()
    window = int(current // WINDOW_S) * WINDOW_S
    engine = await get_engine()
    async with engine.begin() as conn:
        count = int((await conn.execute(bump_window(engine, f"turns:{org_id}", window))).scalar_one())
    if count > settings.turns_per_minute:
        retry = max(1, int(window + WINDOW_S - current + 0.999))
        raise rate_limited(
            f"tenant {org_id} has used its {settings.turns_per_minute} turns this minute: "
            f"send this message again in {retry} s",
            retry_after_s=retry,
        )
    return count


async def sweep(settings: LimitSettings) -> None:
    """Delete what no longer counts: connections of dead workers, turn windows older than two
    minutes, caller-check windows (host/callerlimit.py) older than two days."""
    from host.callerlimit import PREFIX
    from host.callerlimit import WINDOW_S as DAY_S

    engine = await get_engine()
    now = time.time()
    oldest = int(now // WINDOW_S) * WINDOW_S - WINDOW_S
    oldest_day = int(now // DAY_S) * DAY_S - DAY_S
    caller_checks = host_rate_window.c.key.startswith(PREFIX, autoescape=True)
    async with engine.begin() as conn:
        await conn.execute(delete(host_rate_window).where(host_rate_window.c.window_start < oldest, ~caller_checks))
        await conn.execute(delete(host_rate_window).where(host_rate_window.c.window_start < oldest_day, caller_checks))
        await conn.execute(
            delete(host_connection).where(host_connection.c.worker_id.not_in(_live_workers(settings.stale_s)))
        )
