"""Reviews and status changes of server versions: append-only history with who and why.

pending_review → approved | rejected (``review``); approved → deprecated | revoked;
deprecated → approved (reinstate) | revoked. Rejected and revoked are final: publish a new
version. Approving sets a risk class per tool (read, write, irreversible), decided by the
reviewer and never taken from the server's own annotations.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime

from sqlalchemy import insert

from core.db import get_engine, write_transaction
from core.errors import conflict, invalid
from registry.code import code_change
from registry.events import REGISTRY_ORG, SERVER_VERSION_REVIEWED, SERVER_VERSION_STATUS_CHANGED, record_event
from registry.lint import HIGH
from registry.models import (
    APPROVED,
    DEPRECATED,
    PENDING_REVIEW,
    REJECTED,
    REVOKED,
    RISK_CLASSES,
    ServerVersionInfo,
)
from registry.names import check_actor, check_reason, check_server_name, check_version
from registry.store import current_status, tool_infos, version_info, version_row
from registry.tables import mcp_tool_risk, server_version_status

TRANSITIONS: dict[str, frozenset[str]] = {
    PENDING_REVIEW: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({DEPRECATED, REVOKED}),
    DEPRECATED: frozenset({APPROVED, REVOKED}),
    REJECTED: frozenset(),
    REVOKED: frozenset(),
}


def resolve_risks(tool_names: list[str], risks: Mapping[str, str]) -> dict[str, str]:
    """A risk class for every tool; ``*`` sets the class of tools not named explicitly."""
    unknown = sorted(set(risks) - set(tool_names) - {"*"})
    if unknown:
        raise invalid(f"--risk names tools this version does not have: {', '.join(unknown)}")
    bad = sorted(f"{k}={v}" for k, v in risks.items() if v not in RISK_CLASSES)
    if bad:
        raise invalid(f"unknown risk class in {', '.join(bad)}: use one of {', '.join(RISK_CLASSES)}")
    resolved = {name: risks.get(name, risks.get("*", "")) for name in tool_names}
    missing = sorted(n for n, r in resolved.items() if not r)
    if missing:
        raise invalid(
            f"set a risk class for every tool before approving; missing: {', '.join(missing)} "
            "(e.g. --risk get_order=read --risk request_refund=irreversible)"
        )
    return resolved


async def review_version(
    name: str,
    version: str,
    *,
    approve: bool,
    reason: str,
    reviewer: str,
    risks: Mapping[str, str] | None = None,
    accept_findings: bool = False,
) -> ServerVersionInfo:
    """Approve (with a risk class per tool) or reject a version that is pending review."""
    check_server_name(name)
    check_version(version)
    reviewer, reason = check_actor(reviewer), check_reason(reason)
    risks = dict(risks or {})
    if risks and not approve:
        raise invalid("risk classes are set when approving; a rejection takes only a reason")
    engine = await get_engine()
    now = datetime.now(UTC)
    if approve:  # outside the write lock: fingerprinting a package reads the installed distributions
        async with engine.connect() as conn:
            launch = (await version_row(conn, name, version))["launch_spec"] or {}
        change = await asyncio.to_thread(code_change, launch)
        if change:  # the reviewer reads the published definitions; hosts would refuse what runs now
            raise conflict(
                f"{name}@{version} cannot be approved: {change}, so hosts refuse to start it. Restore the "
                "code it was published with, or publish the new code as a new version and review that"
            )
    async with write_transaction(engine, immediate=True) as conn:
        row = await version_row(conn, name, version, lock=True)
        status = (await current_status(conn, row["id"])).status
        if status != PENDING_REVIEW:
            raise conflict(f"{name}@{version} {_not_pending(status)}")
        new_status = APPROVED if approve else REJECTED
        tools = await tool_infos(conn, row["id"])
        resolved: dict[str, str] = {}
        if approve:
            resolved = resolve_risks([t.name for t in tools], risks)
            high = [f for t in tools for f in t.lint_findings if f.severity == HIGH]
            if high and not accept_findings:
                rules = sorted({f"{f.tool}: {f.rule}" for f in high})
                raise conflict(
                    f"{name}@{version} has {len(high)} high-severity lint findings ({'; '.join(rules[:6])}); "
                    "read them with `switchboard registry show` and re-run with --accept-findings to approve anyway"
                )
        status_id = (
            await conn.execute(
                insert(server_version_status)
                .values(
                    server_version_id=row["id"], status=new_status, reason=reason, changed_by=reviewer, changed_at=now
                )
                .returning(server_version_status.c.id)
            )
        ).scalar_one()
        if resolved:
            await conn.execute(
                insert(mcp_tool_risk),
                [
                    {"server_version_id": row["id"], "tool_name": tool, "risk_class": risk, "status_id": status_id}
                    for tool, risk in sorted(resolved.items())
                ],
            )
    await record_event(
        SERVER_VERSION_REVIEWED,
        actor=reviewer,
        org_id=REGISTRY_ORG,
        server_name=name,
        server_version=version,
        status=new_status,
        reason=reason,
        risk_classes=resolved or None,
        accepted_findings=accept_findings if approve else None,
    )
    async with engine.connect() as conn:
        return await version_info(conn, name, version)


async def change_status(name: str, version: str, status: str, *, reason: str, changed_by: str) -> ServerVersionInfo:
    """Deprecate, revoke or reinstate (back to approved) a reviewed version."""
    check_server_name(name)
    check_version(version)
    changed_by, reason = check_actor(changed_by), check_reason(reason)
    if status not in (APPROVED, DEPRECATED, REVOKED):
        raise invalid(f"status {status!r} cannot be set directly: use approved, deprecated or revoked")
    engine = await get_engine()
    now = datetime.now(UTC)
    async with write_transaction(engine, immediate=True) as conn:
        row = await version_row(conn, name, version, lock=True)
        current = (await current_status(conn, row["id"])).status
        if status not in TRANSITIONS[current]:
            raise conflict(f"{name}@{version} {_cannot_become(current, status)}")
        await conn.execute(
            insert(server_version_status).values(
                server_version_id=row["id"], status=status, reason=reason, changed_by=changed_by, changed_at=now
            )
        )
    await record_event(
        SERVER_VERSION_STATUS_CHANGED,
        actor=changed_by,
        org_id=REGISTRY_ORG,
        server_name=name,
        server_version=version,
        status=status,
        previous_status=current,
        reason=reason,
    )
    async with engine.connect() as conn:
        return await version_info(conn, name, version)


_FINAL = "publish a new version (bump the server's version) and review that"


def _not_pending(status: str) -> str:
    """Why a version that is not pending review cannot be reviewed, and what to do instead."""
    if status in (REJECTED, REVOKED):
        return f"was {status}, which is final; nothing was changed: {_FINAL}"
    if status == APPROVED:
        return (
            "is already approved; nothing was changed (a review decides once: "
            "`switchboard registry deprecate|revoke` change an approved version)"
        )
    return (
        f"is {status}, not pending review; nothing was changed "
        "(`switchboard registry reinstate` makes it approved again, `registry revoke` ends it)"
    )


def _cannot_become(current: str, status: str) -> str:
    """Why ``current`` cannot become ``status``, and what to do instead."""
    if current == status:
        return f"is already {status}; nothing was changed"
    if current in (REJECTED, REVOKED):
        return f"was {current}, which is final; nothing was changed: {_FINAL}"
    if current == PENDING_REVIEW:
        return f"is pending review; it cannot become {status}: review it first (`switchboard registry review`)"
    return f"is {current}; it cannot become {status}"
