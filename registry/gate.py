"""The eval gate: an agent version's latest eval result, and an org's minimum pass rate to approve.

``switchboard eval run`` records each whole-pack run's summary here (:func:`record_result`), with
the pack's content digest. An org may require a minimum pass rate (:func:`set_gate`) on one pack,
pinned by name and digest (the bundled ``ko-callcenter`` when none is named): a run of a pack the
author wrote, or of an edited copy under the same name, does not count. :func:`check_approval` is
called on the approve path and refuses an agent version whose latest run of the pinned pack is
missing or below the minimum. An override needs a reason and is appended to the audit log as
``agent_eval_gate_overridden``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Float, Index, Integer, String, Table, delete, insert, select

from core.db import get_engine, metadata, write_transaction
from core.errors import forbidden, invalid, not_found
from registry.names import check_actor, check_org

GATE_OVERRIDDEN = "agent_eval_gate_overridden"
GATE_SET = "agent_eval_gate_set"

agent_eval_result = Table(
    "agent_eval_result",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("org_id", String(128), nullable=False),
    Column("agent_version_id", String(36), nullable=False),
    Column("agent_ref", String(200), nullable=False),
    Column("pack", String(64), nullable=False),
    Column("pack_version", String(32), nullable=False),
    Column("pack_digest", String(64), nullable=True),  # NULL: recorded before packs had digests
    Column("provider", String(32), nullable=False),
    Column("simulator", String(16), nullable=False),
    Column("trials", Integer, nullable=False),
    Column("runs", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("pass_rate", Float, nullable=False),
    Column("summary", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Index("ix_agent_eval_result_version", "agent_version_id", "created_at"),
)
agent_eval_gate = Table(
    "agent_eval_gate",
    metadata,
    Column("org_id", String(128), primary_key=True),
    Column("min_pass_rate", Float, nullable=False),
    Column("pack", String(64), nullable=True),
    Column("set_by", String(200), nullable=False),
    Column("set_at", DateTime(timezone=True), nullable=False),
    Column("pack_version", String(32), nullable=True),
    Column("pack_digest", String(64), nullable=True),  # NULL: set before gates pinned a digest
)
DEFAULT_PACK = "ko-callcenter"


@dataclass(frozen=True, slots=True)
class EvalResult:
    id: str
    agent_ref: str
    pack: str
    pack_version: str
    pack_digest: str | None
    provider: str
    simulator: str
    trials: int
    runs: int
    passed: int
    pass_rate: float
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__slots__}

    def line(self) -> str:
        digest = f" (digest {self.pack_digest[:12]})" if self.pack_digest else ""
        return (
            f"{self.pack}@{self.pack_version}{digest}: {self.pass_rate * 100:.1f}% ({self.passed}/{self.runs}, "
            f"{self.provider}, {self.simulator}) on {self.created_at:%Y-%m-%d %H:%M} UTC"
        )


@dataclass(frozen=True, slots=True)
class Gate:
    org_id: str
    min_pass_rate: float
    pack: str | None
    set_by: str
    set_at: datetime
    pack_version: str | None = None
    pack_digest: str | None = None

    @property
    def pack_name(self) -> str:
        return self.pack or DEFAULT_PACK

    def pack_line(self) -> str:
        """'ko-callcenter@1.2.0 (digest 3f2a…)': the pack the gate counts runs of."""
        version = f"@{self.pack_version}" if self.pack_version else ""
        digest = f" (digest {self.pack_digest[:12]})" if self.pack_digest else ""
        return f"{self.pack_name}{version}{digest}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "org_id": self.org_id, "min_pass_rate": self.min_pass_rate, "pack": self.pack_name,
            "pack_version": self.pack_version, "pack_digest": self.pack_digest,
            "set_by": self.set_by, "set_at": self.set_at,
        }  # fmt: skip


async def record_result(report: dict[str, Any]) -> str:
    """Store a run's summary against the agent version it evaluated."""
    s = report["summary"]
    row = {
        "id": report["run_id"],
        "org_id": report["org_id"],
        "agent_version_id": report["agent_version_id"],
        "agent_ref": report["agent"],
        "pack": report["pack"],
        "pack_version": report["pack_version"],
        "pack_digest": report.get("pack_digest"),
        "provider": report["provider"],
        "simulator": report["simulator"],
        "trials": report["trials"],
        "runs": s["runs"],
        "passed": s["passed"],
        "pass_rate": s["pass_rate"],
        "summary": {k: s[k] for k in ("by_category", "pass_hat_k", "covered")},
        "created_at": datetime.now(UTC),
    }
    engine = await get_engine()
    async with write_transaction(engine) as conn:
        await conn.execute(insert(agent_eval_result).values(**row))
    return row["id"]


async def latest_result(
    agent_version_id: str, pack: str | None = None, *, digest: str | None = None
) -> EvalResult | None:
    """The version's latest recorded run (of ``pack``, and of exactly the content ``digest`` when given)."""
    engine = await get_engine()
    query = select(agent_eval_result).where(agent_eval_result.c.agent_version_id == agent_version_id)
    if pack:
        query = query.where(agent_eval_result.c.pack == pack)
    if digest:
        query = query.where(agent_eval_result.c.pack_digest == digest)
    async with engine.connect() as conn:
        row = (await conn.execute(query.order_by(agent_eval_result.c.created_at.desc()).limit(1))).first()
    if row is None:
        return None
    m = row._mapping
    created = m["created_at"] if m["created_at"].tzinfo else m["created_at"].replace(tzinfo=UTC)
    return EvalResult(
        m["id"], m["agent_ref"], m["pack"], m["pack_version"], m["pack_digest"], m["provider"], m["simulator"],
        m["trials"], m["runs"], m["passed"], m["pass_rate"], created,
    )  # fmt: skip


