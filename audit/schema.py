"""The audit tables (SQLAlchemy Core). Created by ``audit/migrations``; never updated in place.

- ``audit_event``: one row per event, chained per org (``seq``, ``prev_hash``, ``record_hash``);
- ``audit_chain_head``: each org's last ``seq`` and ``record_hash`` (the row appends lock);
- ``audit_value_hmac``: keyed HMACs of the personal values an event carried (exact-match search);
- ``audit_prune``: the signed checkpoint written before each prune (the only way rows leave).

Triggers (see the migration) make the database refuse UPDATE and DELETE on these rows.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, SmallInteger, String, Table, Text

from core.db import metadata

audit_event = Table(
    "audit_event",
    metadata,
    Column("org_id", String(128), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("record_version", SmallInteger, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("record_hash", String(64), nullable=False),
    Column("occurred_at", String(32), nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("actor", String(200)),
    Column("source", String(100), nullable=False),
    Column("customer_ref", String(200)),
    Column("session_id", String(200)),
    Column("turn_id", String(200)),
    Column("trace_id", String(200)),
    Column("agent_version_id", String(200)),
    Column("manifest_sha256", String(64)),
    Column("server_name", String(200)),
    Column("server_version", String(200)),
    Column("client_name", String(200)),
    Column("client_version", String(200)),
    Column("tool_name", String(200)),
    Column("exposed_name", String(200)),
    Column("definition_sha256_pinned", String(64)),
    Column("definition_sha256_observed", String(64)),
    Column("args_redacted", Text),
    Column("args_hmac", Text),
    Column("args_size", Integer),
    Column("result_redacted", Text),
    Column("result_hmac", Text),
    Column("result_size", Integer),
    Column("details_redacted", Text),
    Column("details_hmac", Text),
    Column("is_error", Boolean),
    Column("error_code", String(64)),
    Column("error_message", Text),
    Column("latency_ms", Float),
    Index("ix_audit_event_org_occurred", "org_id", "occurred_at"),
    Index("ix_audit_event_trace", "trace_id"),
)

audit_chain_head = Table(
    "audit_chain_head",
    metadata,
    Column("org_id", String(128), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("head_hash", String(64), nullable=False),
)

audit_value_hmac = Table(
    "audit_value_hmac",
    metadata,
    Column("org_id", String(128), primary_key=True),
    Column("hmac", String(64), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
)

audit_prune = Table(
    "audit_prune",
    metadata,
    Column("org_id", String(128), primary_key=True),
    Column("through_seq", BigInteger, primary_key=True, autoincrement=False),
    Column("through_hash", String(64), nullable=False),
    Column("pruned_at", String(32), nullable=False),
    Column("checkpoint", Text, nullable=False),
)
