"""Conversation records: the existing call-center tables, extended with the versions behind each row.

Legacy column names are kept as they are (``sessions``, ``turns``, ``event_logs``,
``review_queue``, ``audio_segments``); every row also names the agent version and the manifest
hash that produced it. The migration is ``host/migrations/host_0001_records.py``.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, ForeignKey, Index, Integer, String, Table, Text

from core.db import metadata

# review_queue.status values (legacy rows say "Open")
REVIEW_OPEN = "Open"
REVIEW_APPROVED = "Approved"
REVIEW_REJECTED = "Rejected"
REVIEW_RESOLVED = "Resolved"
REVIEW_EXECUTED = "Executed"
REVIEW_STATUSES = (REVIEW_OPEN, REVIEW_APPROVED, REVIEW_REJECTED, REVIEW_RESOLVED, REVIEW_EXECUTED)

EVENT_TYPES = (
    "SESSION_STARTED",
    "ASR_RECEIVED",
    "SUMMARY_GENERATED",
    "CONFIRMATION_REQUESTED",
    "CONFIRMATION_RESPONSE",
    "TOOL_CALLED",
    "TOOL_DISABLED",
    "APPROVAL_REQUESTED",
    "FINAL_ANSWER_READY",
    "ESCALATED",
    "TURN_FAILED",
    "SESSION_ENDED",
)


def _versions() -> list[Column]:
    return [
        Column("agent_version_id", String(64), nullable=False),
        Column("manifest_sha256", String(64), nullable=False),
    ]


sessions = Table(
    "sessions",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("phone_number", String(64)),
    Column("category", String(100)),
    Column("satisfaction", Integer),
    Column("is_escalated", Boolean, nullable=False, default=False),
    Column("escalation_reason", Text),
    Column("metadata", JSON),
    Column("org_id", String(128), nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("duration_sec", Integer),
    Column("channel", String(32)),
    Column("caller_masked", String(64)),
    Column("agent_id", String(128)),
    Column("outcome", String(64)),
    Column("sentiment", String(32)),
    Column("recording_url", Text),
    Column("session_code", String(32)),
    # added by the host
    *_versions(),
    Column("customer_ref", String(128)),
    Column("status", String(16), nullable=False, default="active"),  # active | ended
    Column("summary_text", Text),
    Column("language", String(8)),
    Column("provider", String(32)),
    Column("model", String(100)),
    Column("state", JSON),  # what a worker needs to resume the conversation
    Column("updated_at", DateTime(timezone=True)),
    Index("ix_sessions_org_customer", "org_id", "customer_ref"),
    Index("ix_sessions_agent_version", "agent_version_id"),
)

turns = Table(
    "turns",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("audio_url", Text),
    Column("transcript_text", Text),
    Column("summary_text", Text),
    Column("confirm_prompt", Text),
    Column("user_confirmed", Boolean),
    Column("correction_text", Text),
    Column("answer_text", Text),
    Column("kb_references", JSON),
    Column("seq", Integer, nullable=False),
    Column("start_time", String(16)),
    Column("end_time", String(16)),
    Column("asr_confidence", Float),
    Column("confirmation_response", Text),
    Column("final_answer", Text),
    Column("turn_code", String(32)),
    # added by the host
    *_versions(),
    Column("tool_call_ids", JSON),
    Column("status", String(24)),  # completed | awaiting_confirmation | escalated | failed
    Column("error_code", String(32)),
    Column("completed_at", DateTime(timezone=True)),
    Column("actor", String(160)),  # operator:<id> for an operator's message (host_0002), else null
    Index("ix_turns_session_seq", "session_id", "seq"),
)

event_logs = Table(
    "event_logs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("payload", JSON),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # added by the host
    Column("turn_id", String(36)),
    *_versions(),
    Index("ix_event_logs_session", "session_id", "created_at"),
)

review_queue = Table(
    "review_queue",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("owner", String(128)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # added by the host
    Column("org_id", String(128)),
    Column("kind", String(16), nullable=False, default="escalation"),  # escalation | approval
    Column("turn_id", String(36)),
    *_versions(),
    Column("payload", JSON),  # approval: the pending tool call
    Column("resolved_by", String(128)),
    Column("resolved_at", DateTime(timezone=True)),
    Column("resolution_note", Text),
    Index("ix_review_queue_status", "status", "created_at"),
    Index("ix_review_queue_session", "session_id"),
)

audio_segments = Table(
    "audio_segments",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("session_id", String(36), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("label", String(200)),
    Column("start_time", String(16)),
    Column("end_time", String(16)),
    Column("audio_url", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # added by the host
    Column("turn_id", String(36)),
    *_versions(),
    Index("ix_audio_segments_session", "session_id"),
)
