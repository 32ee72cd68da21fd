"""registry: servers, immutable server versions and tool pins, agents and frozen agent versions

Revision ID: registry_0001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "registry_0001"
down_revision = None
branch_labels = ("registry",)
depends_on = None

# Tables whose rows never change once written.
_FROZEN = ("mcp_server_version", "mcp_tool_definition", "server_version_status", "mcp_tool_risk")
# Binding tables of agent versions: frozen once their agent version is approved.
_BINDINGS = ("agent_version_tool", "agent_version_kb")


def _tables() -> None:
    op.create_table(
        "mcp_server",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("owner", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "mcp_server_version",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("server_id", sa.String(36), sa.ForeignKey("mcp_server.id"), nullable=False),
        sa.Column("version", sa.String(128), nullable=False),
        sa.Column("launch_spec", sa.JSON, nullable=False),
        sa.Column("server_info", sa.JSON, nullable=False),
        sa.Column("protocol_version", sa.String(32), nullable=True),
        sa.Column("tools_manifest_sha256", sa.String(64), nullable=False),
        sa.Column("tool_count", sa.Integer, nullable=False),
        sa.Column("published_by", sa.String(200), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("server_id", "version", name="uq_mcp_server_version_server_version"),
    )
    op.create_table(
        "mcp_tool_definition",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("server_version_id", sa.String(36), sa.ForeignKey("mcp_server_version.id"), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("definition", sa.JSON, nullable=False),
        sa.Column("definition_sha256", sa.String(64), nullable=False),
        sa.Column("lint_findings", sa.JSON, nullable=False),
        sa.UniqueConstraint("server_version_id", "name", name="uq_mcp_tool_definition_version_name"),
    )
    op.create_index("ix_mcp_tool_definition_server_version_id", "mcp_tool_definition", ["server_version_id"])
    op.create_table(
        "server_version_status",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("server_version_id", sa.String(36), sa.ForeignKey("mcp_server_version.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("changed_by", sa.String(200), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('pending_review', 'approved', 'rejected', 'deprecated', 'revoked')", name="status_known"
        ),
    )
    op.create_index("ix_server_version_status_server_version_id", "server_version_status", ["server_version_id"])
    op.create_table(
        "mcp_tool_risk",
        sa.Column("server_version_id", sa.String(36), sa.ForeignKey("mcp_server_version.id"), primary_key=True),
        sa.Column("tool_name", sa.String(256), primary_key=True),
        sa.Column("risk_class", sa.String(20), nullable=False),
        sa.Column("status_id", sa.Integer, sa.ForeignKey("server_version_status.id"), nullable=False),
        sa.CheckConstraint("risk_class IN ('read', 'write', 'irreversible')", name="risk_known"),
    )
    op.create_table(
        "agent",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("org_id", sa.String(128), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_id", "slug", name="uq_agent_org_slug"),
    )
    op.create_table(
        "agent_version",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agent_id", sa.String(36), sa.ForeignKey("agent.id"), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("model_provider", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(200), nullable=False),
        sa.Column("model_params", sa.JSON, nullable=False),
        sa.Column("system_prompt", sa.Text, nullable=False),
        sa.Column("system_prompt_sha256", sa.String(64), nullable=False),
        sa.Column("manifest", sa.JSON, nullable=True),
        sa.Column("manifest_sha256", sa.String(64), nullable=True),
        sa.Column("drafted_by", sa.String(200), nullable=False),
        sa.Column("drafted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(200), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("agent_id", "version", name="uq_agent_version_agent_version"),
    )
    op.create_table(
        "agent_version_tool",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agent_version_id", sa.String(36), sa.ForeignKey("agent_version.id"), nullable=False),
        sa.Column("server_version_id", sa.String(36), sa.ForeignKey("mcp_server_version.id"), nullable=False),
        sa.Column("tool_name", sa.String(256), nullable=False),
        sa.Column("exposed_name", sa.String(128), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("timeout_ms", sa.Integer, nullable=False),
        sa.Column("max_calls_per_turn", sa.Integer, nullable=False),
        sa.UniqueConstraint("agent_version_id", "exposed_name", name="uq_agent_version_tool_exposed"),
        sa.CheckConstraint("policy IN ('never', 'confirm', 'approve')", name="policy_known"),
    )
    op.create_index("ix_agent_version_tool_agent_version_id", "agent_version_tool", ["agent_version_id"])
    op.create_table(
        "agent_version_kb",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("agent_version_id", sa.String(36), sa.ForeignKey("agent_version.id"), nullable=False),
        sa.Column("kb_id", sa.String(128), nullable=False),
        sa.Column("kb_name", sa.String(200), nullable=True),
        sa.Column("kb_version", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.UniqueConstraint("agent_version_id", "kb_id", name="uq_agent_version_kb_kb"),
    )
    op.create_index("ix_agent_version_kb_agent_version_id", "agent_version_kb", ["agent_version_id"])


def _sqlite_triggers() -> list[str]:
    sql = []
    for table in _FROZEN:
        for op_name in ("UPDATE", "DELETE"):
            sql.append(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are immutable: publish a new version'); END"
            )
    for op_name in ("UPDATE", "DELETE"):
        sql.append(
            f"CREATE TRIGGER agent_version_frozen_{op_name.lower()} BEFORE {op_name} ON agent_version "
            f"WHEN OLD.approved_at IS NOT NULL "
            f"BEGIN SELECT RAISE(ABORT, 'agent_version rows are immutable once approved: draft a new version'); END"
        )
    approved = "(SELECT approved_at FROM agent_version WHERE id = {row}.agent_version_id) IS NOT NULL"
    for table in _BINDINGS:
        message = f"'{table} rows of an approved agent version are immutable: draft a new version'"
        sql.append(
            f"CREATE TRIGGER {table}_frozen_insert BEFORE INSERT ON {table} WHEN {approved.format(row='NEW')} "
            f"BEGIN SELECT RAISE(ABORT, {message}); END"
        )
        sql.append(
            f"CREATE TRIGGER {table}_frozen_update BEFORE UPDATE ON {table} "
            f"WHEN {approved.format(row='OLD')} OR {approved.format(row='NEW')} "
            f"BEGIN SELECT RAISE(ABORT, {message}); END"
        )
        sql.append(
            f"CREATE TRIGGER {table}_frozen_delete BEFORE DELETE ON {table} WHEN {approved.format(row='OLD')} "
            f"BEGIN SELECT RAISE(ABORT, {message}); END"
        )
    for table, columns in (("mcp_server", "name"), ("agent", "org_id, slug")):
        sql.append(
            f"CREATE TRIGGER {table}_identity_frozen BEFORE UPDATE OF {columns} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} identity ({columns}) is immutable'); END"
        )
    return sql


def _postgres_triggers() -> list[str]:
    sql = [
        """CREATE FUNCTION registry_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '% rows are immutable: publish a new version', TG_TABLE_NAME
            USING ERRCODE = 'integrity_constraint_violation';
        END $$""",
        """CREATE FUNCTION registry_agent_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF OLD.approved_at IS NOT NULL THEN
            RAISE EXCEPTION 'agent_version rows are immutable once approved: draft a new version'
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$""",
        """CREATE FUNCTION registry_binding_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF (TG_OP IN ('UPDATE', 'DELETE') AND EXISTS (
                SELECT 1 FROM agent_version WHERE id = OLD.agent_version_id AND approved_at IS NOT NULL))
             OR (TG_OP IN ('INSERT', 'UPDATE') AND EXISTS (
                SELECT 1 FROM agent_version WHERE id = NEW.agent_version_id AND approved_at IS NOT NULL)) THEN
            RAISE EXCEPTION '% rows of an approved agent version are immutable: draft a new version', TG_TABLE_NAME
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
          RETURN NEW;
        END $$""",
        """CREATE FUNCTION registry_server_identity_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.name IS DISTINCT FROM OLD.name THEN
            RAISE EXCEPTION 'mcp_server identity (name) is immutable'
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$""",
        """CREATE FUNCTION registry_agent_identity_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF NEW.org_id IS DISTINCT FROM OLD.org_id OR NEW.slug IS DISTINCT FROM OLD.slug THEN
            RAISE EXCEPTION 'agent identity (org_id, slug) is immutable'
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$""",
    ]
    for table in _FROZEN:
        sql.append(
            f"CREATE TRIGGER {table}_immutable BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION registry_refuse_change()"
        )
        sql.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION registry_refuse_change()"
        )
    sql.append(
        "CREATE TRIGGER agent_version_frozen BEFORE UPDATE OR DELETE ON agent_version "
        "FOR EACH ROW EXECUTE FUNCTION registry_agent_version_frozen()"
    )
    sql.append(
        "CREATE TRIGGER agent_version_no_truncate BEFORE TRUNCATE ON agent_version "
        "FOR EACH STATEMENT EXECUTE FUNCTION registry_refuse_change()"
    )
    for table in _BINDINGS:
        sql.append(
            f"CREATE TRIGGER {table}_frozen BEFORE INSERT OR UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION registry_binding_frozen()"
        )
        sql.append(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION registry_refuse_change()"
        )
    for table, func in (("mcp_server", "registry_server_identity_frozen"), ("agent", "registry_agent_identity_frozen")):
        sql.append(
            f"CREATE TRIGGER {table}_identity_frozen BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION {func}()"
        )
    return sql


def upgrade() -> None:
    _tables()
    dialect = op.get_bind().dialect.name
    for statement in _postgres_triggers() if dialect == "postgresql" else _sqlite_triggers():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in (
            "mcp_server",
            "mcp_server_version",
            "mcp_tool_definition",
            "server_version_status",
            "mcp_tool_risk",
            "agent",
            "agent_version",
            "agent_version_tool",
            "agent_version_kb",
        ):
            op.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
        for func in (
            "registry_refuse_change",
            "registry_agent_version_frozen",
            "registry_binding_frozen",
            "registry_server_identity_frozen",
            "registry_agent_identity_frozen",
        ):
            op.execute(f"DROP FUNCTION IF EXISTS {func}()")
        return
    for table in (
        "agent_version_kb",
        "agent_version_tool",
        "agent_version",
        "agent",
        "mcp_tool_risk",
        "server_version_status",
        "mcp_tool_definition",
        "mcp_server_version",
        "mcp_server",
    ):
        op.drop_table(table)
