"""Whether the memory store knows an org or a customer: a look-up that writes nothing, so a
typo'd ``--org`` or ``--customer`` is NOT_FOUND (or named in a hint) instead of an erase, an
access report or an empty list of nobody."""

from __future__ import annotations

from sqlalchemy import select

from servers.memory_server.db import memory_engine
from servers.memory_server.tables import memory_erasure, memory_item, memory_scope, memory_tombstone, statement_value


async def presence(org_id: str, customer_ref: str) -> tuple[bool, bool]:
    """(the memory store knows the org, it knows the customer there): memories, tombstones,
    statement values or an earlier erase. Writes nothing; ``memory erase`` and ``export`` refuse a
    typo'd org or customer with it instead of recording an erase (or a report) of nobody."""
    tables = (memory_scope, memory_item, memory_tombstone, statement_value, memory_erasure)
    engine = await memory_engine()
    async with engine.connect() as conn:

        async def any_row(customer: str | None) -> bool:
            for table in tables:
                query = select(table.c.org_id).where(table.c.org_id == org_id)
                if customer is not None:
                    query = query.where(table.c.customer_ref == customer)
                if (await conn.execute(query.limit(1))).first() is not None:
                    return True
            return False

        if not await any_row(None):
            return False, False
        return True, await any_row(customer_ref)


async def known_orgs(limit: int = 10) -> list[str]:
    """Orgs the memory store holds memories of (for a hint when a command names another)."""
    engine = await memory_engine()
    async with engine.connect() as conn:
        query = select(memory_scope.c.org_id).distinct().order_by(memory_scope.c.org_id).limit(limit)
        return [r[0] for r in (await conn.execute(query)).all()]
