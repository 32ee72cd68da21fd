"""conversation records: sessions, turns, event_logs, review_queue, audio_segments

The existing call-center tables with their legacy column names, plus the agent version and
manifest hash behind every row.

Revision ID: host_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "host_0001"
down_revision = None
branch_labels = ("host",)
depends_on = None


def _versions() -> list[sa.Column]:
    return [
        sa.Column("agent_version_id", sa.String(64), nullable=False),
        sa.Column("manifest_sha256", sa.String(64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("phone_number", sa.String(64)),
        sa.Column("category", sa.String(100)),
        sa.Column("satisfaction", sa.Integer),
        sa.Column("is_escalated", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("escalation_reason", sa.Text),
        sa.Column("metadata", sa.JSON),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("duration_sec", sa.Integer),
        sa.Column("channel", sa.String(32)),
        sa.Column("caller_masked", sa.String(64)),
        sa.Column("agent_id", sa.String(128)),
        sa.Column("outcome", sa.String(64)),
        sa.Column("sentiment", sa.String(32)),
        sa.Column("recording_url", sa.Text),
        sa.Column("session_code", sa.String(32)),
        *_versions(),
        sa.Column("customer_ref", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False, server_default="active"),
        sa.Column("summary_text", sa.Text),
        sa.Column("language", sa.String(8)),
        sa.Column("provider", sa.String(32)),
        sa.Column("model", sa.String(100)),
        sa.Column("state", sa.JSON),
        sa.Column("updated_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_sessions_org_customer", "sessions", ["org_id", "customer_ref"])
    op.create_index("ix_sessions_agent_version", "sessions", ["agent_version_id"])

    op.create_table(
        "turns",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audio_url", sa.Text),
        sa.Column("transcript_text", sa.Text),
        sa.Column("summary_text", sa.Text),
        sa.Column("confirm_prompt", sa.Text),
        sa.Column("user_confirmed", sa.Boolean),
        sa.Column("correction_text", sa.Text),
        sa.Column("answer_text", sa.Text),
        sa.Column("kb_references", sa.JSON),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("start_time", sa.String(16)),
        sa.Column("end_time", sa.String(16)),
        sa.Column("asr_confidence", sa.Float),
        sa.Column("confirmation_response", sa.Text),
        sa.Column("final_answer", sa.Text),
        sa.Column("turn_code", sa.String(32)),
        *_versions(),
        sa.Column("tool_call_ids", sa.JSON),
        sa.Column("status", sa.String(24)),
        sa.Column("error_code", sa.String(32)),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_turns_session_seq", "turns", ["session_id", "seq"])

    op.create_table(
        "event_logs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("payload", sa.JSON),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("turn_id", sa.String(36)),
        *_versions(),
    )
    op.create_index("ix_event_logs_session", "event_logs", ["session_id", "created_at"])

    op.create_table(
        "review_queue",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("owner", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("org_id", sa.String(128)),
        sa.Column("kind", sa.String(16), nullable=False, server_default="escalation"),
        sa.Column("turn_id", sa.String(36)),
        *_versions(),
        sa.Column("payload", sa.JSON),
        sa.Column("resolved_by", sa.String(128)),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.Column("resolution_note", sa.Text),
    )
    op.create_index("ix_review_queue_status", "review_queue", ["status", "created_at"])
    op.create_index("ix_review_queue_session", "review_queue", ["session_id"])

    op.create_table(
        "audio_segments",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        sa.Column("label", sa.String(200)),
        sa.Column("start_time", sa.String(16)),
        sa.Column("end_time", sa.String(16)),
        sa.Column("audio_url", sa.Text),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("turn_id", sa.String(36)),
        *_versions(),
    )
    op.create_index("ix_audio_segments_session", "audio_segments", ["session_id"])


def downgrade() -> None:
    for name in ("audio_segments", "review_queue", "event_logs", "turns", "sessions"):
        op.drop_table(name)
