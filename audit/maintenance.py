"""Checkpoints and retention: sign the chain head; prune old records behind a signed checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, insert

from audit import store
from audit.checkpoints import SignedCheckpoint, read_checkpoints, sign, write_checkpoint
from audit.keys import signing_key
from audit.record import utc_timestamp
from audit.schema import audit_event, audit_prune, audit_value_hmac
from audit.verify import VerifyReport, verify_chain
from core.db import get_engine, write_transaction
from core.errors import conflict


@dataclass(frozen=True, slots=True)
class CheckpointResult:
    org_id: str
    seq: int
    head_hash: str
    path: str
    verified_from: int


@dataclass(frozen=True, slots=True)
class PruneResult:
    org_id: str
    through_seq: int
    removed: int
    checkpoint_path: str


def _refuse(report: VerifyReport, what: str) -> None:
    if not report.ok:
        raise conflict(
            f"the chain of {report.org_id} does not verify (seq {report.broken_seq}: {report.reason}); "
            f"refusing to {what}. Run `switchboard audit verify --org {report.org_id}`."
        )


async def create_checkpoint(org_id: str, *, directory: Path | str | None = None) -> CheckpointResult | None:
    """Verify the org's chain since its last checkpoint, then sign and write its head.

    Returns None when the org has no records. Raises CONFLICT when the chain does not verify.
    """
    private = signing_key()
    assert private is not None
    public = private.public_key()
    known = [s.checkpoint for _, s in read_checkpoints(org_id, directory) if s is not None and s.check([public])]
    from_seq = max((cp.seq for cp in known), default=None)
    report = await verify_chain(org_id, from_seq=from_seq, checkpoint_dir=directory)
    _refuse(report, "sign a checkpoint")
    if report.last_seq is None or report.last_hash is None:
        return None
    signed = sign(org_id, report.last_seq, report.last_hash, "checkpoint", private)
    path = write_checkpoint(signed, directory)
    return CheckpointResult(org_id, report.last_seq, report.last_hash, str(path), from_seq or 1)


async def create_checkpoints(
    org_id: str | None = None, *, directory: Path | str | None = None
) -> list[CheckpointResult]:
    """:func:`create_checkpoint` for one org or every org."""
    orgs = [org_id] if org_id else await store.list_orgs()
    results = []
    for org in orgs:
        result = await create_checkpoint(org, directory=directory)
        if result is not None:
            results.append(result)
    return results


async def prune(before: str, *, org_id: str | None = None, directory: Path | str | None = None) -> list[PruneResult]:
    """Remove each org's oldest records, those before the first record at or after ``before``.

    For each org: verify the chain, write a signed ``prune`` checkpoint of the last removed
    record (file first, then the ``audit_prune`` row), then delete. The remaining chain still
    verifies: its first record links to the signed hash.
    """
    private = signing_key()
    assert private is not None
    orgs = [org_id] if org_id else await store.list_orgs()
    results = []
    for org in orgs:
        head = await store.chain_head(org)
        if head is None:
            continue
        first_kept = await store.first_seq_at_or_after(org, before)
        through = (first_kept - 1) if first_kept is not None else head[0]
        low, _ = await store.seq_bounds(org)
        if low is None or through < low:
            continue
        report = await verify_chain(org, checkpoint_dir=directory)
        _refuse(report, "prune")
        last = await store.get_record(org, through)
        assert last is not None
        signed = sign(org, through, last.record_hash, "prune", private)
        path = write_checkpoint(signed, directory)
        removed = await _delete_through(org, through, last.record_hash, signed)
        results.append(PruneResult(org, through, removed, str(path)))
    return results


async def _delete_through(org: str, through: int, through_hash: str, signed: SignedCheckpoint) -> int:
    import json

    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        await conn.execute(
            insert(audit_prune).values(
                org_id=org,
                through_seq=through,
                through_hash=through_hash,
                pruned_at=utc_timestamp(),
                checkpoint=json.dumps(signed.to_json(), sort_keys=True),
            )
        )
        await conn.execute(
            delete(audit_value_hmac).where(audit_value_hmac.c.org_id == org, audit_value_hmac.c.seq <= through)
        )
        result = await conn.execute(
            delete(audit_event).where(audit_event.c.org_id == org, audit_event.c.seq <= through)
        )
    return result.rowcount or 0
