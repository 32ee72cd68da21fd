"""The Alembic branch "orders" creates exactly the tables the code declares, on both backends."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from core.db import get_engine, metadata
from servers.order_server.tables import ALL_TABLES

OURS = {t.name for t in ALL_TABLES}


def _ours(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    table = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return table in OURS


async def test_migrations_match_the_table_definitions(database_url: str) -> None:
    engine = await get_engine()
    async with engine.connect() as conn:

        def diff(sync_conn: Any) -> list[Any]:
            context = MigrationContext.configure(sync_conn, opts={"compare_type": True, "include_object": _ours})
            return compare_metadata(context, metadata)

        differences = await conn.run_sync(diff)
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    assert differences == []
    assert "orders_0003" in heads
