"""Test helper: does a package's migration create exactly the tables its code defines?"""

from __future__ import annotations

from typing import Any


async def migration_differences(tables: set[str]) -> tuple[list[Any], tuple[str, ...]]:
    """(Alembic's differences between the migrated database and ``metadata`` for ``tables``, the heads)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from core.db import get_engine, metadata

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = obj.name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table in tables

    engine = await get_engine()
    async with engine.connect() as conn:
        differences = await conn.run_sync(
            lambda c: compare_metadata(
                MigrationContext.configure(c, opts={"compare_type": True, "include_object": include}), metadata
            )
        )
        heads = await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads())
    return differences, tuple(heads)
