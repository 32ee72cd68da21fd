"""Reading the audit log: records in seq order, chain heads, prunes, searches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from sqlalchemy import func, select

from audit.record import RECORD_FIELDS, AuditRecord
from audit.schema import audit_chain_head, audit_event, audit_prune, audit_value_hmac
from audit.sealing import Opener
from audit.subjects import value_hmac_keys
from core.db import get_engine, is_sqlite
from core.errors import SwitchboardError, invalid
from core.ids import resolve_id
from core.pii import detect
from core.redaction import hmac_normalized

PAGE = 2000
TEXT_SCAN_LIMIT = 100_000
DIGEST_CHUNK = 500  # value digests per query (one per customer key of the org)
_COLUMNS = [audit_event.c[name] for name in RECORD_FIELDS]


async def settled_engine() -> Any:
    """The database, once every record this event loop acknowledged is in it: a server's tool-call
    records wait in its journal for a paced commit (``audit/journal.py``), and a reader in the same
    process sees its own writes."""
    from audit.appender import flush_appenders

    await flush_appenders()
    return await get_engine()


async def list_orgs() -> list[str]:
    """Every org with a chain (or records)."""
    engine = await settled_engine()
    async with engine.connect() as conn:
        heads = set((await conn.execute(select(audit_chain_head.c.org_id))).scalars())
        heads |= set((await conn.execute(select(audit_event.c.org_id).distinct())).scalars())
    return sorted(heads)


async def chain_head(org_id: str) -> tuple[int, str] | None:
    """``(seq, head_hash)`` of the org's chain head row, or None."""
    engine = await settled_engine()
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(audit_chain_head.c.seq, audit_chain_head.c.head_hash).where(audit_chain_head.c.org_id == org_id)
            )
        ).first()
    return (row.seq, row.head_hash) if row else None


async def prunes(org_id: str) -> list[dict[str, Any]]:
    """The org's prune rows, oldest first."""
    engine = await settled_engine()
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(audit_prune).where(audit_prune.c.org_id == org_id).order_by(audit_prune.c.through_seq)
        )
        return [dict(r._mapping) for r in rows]


async def iter_rows(
    org_id: str, *, from_seq: int = 1, to_seq: int | None = None, page: int = PAGE
) -> AsyncIterator[dict[str, Any]]:
    """The org's stored rows with ``from_seq <= seq <= to_seq``, in seq order, a page at a time."""
    engine = await settled_engine()
    cursor = from_seq - 1
    while True:
        query = select(*_COLUMNS).where(audit_event.c.org_id == org_id, audit_event.c.seq > cursor)
        if to_seq is not None:
            query = query.where(audit_event.c.seq <= to_seq)
        query = query.order_by(audit_event.c.seq).limit(page)
        async with engine.connect() as conn:
            rows = [dict(r) for r in (await conn.execute(query)).mappings().all()]
        for row in rows:
            yield row
        if len(rows) < page:
            return
        cursor = rows[-1]["seq"]


VERIFY_PAGE = 5000


async def iter_row_pages(
    org_id: str, *, from_seq: int = 1, to_seq: int | None = None, page: int = VERIFY_PAGE
) -> AsyncIterator[list[dict[str, Any]]]:
    """Like :func:`iter_rows`, a page (list) at a time, on the fastest read path (for ``verify``).

    SQLite: a read-only stdlib ``sqlite3`` connection in a worker thread (no ORM row objects);
    PostgreSQL: plain tuples from the shared engine. The next page is already being read while
    the caller checks this one (keyset pages: each starts after the last seq of the one before,
    whose end is known from the query's bounds once it is full).
    """
    import asyncio

    engine = await settled_engine()
    high = to_seq if to_seq is not None else 2**62
    if is_sqlite(engine):
        import sqlite3

        path = engine.url.database or ""
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
        sql = (
            f"SELECT {', '.join(RECORD_FIELDS)} FROM audit_event WHERE org_id = ? AND seq > ? AND seq <= ? "
            "ORDER BY seq LIMIT ?"
        )

        def fetch_sync(after: int) -> list[dict[str, Any]]:
            rows = conn.execute(sql, (org_id, after, high, page)).fetchall()
            return [dict(zip(RECORD_FIELDS, r, strict=True)) for r in rows]

        async def fetch(after: int) -> list[dict[str, Any]]:
            return await asyncio.to_thread(fetch_sync, after)

        try:
            async for rows in _prefetched(fetch, from_seq - 1, page):
                yield rows
        finally:
            conn.close()
        return

    async def fetch_pg(after: int) -> list[dict[str, Any]]:
        query = (
            select(*_COLUMNS)
            .where(audit_event.c.org_id == org_id, audit_event.c.seq > after, audit_event.c.seq <= high)
            .order_by(audit_event.c.seq)
            .limit(page)
        )
        async with engine.connect() as conn:
            return [dict(zip(RECORD_FIELDS, r, strict=True)) for r in (await conn.execute(query)).tuples()]

    async for rows in _prefetched(fetch_pg, from_seq - 1, page):
        yield rows


