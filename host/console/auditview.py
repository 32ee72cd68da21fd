"""The audit page: an org's chain head, its last signed checkpoint, a verification on request, an export."""

from __future__ import annotations

import io
from typing import Any


async def org_status(org_id: str, *, verify: bool = False) -> dict[str, Any]:
    from audit.checkpoints import read_checkpoints
    from audit.store import chain_head

    head = await chain_head(org_id)
    checkpoints = [signed.checkpoint for _, signed in read_checkpoints(org_id) if signed is not None]
    last = max(checkpoints, key=lambda c: c.seq) if checkpoints else None
    status: dict[str, Any] = {
        "org": org_id,
        "head_seq": head[0] if head else 0,
        "head_hash": head[1] if head else None,
        "checkpoint": {"seq": last.seq, "time": last.time, "kind": last.kind} if last else None,
        "verified": None,
        "problems": [],
        "warnings": [],
    }
    if verify:
        from audit import verify_chain

        report = await verify_chain(org_id)
        status["verified"] = report.ok
        status["records"] = report.records
        status["problems"] = [f"{p.kind} (seq {p.seq}): {p.reason}" for p in report.problems]
        status["warnings"] = list(report.warnings)
    return status


async def export_text(org_id: str) -> str:
    """The org's records in the export format ``switchboard audit verify --export`` checks (signed
    when an audit signing key is configured)."""
    from audit import export_records

    out = io.StringIO()
    await export_records(out, org_id=org_id)
    return out.getvalue()