async def get_gate(org_id: str) -> Gate | None:
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (await conn.execute(select(agent_eval_gate).where(agent_eval_gate.c.org_id == org_id))).first()
    return Gate(**row._mapping) if row else None


async def _require_agents(conn: Any, org_id: str) -> None:
    """A gate guards the approvals of an org's agents: an org without any is a typo of --org
    (``acm`` for ``acme``), which would gate nothing and start an audit chain of its own."""
    from registry.tables import agent

    if (await conn.execute(select(agent.c.id).where(agent.c.org_id == org_id).limit(1))).first() is not None:
        return
    orgs = (await conn.execute(select(agent.c.org_id).distinct().order_by(agent.c.org_id).limit(10))).scalars().all()
    known = f"orgs that have some: {', '.join(orgs)}" if orgs else "no org has any yet"
    raise not_found(
        f"org {org_id!r} has no agents here ({known}): check --org; a gate guards the approvals of an "
        f"org's agents, so create one first (`switchboard registry agent create SLUG --org {org_id}`)"
    )


async def set_gate(
    org_id: str,
    min_pass_rate: float | None,
    *,
    pack: str | None,
    set_by: str,
    pack_version: str | None = None,
    pack_digest: str | None = None,
) -> Gate | None:
    """Require ``min_pass_rate`` (0..1) on ``pack`` (default: the bundled one) before approvals in
    ``org_id``; None removes the requirement. With ``pack_digest``, only runs of exactly that pack
    content count."""
    check_org(org_id)
    set_by = check_actor(set_by)
    if min_pass_rate is not None and not 0.0 <= min_pass_rate <= 1.0:
        raise invalid("--min-pass-rate is a fraction between 0 and 1, e.g. 0.9")
    pack = pack or DEFAULT_PACK
    engine = await get_engine()
    now = datetime.now(UTC)
    async with write_transaction(engine) as conn:
        await _require_agents(conn, org_id)
        if (
            min_pass_rate is None
            and (await conn.execute(select(agent_eval_gate.c.org_id).where(agent_eval_gate.c.org_id == org_id))).first()
            is None
        ):
            return None  # nothing to clear: nothing changes, nothing is recorded
        await conn.execute(delete(agent_eval_gate).where(agent_eval_gate.c.org_id == org_id))
        if min_pass_rate is not None:
            await conn.execute(
                insert(agent_eval_gate).values(
                    org_id=org_id,
                    min_pass_rate=min_pass_rate,
                    pack=pack,
                    set_by=set_by,
                    set_at=now,
                    pack_version=pack_version,
                    pack_digest=pack_digest,
                )
            )
    from registry.events import record_event

    await record_event(
        GATE_SET, actor=set_by, org_id=org_id, min_pass_rate=min_pass_rate, pack=pack, pack_digest=pack_digest
    )
    return await get_gate(org_id)


async def check_approval(
    org_id: str, agent_version_id: str, ref: str, *, actor: str, override_reason: str | None = None
) -> EvalResult | None:
    """Refuse (FORBIDDEN) an approval below the org's gate unless overridden with a reason (audited)."""
    gate = await get_gate(org_id)
    if gate is None:
        return await latest_result(agent_version_id)
    latest = await latest_result(agent_version_id, gate.pack_name, digest=gate.pack_digest)
    short = latest is None or latest.pass_rate < gate.min_pass_rate
    if not short:
        return latest
    if override_reason is None:
        raise forbidden(
            f"{org_id} requires an eval pass rate of at least {gate.min_pass_rate * 100:.1f}% on "
            f"{gate.pack_line()} before approval; {ref} has {await _what_it_has(agent_version_id, gate, latest)}. "
            f"Run `switchboard eval run {ref} --org {org_id} --pack {gate.pack_name}` (the whole pack), "
            "or approve with --override-gate REASON (audited)"
        )
    reason = override_reason.strip()
    if len(reason) < 10:
        raise invalid("--override-gate needs a real reason (at least 10 characters); it goes to the audit log")
    from core.pii import mask_text
    from registry.events import record_event

    await record_event(
        GATE_OVERRIDDEN,
        actor=actor,
        org_id=org_id,
        agent_version_id=agent_version_id,
        reason=mask_text(reason[:500]),
        min_pass_rate=gate.min_pass_rate,
        eval_run=latest.id if latest else None,
        eval_pass_rate=latest.pass_rate if latest else None,
    )
    return latest


async def _what_it_has(agent_version_id: str, gate: Gate, latest: EvalResult | None) -> str:
    """What the version has instead of a passing run of the gate's pack, in words."""
    if latest is not None:
        return latest.line()
    other = await latest_result(agent_version_id, gate.pack_name)
    if other is not None and gate.pack_digest:
        return (
            f"no run of that pack content: its latest run of {gate.pack_name} used {other.line()} "
            "(the pack was changed; re-run it, or re-set the gate on the new pack)"
        )
    anything = await latest_result(agent_version_id)
    if anything is not None:
        return f"no whole run of {gate.pack_name} (its latest run, of {anything.line()}, does not count for this gate)"
    return f"no whole run of {gate.pack_name} (a run with --only is partial and is not counted)"


async def gate_before_approve(
    org_id: str, slug: str, version: int, *, actor: str, override_reason: str | None
) -> EvalResult | None:
    """The approve path's hook: the draft's latest eval result, checked against the org's gate."""
    from registry.agents import agent_version_info

    info = await agent_version_info(org_id, slug, version)
    return await check_approval(org_id, info.id, info.ref, actor=actor, override_reason=override_reason)
