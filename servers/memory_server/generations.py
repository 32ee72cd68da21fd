"""A scope's generation counter: bumped by every write under the scope's write lock, read to
know whether a cached index is current."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from servers.memory_server.tables import (
    memory_item,
    memory_scope,
)

FUTURE_SKEW = timedelta(minutes=10)


def now() -> datetime:
    return datetime.now(UTC)


async def _bump_generation(conn: AsyncConnection, key: tuple[str, str], at: datetime) -> int:
    if conn.dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    stmt = dialect_insert(memory_scope).values(org_id=key[0], customer_ref=key[1], generation=1, updated_at=at)
    stmt = stmt.on_conflict_do_update(
        index_elements=["org_id", "customer_ref"],
        set_={"generation": memory_scope.c.generation + 1, "updated_at": at},
    ).returning(memory_scope.c.generation)
    return int((await conn.execute(stmt)).scalar_one())


async def _generation(conn: AsyncConnection, key: tuple[str, str]) -> int:
    value = (
        await conn.execute(
            select(memory_scope.c.generation).where(
                memory_scope.c.org_id == key[0], memory_scope.c.customer_ref == key[1]
            )
        )
    ).scalar()
    return int(value or 0)


def _in_scope(key: tuple[str, str]) -> Any:
    return and_(memory_item.c.org_id == key[0], memory_item.c.customer_ref == key[1])
