"""Plain result types of the registry API (what the CLI prints and other packages consume)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, overload

from registry.lint import LintFinding

PENDING_REVIEW = "pending_review"
APPROVED = "approved"
REJECTED = "rejected"
DEPRECATED = "deprecated"
REVOKED = "revoked"
STATUSES = (PENDING_REVIEW, APPROVED, REJECTED, DEPRECATED, REVOKED)
RISK_CLASSES = ("read", "write", "irreversible")
POLICIES = ("never", "confirm", "approve")


@overload
def utc(value: datetime) -> datetime: ...
@overload
def utc(value: None) -> None: ...
def utc(value: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (SQLite hands back naive ones)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class StatusInfo:
    """One row of a server version's status history."""

    status: str
    reason: str
    changed_by: str
    changed_at: datetime


@dataclass(frozen=True, slots=True)
class ToolInfo:
    """A pinned tool definition of a server version."""

    name: str
    definition: dict[str, Any]
    definition_sha256: str
    lint_findings: list[LintFinding]
    risk_class: str | None = None


@dataclass(slots=True)
class ServerVersionInfo:
    """A published server version: what it was (immutable) and its current status."""

    id: str
    server: str
    version: str
    status: str
    launch: dict[str, Any]
    server_info: dict[str, Any]
    protocol_version: str | None
    tools_manifest_sha256: str
    tool_count: int
    published_by: str
    published_at: datetime
    tools: list[ToolInfo] = field(default_factory=list)
    history: list[StatusInfo] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.server}@{self.version}"

    @property
    def findings(self) -> list[LintFinding]:
        return [f for tool in self.tools for f in tool.lint_findings]


@dataclass(frozen=True, slots=True)
class ServerSummary:
    """A server and its newest version."""

    name: str
    description: str
    owner: str
    version_count: int
    latest_version: str | None
    latest_status: str | None


@dataclass(frozen=True, slots=True)
class AgentInfo:
    id: str
    org_id: str
    slug: str
    created_by: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ToolBinding:
    """A tool an agent version may use, with its policy."""

    exposed_name: str
    server_name: str
    server_version: str
    tool_name: str
    policy: str
    timeout_ms: int
    max_calls_per_turn: int


@dataclass(frozen=True, slots=True)
class KbBinding:
    kb_id: str
    kb_name: str | None
    kb_version: str
    content_sha256: str | None = None


@dataclass(slots=True)
class AgentVersionInfo:
    """An agent version: a mutable draft, or approved and frozen with its manifest."""

    id: str
    org_id: str
    slug: str
    version: int
    state: str  # "draft" | "approved"
    model_provider: str
    model_id: str
    model_params: dict[str, Any]
    system_prompt_sha256: str
    drafted_by: str
    drafted_at: datetime
    approved_by: str | None
    approved_at: datetime | None
    manifest: dict[str, Any] | None
    manifest_sha256: str | None
    tools: list[ToolBinding] = field(default_factory=list)
    kbs: list[KbBinding] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return f"{self.slug}@{self.version}"