async def _prefetched(fetch: Any, cursor: int, page: int) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages from ``fetch(after_seq)``, the next one requested before the current one is handed out."""
    import asyncio

    pending = asyncio.ensure_future(fetch(cursor))
    try:
        while True:
            rows = await pending
            if len(rows) < page:
                if rows:
                    yield rows
                return
            pending = asyncio.ensure_future(fetch(rows[-1]["seq"]))
            await asyncio.sleep(0)  # let the next request go out before the caller's CPU-bound work
            yield rows
    finally:  # the caller stopped early: let the read in flight finish before its connection closes
        if not pending.done():
            await asyncio.wait({pending})
        if not pending.cancelled():
            pending.exception()  # retrieved: a failed read-ahead nobody waits for is not an error


async def iter_records(org_id: str, *, from_seq: int = 1, to_seq: int | None = None) -> AsyncIterator[AuditRecord]:
    """Like :func:`iter_rows`, as :class:`AuditRecord` objects."""
    async for row in iter_rows(org_id, from_seq=from_seq, to_seq=to_seq):
        yield AuditRecord.from_row(row)


async def get_record(org_id: str, seq: int) -> AuditRecord | None:
    engine = await settled_engine()
    async with engine.connect() as conn:
        row = (
            (await conn.execute(select(*_COLUMNS).where(audit_event.c.org_id == org_id, audit_event.c.seq == seq)))
            .mappings()
            .first()
        )
    return AuditRecord.from_row(row) if row else None


async def first_seq_at_or_after(org_id: str, occurred_at: str) -> int | None:
    """The lowest seq whose ``occurred_at`` is at or after the given timestamp."""
    engine = await settled_engine()
    async with engine.connect() as conn:
        return (
            await conn.execute(
                select(func.min(audit_event.c.seq)).where(
                    audit_event.c.org_id == org_id, audit_event.c.occurred_at >= occurred_at
                )
            )
        ).scalar()


async def seq_bounds(org_id: str) -> tuple[int | None, int | None]:
    """(lowest, highest) stored seq of the org."""
    engine = await settled_engine()
    async with engine.connect() as conn:
        row = (
            await conn.execute(
                select(func.min(audit_event.c.seq), func.max(audit_event.c.seq)).where(audit_event.c.org_id == org_id)
            )
        ).first()
    return (row[0], row[1]) if row else (None, None)


async def tail(org_id: str | None = None, *, limit: int = 20, after: dict[str, int] | None = None) -> list[AuditRecord]:
    """The newest records (per org when ``org_id`` is given), oldest first.

    With ``after`` (org → seq) only records past those seqs are returned (for ``--follow``).
    """
    engine = await settled_engine()
    query = select(*_COLUMNS)
    if org_id is not None:
        query = query.where(audit_event.c.org_id == org_id)
    if after:
        from sqlalchemy import and_, or_

        known = [and_(audit_event.c.org_id == org, audit_event.c.seq > seq) for org, seq in after.items()]
        query = query.where(or_(audit_event.c.org_id.not_in(list(after)), *known))
    query = query.order_by(audit_event.c.occurred_at.desc(), audit_event.c.seq.desc()).limit(limit)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [AuditRecord.from_row(r) for r in reversed(rows)]


async def _full_id(engine: Any, given: str, known: Any, what: str) -> str:
    """A printed prefix widened to the one id it names; an ambiguous prefix is refused with the matches.

    An id no record carries stays as given, so the search simply finds nothing.
    """
    async with engine.connect() as conn:
        try:
            return await resolve_id(conn, given, known, what=what)
        except SwitchboardError as err:
            if "matches" in err.details:
                raise
            return given


async def find(
    *,
    value: str | None = None,
    text: str | None = None,
    org_id: str | None = None,
    trace_id: str | None = None,
    session_id: str | None = None,
    tool_name: str | None = None,
    event_type: str | None = None,
    since: str | None = None,
    customer_ref: str | None = None,
    limit: int = 100,
    scan_limit: int = TEXT_SCAN_LIMIT,
) -> list[AuditRecord]:
    """Records matching every given filter, newest last.

    ``value`` is an exact personal value (``010-1234-5678``): it is matched through the keyed
    HMACs (the org's, and each customer's own: see audit/subjects.py), never stored or compared
    in the clear; an erased customer's values are no longer found. ``text`` searches the opened
    (decrypted) redacted payloads of at most ``scan_limit`` newest records per org matching the
    other filters: payloads are sealed, so the database cannot search them.
    """
    if not any((value, text, trace_id, session_id, tool_name, event_type, since, customer_ref)):
        raise invalid(
            "give at least one filter: --value, --text, --trace, --session, --tool, --type, --customer or --since"
        )
    normalized = _personal_value(value) if value is not None else None
    orgs = [org_id] if org_id else await list_orgs()
    filters = []
    engine = await settled_engine()
    for column, given, what in (
        (audit_event.c.trace_id, trace_id, "trace"),
        (audit_event.c.session_id, session_id, "session"),
    ):
        if given:  # the full id, or a prefix as a table printed it
            known = select(column).distinct()
            if org_id:
                known = known.where(audit_event.c.org_id == org_id)
            filters.append(column == await _full_id(engine, given, known, what))
    if tool_name:
        filters.append(audit_event.c.tool_name == tool_name)
    if event_type:
        filters.append(audit_event.c.event_type == event_type)
    if since:
        filters.append(audit_event.c.occurred_at >= since)
    if customer_ref:
        filters.append(audit_event.c.customer_ref == customer_ref)
    found: list[AuditRecord] = []
    opener = Opener()
    async with engine.connect() as conn:
        for org in orgs:
            base = select(*_COLUMNS).where(audit_event.c.org_id == org, *filters)
            queries = [base]
            if value is not None:  # one digest per key that may have sealed the value, in chunks
                digests = [hmac_normalized(k, normalized or "") for k in value_hmac_keys(org, customer_ref)]
                queries = [
                    base.where(
                        audit_event.c.seq.in_(
                            select(audit_value_hmac.c.seq).where(
                                audit_value_hmac.c.org_id == org,
                                audit_value_hmac.c.hmac.in_(digests[start : start + DIGEST_CHUNK]),
                            )
                        )
                    )
                    for start in range(0, len(digests), DIGEST_CHUNK)
                ]
            for query in queries:
                query = query.order_by(audit_event.c.seq.desc()).limit(scan_limit if text else limit)
                rows = (await conn.execute(query)).mappings().all()
                if text:
                    rows = [r for r in rows if _contains(opener.open_fields(r), text)][:limit]
                found.extend(AuditRecord.from_row(r) for r in rows)
    found = list({(r.org_id, r.seq): r for r in found}.values())
    found.sort(key=lambda r: (r.occurred_at, r.org_id, r.seq))
    return found[-limit:]


def _personal_value(value: str) -> str:
    """The normalised form of the one personal value in ``value`` (else INVALID_ARGUMENT)."""
    matches = detect(value.strip())
    if len(matches) != 1:
        raise invalid(
            "--value finds one personal value (a phone, card, account or resident number, or an e-mail) "
            "by its keyed hash; "
            + ("give one value at a time" if matches else "this is not personal data, so search it with --text")
        )
    return matches[0].normalized


def _contains(opened: dict[str, str | None], text: str) -> bool:
    return any(value is not None and text in value for value in opened.values())


def records_to_dicts(records: Sequence[AuditRecord]) -> list[dict[str, Any]]:
    return [r.to_dict() for r in records]
