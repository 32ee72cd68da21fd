"""The registry: what server version X was, and what agent version N may use.

Digest authority (DESIGN principle 3) and immutable pins (principle 2). Host-facing API:

- :func:`definition_sha256` / :func:`tool_wire_dict`: the one way to hash a tool definition;
- :func:`load_agent_version` (and ``load_agent_version_by_id``): an approved agent version with
  its pinned tool definitions, policies, risk classes, launch specs and KB pins;
- :func:`is_revoked` / :func:`server_version_status`: whether a server version may still be used.
"""

from registry.agents import (
    agent_version_info,
    approve_agent_version,
    create_agent,
    draft_agent_version,
    list_agent_versions,
    list_agents,
)
from registry.diff import diff_versions
from registry.hashing import HASHED_FIELDS, definition_sha256, hashed_definition, tool_wire_dict, tools_manifest_sha256
from registry.launch import LaunchSpec
from registry.lint import LintFinding, lint_tool
from registry.models import AgentVersionInfo, ServerVersionInfo, StatusInfo
from registry.pinned import (
    KbPin,
    PinnedAgentVersion,
    PinnedServer,
    PinnedTool,
    is_revoked,
    load_agent_version,
    load_agent_version_by_id,
    revoked_servers,
    server_version_status,
)
from registry.publish import publish_version
from registry.review import change_status, review_version
from registry.specs import KbSpec, ToolSpec

__all__ = [
    "HASHED_FIELDS",
    "AgentVersionInfo",
    "KbPin",
    "KbSpec",
    "LaunchSpec",
    "LintFinding",
    "PinnedAgentVersion",
    "PinnedServer",
    "PinnedTool",
    "ServerVersionInfo",
    "StatusInfo",
    "ToolSpec",
    "agent_version_info",
    "approve_agent_version",
    "change_status",
    "create_agent",
    "definition_sha256",
    "diff_versions",
    "draft_agent_version",
    "hashed_definition",
    "is_revoked",
    "lint_tool",
    "list_agent_versions",
    "list_agents",
    "load_agent_version",
    "load_agent_version_by_id",
    "publish_version",
    "review_version",
    "revoked_servers",
    "server_version_status",
    "tool_wire_dict",
    "tools_manifest_sha256",
]
