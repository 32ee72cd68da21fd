"""The console's tables (migration ``host/migrations/host_0002_console.py``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, Integer, String, Table, Text

from core.db import metadata

operators = Table(
    "operators",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("username", String(128), nullable=False, unique=True),
    Column("display_name", String(200)),
    Column("password_hash", Text, nullable=False),
    Column("is_disabled", Boolean, nullable=False, default=False),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("last_login_at", DateTime(timezone=True)),
    Index("ix_operators_org", "org_id"),
)

review_notes = Table(
    "review_notes",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("review_id", String(36), ForeignKey("review_queue.id", ondelete="CASCADE"), nullable=False),
    Column("org_id", String(128), nullable=False),
    Column("author", String(160), nullable=False),
    Column("note", Text, nullable=False),  # masked
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_review_notes_review", "review_id", "created_at"),
)

session_takeovers = Table(
    "session_takeovers",
    metadata,
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("operator_id", String(36), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
)
