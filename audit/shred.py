"""Crypto-shredding a data subject: destroy the customer's audit key, append a tombstone record.

After this, every audit payload sealed for the customer reads ``[erased]`` (in the database,
its backups and every export), ``find --value`` no longer finds their personal values (their
value HMACs were keyed with a key derived from the destroyed one), and the chain still
verifies (the hashes cover the ciphertext). The tombstone, ``event_type=subject_erased`` in the
org's chain, records who erased which customer when and how many records were shredded.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select

from audit.log import append
from audit.record import AuditEvent
from audit.schema import audit_event
from audit.store import settled_engine
from audit.subjects import destroy_subject_key


@dataclass(frozen=True, slots=True)
class AuditErasure:
    records_shredded: int
    key_destroyed: bool
    tombstone_seq: int
    tombstone_event_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def shred_subject(org_id: str, customer_ref: str, *, actor: str, erasure_id: str | None = None) -> AuditErasure:
    """Destroy the customer's audit key, then append the tombstone (rerunning is safe)."""
    engine = await settled_engine()  # with this process's journaled records
    async with engine.connect() as conn:
        count = (
            await conn.execute(
                select(func.count()).where(audit_event.c.org_id == org_id, audit_event.c.customer_ref == customer_ref)
            )
        ).scalar_one()
    destroyed = destroy_subject_key(org_id, customer_ref)
    record = await append(
        AuditEvent(
            org_id=org_id,
            event_type="subject_erased",
            source="cli",
            actor=actor,
            details={
                "customer_ref": customer_ref,
                "records_shredded": count,
                "key_destroyed": destroyed,
                "erasure_id": erasure_id,
            },
        )
    )
    return AuditErasure(count, destroyed, record.seq, record.event_id)
