"""Every operator action goes to the audit log (``operator_*`` events, actor ``operator:<id>``)."""

from __future__ import annotations

import logging
from typing import Any

from host.console.operators import Operator

log = logging.getLogger("switchboard.host.console")


async def audited(
    operator: Operator, action: str, *, session_id: str | None = None, turn_id: str | None = None, **details: Any
) -> None:
    """Append ``operator_<action>``; free text in ``details`` is redacted by the audit log itself.

    An action on a session is the customer's record: it is sealed under the session's customer
    (``customer_ref``), so ``switchboard customer erase`` shreds the notes and messages operators
    wrote about them, as it does their calls; under the org's key they stayed readable.
    """
    from audit import AuditEvent, append

    await append(
        AuditEvent(
            org_id=operator.org_id,
            event_type=f"operator_{action}",
            source="host",
            actor=operator.actor,
            customer_ref=await _customer_of(operator.org_id, session_id),
            session_id=session_id,
            turn_id=turn_id,
            details={"operator": operator.username, **details},
        )
    )


async def _customer_of(org_id: str, session_id: str | None) -> str | None:
    """The customer of the org's session (None without a session, or for an agent-only one)."""
    if session_id is None:
        return None
    from host.store import RecordStore

    row = await RecordStore().get_session(session_id)
    return row["customer_ref"] if row is not None and row["org_id"] == org_id else None
