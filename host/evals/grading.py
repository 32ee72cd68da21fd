"""Grading a scenario run by its outcome: the final database state and the actions taken.

Each check compares an expectation with what the tenant's tables hold after the call (refund
rows, memories and their status, review items), with the tool calls that went through the
gateway, and with what the agent said (escalation, KB citations of the pinned version). Every
stored record of the session (conversation records, memories, audit) is scanned for raw
personal data. A failed check carries the expected and actual values: that is the diff.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from core.db import get_engine
from core.pii import detect


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    ok: bool
    expected: Any
    actual: Any

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "ok": self.ok, "expected": self.expected, "actual": self.actual}


def tool_base(name: str) -> str:
    """``orders__request_refund`` → ``request_refund`` (exposed names carry the server prefix)."""
    return name.split("__", 1)[-1]


async def refund_counts(org_id: str, order_ids: list[str]) -> dict[str, int]:
    from servers.order_server.tables import refund

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(refund.c.order_id, func.count())
            .where(refund.c.org_id == org_id, refund.c.order_id.in_(order_ids))
            .group_by(refund.c.order_id)
        )
        found = {r[0]: int(r[1]) for r in rows}
    return {o: found.get(o, 0) for o in order_ids}


async def memory_rows(org_id: str, customer: str) -> list[dict[str, Any]]:
    from servers.memory_server.tables import memory_item as memory

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(memory.c.text, memory.c.status).where(memory.c.org_id == org_id, memory.c.customer_ref == customer)
        )
        return [{"text": r[0], "status": r[1]} for r in rows]


async def session_records(org_id: str, session_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every stored row of the session (records, review items) and the org's audit events.

    Sealed audit payloads are opened: what must hold no raw personal data is the text under the
    seal. (Scanning the ciphertext instead checks nothing, and its base64 now and then reads as a
    value: "/CvC…123" is a CVC label and three digits to the detector.)
    """
    from audit.schema import audit_event
    from audit.sealing import Opener
    from host.records import event_logs, review_queue, sessions, turns

    engine = await get_engine()
    out: dict[str, list[dict[str, Any]]] = {}
    async with engine.connect() as conn:
        for name, table, col in (
            ("sessions", sessions, sessions.c.id),
            ("turns", turns, turns.c.session_id),
            ("event_logs", event_logs, event_logs.c.session_id),
            ("review_queue", review_queue, review_queue.c.session_id),
        ):
            rows = await conn.execute(select(table).where(col == session_id))
            out[name] = [dict(r._mapping) for r in rows]
        rows = await conn.execute(select(audit_event).where(audit_event.c.org_id == org_id))
        opener = Opener()
        out["audit_event"] = [opener.open_row(r._mapping) for r in rows]
    return out


def raw_pii(records: dict[str, list[dict[str, Any]]]) -> list[str]:
    """``table.column: kind`` for every stored value that still holds raw personal data."""
    found = []
    for name, rows in records.items():
        for row in rows:
            for col, value in row.items():
                if value is None or col.endswith(("_hmac", "_sha256", "_hash", "hash")) or col == "prev_hash":
                    continue
                text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
                for m in detect(text):
                    found.append(f"{name}.{col}: {m.kind}")
    return sorted(set(found))


async def grade(
    *,
    expect: dict[str, Any],
    org_id: str,
    customer: str | None,
    session_id: str,
    calls: list[dict[str, Any]],
    transcript: list[dict[str, Any]],
    kb_version: str,
    extra_pii_texts: list[str] | None = None,
) -> list[Check]:
    checks: list[Check] = []
    called = [tool_base(c["exposed_name"]) for c in calls]
    succeeded = [tool_base(c["exposed_name"]) for c in calls if c.get("ok")]
    for name in expect.get("actions_required") or []:
        checks.append(Check(f"action {name} succeeded", name in succeeded, "called, ok", sorted(set(succeeded))))
    for name in expect.get("actions_forbidden") or []:
        checks.append(Check(f"action {name} was not called", name not in called, "not called", sorted(set(called))))
    if "refund_rows" in expect:
        want = {str(k): int(v) for k, v in expect["refund_rows"].items()}
        have = await refund_counts(org_id, list(want))
        checks.append(Check("refund rows", have == want, want, have))
    if expect.get("memories"):
        rows = await memory_rows(org_id, customer) if customer else []
        for item in expect["memories"]:
            matching = [r["status"] for r in rows if item["contains"] in r["text"]]
            ok = not matching if item["status"] == "absent" else item["status"] in matching
            checks.append(Check(f"memory '{item['contains']}'", ok, item["status"], matching or "absent"))
    records = await session_records(org_id, session_id)
    if "review_items" in expect:
        n = len(records["review_queue"])
        checks.append(Check("review items", n == expect["review_items"], expect["review_items"], n))
    agent = [t for t in transcript if t["role"] == "agent"]
    if "escalated" in expect:
        escalated = any(t.get("escalated") for t in agent)
        checks.append(Check("escalated", escalated == expect["escalated"], expect["escalated"], escalated))
    if "cites_kb" in expect:
        refs = [r for t in agent for r in t.get("kb_references") or []]
        versions = sorted({str(r.get("version")) for r in refs})
        ok = bool(refs) and versions == [kb_version] if expect["cites_kb"] else not refs
        checks.append(
            Check("KB citation of the pinned version", ok, f"v{kb_version}" if expect["cites_kb"] else "none", versions)
        )
    said = "\n".join(t.get("text") or "" for t in agent)
    folded = said.casefold()  # "Sorry, …" says "sorry"; Korean is unaffected
    for text in expect.get("answer_contains") or []:
        checks.append(Check(f"agent said '{text}'", text.casefold() in folded, text, said[-300:]))
    for text in expect.get("answer_excludes") or []:
        present = text.casefold() in folded
        checks.append(Check(f"agent never said '{text}'", not present, "absent", "present" if present else "absent"))
    if expect.get("no_raw_pii", True):
        leaks = raw_pii(records)
        if customer:
            leaks += [f"memories: {m.kind}" for r in await memory_rows(org_id, customer) for m in detect(r["text"])]
        checks.append(Check("no raw personal data stored", not leaks, [], sorted(set(leaks))))
    return checks
