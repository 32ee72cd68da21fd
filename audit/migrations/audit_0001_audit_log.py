"""audit log: chained events, chain heads, value HMACs, prunes; append-only triggers

Revision ID: audit_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "audit_0001"
down_revision = None
branch_labels = ("audit",)
depends_on = None

_GUARDED = ("audit_event", "audit_value_hmac")  # rows may leave only through a recorded prune
_FROZEN = ("audit_prune",)


def _tables() -> None:
    op.create_table(
        "audit_event",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("record_version", sa.SmallInteger, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("record_hash", sa.String(64), nullable=False),
        sa.Column("occurred_at", sa.String(32), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(200)),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("customer_ref", sa.String(200)),
        sa.Column("session_id", sa.String(200)),
        sa.Column("turn_id", sa.String(200)),
        sa.Column("trace_id", sa.String(200)),
        sa.Column("agent_version_id", sa.String(200)),
        sa.Column("manifest_sha256", sa.String(64)),
        sa.Column("server_name", sa.String(200)),
        sa.Column("server_version", sa.String(200)),
        sa.Column("client_name", sa.String(200)),
        sa.Column("client_version", sa.String(200)),
        sa.Column("tool_name", sa.String(200)),
        sa.Column("exposed_name", sa.String(200)),
        sa.Column("definition_sha256_pinned", sa.String(64)),
        sa.Column("definition_sha256_observed", sa.String(64)),
        sa.Column("args_redacted", sa.Text),
        sa.Column("args_hmac", sa.Text),
        sa.Column("args_size", sa.Integer),
        sa.Column("result_redacted", sa.Text),
        sa.Column("result_hmac", sa.Text),
        sa.Column("result_size", sa.Integer),
        sa.Column("details_redacted", sa.Text),
        sa.Column("details_hmac", sa.Text),
        sa.Column("is_error", sa.Boolean),
        sa.Column("error_code", sa.String(64)),
        sa.Column("error_message", sa.Text),
        sa.Column("latency_ms", sa.Float),
    )
    op.create_index("ix_audit_event_org_occurred", "audit_event", ["org_id", "occurred_at"])
    op.create_index("ix_audit_event_trace", "audit_event", ["trace_id"])
    op.create_table(
        "audit_chain_head",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "audit_value_hmac",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("hmac", sa.String(64), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    )
    op.create_table(
        "audit_prune",
        sa.Column("org_id", sa.String(128), primary_key=True),
        sa.Column("through_seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("through_hash", sa.String(64), nullable=False),
        sa.Column("pruned_at", sa.String(32), nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False),
    )


def _sqlite_triggers() -> None:
    for table in (*_GUARDED, *_FROZEN, "audit_chain_head"):
        if table != "audit_chain_head":
            op.execute(
                f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: UPDATE refused'); END"
            )
        guard = ""
        if table in _GUARDED:
            guard = (
                "WHEN NOT EXISTS (SELECT 1 FROM audit_prune p "
                "WHERE p.org_id = OLD.org_id AND OLD.seq <= p.through_seq) "
            )
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {guard}"
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: DELETE refused "
            "(records leave only through switchboard audit prune)'); END"
        )
    op.execute(
        "CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE ON audit_chain_head "
        "WHEN NEW.org_id <> OLD.org_id OR NEW.seq <= OLD.seq "
        "BEGIN SELECT RAISE(ABORT, 'audit_chain_head only moves forward'); END"
    )


def _postgres_triggers() -> None:
    guarded = ", ".join(f"'{t}'" for t in _GUARDED)
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' AND TG_TABLE_NAME IN ({guarded}) THEN
            IF EXISTS (SELECT 1 FROM audit_prune p WHERE p.org_id = OLD.org_id AND OLD.seq <= p.through_seq) THEN
              RETURN OLD;
            END IF;
          END IF;
          RAISE EXCEPTION '% is append-only: % refused (records leave only through switchboard audit prune)',
            TG_TABLE_NAME, TG_OP;
        END $$
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit_chain_head only moves forward: DELETE refused';
          END IF;
          IF NEW.org_id <> OLD.org_id OR NEW.seq <= OLD.seq THEN
            RAISE EXCEPTION 'audit_chain_head only moves forward: UPDATE refused';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        """
        CREATE OR REPLACE FUNCTION audit_refuse_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '% is append-only: TRUNCATE refused', TG_TABLE_NAME;
        END $$
        """
    )
    for table in (*_GUARDED, *_FROZEN):
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()"
        )
    op.execute(
        "CREATE TRIGGER audit_chain_head_forward BEFORE UPDATE OR DELETE ON audit_chain_head "
        "FOR EACH ROW EXECUTE FUNCTION audit_head_forward()"
    )
    for table in (*_GUARDED, *_FROZEN, "audit_chain_head"):
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_truncate()"
        )


def upgrade() -> None:
    _tables()
    if op.get_bind().dialect.name == "postgresql":
        _postgres_triggers()
    else:
        _sqlite_triggers()


def downgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"
    for table in ("audit_prune", "audit_value_hmac", "audit_chain_head", "audit_event"):
        op.drop_table(table)  # dropping a table drops its triggers
    if is_pg:
        for fn in ("audit_refuse_change", "audit_head_forward", "audit_refuse_truncate"):
            op.execute(f"DROP FUNCTION IF EXISTS {fn}()")
