"""Registry events for the audit log: the one place the registry talks to ``audit``.

Server events go to the audit log's system org (``audit.SYSTEM_ORG``: server versions are
global, not a tenant's); agent events go to the agent's org. An event is appended right after
the registry change commits; if the append fails, the caller gets UNAVAILABLE saying that the
change itself was saved, so the gap is never silent.
"""

from __future__ import annotations

import logging
from typing import Any

from core.errors import SwitchboardError, unavailable

SERVER_VERSION_PUBLISHED = "server_version_published"
SERVER_VERSION_REVIEWED = "server_version_reviewed"
SERVER_VERSION_STATUS_CHANGED = "server_version_status_changed"
AGENT_VERSION_APPROVED = "agent_version_approved"
# The pseudo-tenant of server events (the audit log's system org).
REGISTRY_ORG = "switchboard:system"
_EVENT_FIELDS = ("server_name", "server_version", "agent_version_id", "manifest_sha256")

log = logging.getLogger("switchboard.registry")


async def record_event(event_type: str, *, actor: str, org_id: str, **fields: Any) -> None:
    """Append one registry event; ``fields`` beyond the event's own columns go to ``details``."""
    from audit import AuditEvent, append

    own = {k: fields.pop(k) for k in _EVENT_FIELDS if k in fields}
    details = {k: v for k, v in fields.items() if v is not None}
    event = AuditEvent(
        org_id=org_id, event_type=event_type, source="registry", actor=actor, details=details or None, **own
    )
    try:
        await append(event)
    except Exception as exc:
        reason = exc.message if isinstance(exc, SwitchboardError) else type(exc).__name__
        raise unavailable(
            f"the registry change was saved, but appending its {event_type} audit event failed: {reason}. "
            "Check the audit log (`switchboard audit verify`)"
        ) from None
