"""What host workers share through the database: who is alive, open connections, rate windows.

``host_worker``      one row per ``switchboard host`` process; its heartbeat says it is alive.
``host_connection``  one row per open WebSocket (only when a connection limit is set); a row
                     counts while its worker's heartbeat is fresh, so a worker killed with
                     ``kill -9`` stops holding connections once its heartbeat goes stale.
``host_rate_window`` a fixed-window counter per (key, window start), bumped with one atomic
                     UPSERT: per-tenant turn limits hold across every worker.
``host_session_owner`` the worker driving each session now (one driver at a time: host/ownership.py).

The migration is ``host/migrations/host_0002_worker_limits.py``.
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, String, Table

from core.db import metadata

host_worker = Table(
    "host_worker",
    metadata,
    Column("worker_id", String(64), primary_key=True),
    Column("hostname", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("address", String(255)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("heartbeat_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),  # serving | stopped
)

host_connection = Table(
    "host_connection",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("worker_id", String(64), nullable=False),
    Column("org_id", String(128), nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Index("ix_host_connection_org", "org_id"),
    Index("ix_host_connection_worker", "worker_id"),
)

host_rate_window = Table(
    "host_rate_window",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("window_start", Integer, primary_key=True),  # unix seconds, a multiple of the window
    Column("count", Integer, nullable=False),
)

host_session_owner = Table(
    "host_session_owner",
    metadata,
    Column("session_id", String(36), primary_key=True),
    Column("worker_id", String(64), nullable=False),
    Column("connection_id", String(36), nullable=False),
    Column("claimed_at", DateTime(timezone=True), nullable=False),
)
