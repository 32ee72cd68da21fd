"""Every operator action goes to the audit log (``operator_*`` events, actor ``operator:<id>``)."""

from __future__ import annotations

import logging
from typing import Any

from host.console.operators import Operator

log = logging.getLogger("switchboard.host.console")


async def audited(
    operator: Operator, action: str, *, session_id: str | None = None, turn_id: str | None = None, **details: Any
) -> None:
    """Append ``operator_<action>``; free text in ``details`` is redacted by the audit log itself."""
    from audit import AuditEvent, append

    await append(
        AuditEvent(
            org_id=operator.org_id,
            event_type=f"operator_{action}",
            source="host",
            actor=operator.actor,
            session_id=session_id,
            turn_id=turn_id,
            details={"operator": operator.username, **details},
        )
    )
