"""The registry's tables (SQLAlchemy Core).

Published rows never change: database triggers (see the migration) refuse UPDATE and DELETE of
server versions, their tool definitions, review decisions and status rows, and of approved
agent versions with their tool and KB bindings. Status is append-only history beside the
immutable version: the current status is the latest row.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from core.db import metadata

mcp_server = Table(
    "mcp_server",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("owner", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

mcp_server_version = Table(
    "mcp_server_version",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("server_id", String(36), ForeignKey("mcp_server.id"), nullable=False),
    Column("version", String(128), nullable=False),
    Column("launch_spec", JSON, nullable=False),
    Column("server_info", JSON, nullable=False),
    Column("protocol_version", String(32), nullable=True),
    Column("tools_manifest_sha256", String(64), nullable=False),
    Column("tool_count", Integer, nullable=False),
    Column("published_by", String(200), nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("server_id", "version", name="uq_mcp_server_version_server_version"),
)

mcp_tool_definition = Table(
    "mcp_tool_definition",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("server_version_id", String(36), ForeignKey("mcp_server_version.id"), nullable=False, index=True),
    Column("name", String(256), nullable=False),
    Column("definition", JSON, nullable=False),
    Column("definition_sha256", String(64), nullable=False),
    Column("lint_findings", JSON, nullable=False),
    UniqueConstraint("server_version_id", "name", name="uq_mcp_tool_definition_version_name"),
)

server_version_status = Table(
    "server_version_status",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("server_version_id", String(36), ForeignKey("mcp_server_version.id"), nullable=False, index=True),
    Column("status", String(20), nullable=False),
    Column("reason", Text, nullable=False),
    Column("changed_by", String(200), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False),
)

# The reviewer's risk class per tool, recorded with the approving status row (never taken from
# the server's own annotations). Kept apart from mcp_tool_definition, which is frozen at publish.
mcp_tool_risk = Table(
    "mcp_tool_risk",
    metadata,
    Column("server_version_id", String(36), ForeignKey("mcp_server_version.id"), primary_key=True),
    Column("tool_name", String(256), primary_key=True),
    Column("risk_class", String(20), nullable=False),
    Column("status_id", Integer, ForeignKey("server_version_status.id"), nullable=False),
)

agent = Table(
    "agent",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("slug", String(64), nullable=False),
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("org_id", "slug", name="uq_agent_org_slug"),
)

agent_version = Table(
    "agent_version",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("agent_id", String(36), ForeignKey("agent.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("model_provider", String(32), nullable=False),
    Column("model_id", String(200), nullable=False),
    Column("model_params", JSON, nullable=False),
    Column("system_prompt", Text, nullable=False),
    Column("system_prompt_sha256", String(64), nullable=False),
    Column("manifest", JSON, nullable=True),
    Column("manifest_sha256", String(64), nullable=True),
    Column("drafted_by", String(200), nullable=False),
    Column("drafted_at", DateTime(timezone=True), nullable=False),
    Column("approved_by", String(200), nullable=True),
    Column("approved_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("agent_id", "version", name="uq_agent_version_agent_version"),
)

agent_version_tool = Table(
    "agent_version_tool",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("agent_version_id", String(36), ForeignKey("agent_version.id"), nullable=False, index=True),
    Column("server_version_id", String(36), ForeignKey("mcp_server_version.id"), nullable=False),
    Column("tool_name", String(256), nullable=False),
    Column("exposed_name", String(128), nullable=False),
    Column("policy", String(16), nullable=False),
    Column("timeout_ms", Integer, nullable=False),
    Column("max_calls_per_turn", Integer, nullable=False),
    UniqueConstraint("agent_version_id", "exposed_name", name="uq_agent_version_tool_exposed"),
)

agent_version_kb = Table(
    "agent_version_kb",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("agent_version_id", String(36), ForeignKey("agent_version.id"), nullable=False, index=True),
    Column("kb_id", String(128), nullable=False),
    Column("kb_name", String(200), nullable=True),
    Column("kb_version", String(64), nullable=False),
    Column("content_sha256", String(64), nullable=True),
    UniqueConstraint("agent_version_id", "kb_id", name="uq_agent_version_kb_kb"),
)
