"""Alembic migrations, applied on first use and by ``switchboard db upgrade``.

One Alembic environment (``core/migrations``) with one branch per package: each package keeps
its revisions in its own ``migrations`` folder, labelled with the package's name, and
``upgrade heads`` applies them all. Concurrent first runs are serialised (a file lock on
SQLite, an advisory lock on PostgreSQL).
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

ROOT = Path(__file__).resolve().parent.parent
SCRIPT_LOCATION = Path(__file__).resolve().parent / "migrations"
_PACKAGE_DIRS = (
    "servers/kit/migrations",
    "audit/migrations",
    "registry/migrations",
    "servers/order_server/migrations",
    "servers/kb_server/migrations",
    "servers/memory_server/migrations",
    "host/migrations",
)
_PG_LOCK_KEY = 0x5357_4244  # "SWBD"


def version_locations() -> list[str]:
    return [str(ROOT / d) for d in _PACKAGE_DIRS if (ROOT / d).is_dir()]


def alembic_config(connection: Any = None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(SCRIPT_LOCATION))
    cfg.set_main_option("version_locations", " ".join(version_locations()))
    cfg.set_main_option("path_separator", "space")
    cfg.attributes["connection"] = connection
    return cfg


_REVISION_RE = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_RE = re.compile(r"^down_revision\s*=\s*(.+)$", re.M)


@lru_cache(maxsize=1)
def declared_heads() -> frozenset[str]:
    """The head revisions, read straight from the migration files (no Alembic import).

    This is the start-up fast path: when the database's ``alembic_version`` rows equal these,
    nothing is imported or parsed further. Alembic itself decides whenever they differ.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for location in version_locations():
        for path in Path(location).glob("*.py"):
            source = path.read_text(encoding="utf-8")
            match = _REVISION_RE.search(source)
            if not match:
                continue
            revisions.add(match.group(1))
            down = _DOWN_RE.search(source)
            if down:
                parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down.group(1)))
    return frozenset(revisions - parents)


def _is_current_fast(sync_conn: Any) -> bool:
    from sqlalchemy import inspect

    if not inspect(sync_conn).has_table("alembic_version"):
        return False
    rows = sync_conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    return frozenset(r[0] for r in rows) == declared_heads()


def _is_current(sync_conn: Any) -> bool:
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    current = set(MigrationContext.configure(sync_conn).get_current_heads())
    return heads == current


def _upgrade(sync_conn: Any, target: str = "heads") -> None:
    from alembic import command

    command.upgrade(alembic_config(sync_conn), target)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _sqlite_path(engine: AsyncEngine) -> Path | None:
    db = engine.url.database
    return Path(db) if db and db != ":memory:" else None


async def upgrade_if_needed(engine: AsyncEngine, target: str = "heads") -> bool:
    """Bring the schema to ``target``; returns True when migrations ran."""
    async with engine.connect() as conn:
        if await conn.run_sync(_is_current_fast):
            return False
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(engine)
        lock = _file_lock(path.with_name(path.name + ".migrate.lock")) if path else _null_lock()
        with lock:
            async with engine.begin() as conn:
                if not await conn.run_sync(_is_current):
                    await conn.run_sync(_upgrade, target)
        return True
    async with engine.connect() as conn:
        await conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _PG_LOCK_KEY})
        await conn.commit()  # the session-level lock outlives this transaction
        try:
            async with conn.begin():
                if not await conn.run_sync(_is_current):
                    await conn.run_sync(_upgrade, target)
        finally:
            await conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _PG_LOCK_KEY})
            await conn.commit()
    return True


@contextmanager
def _null_lock() -> Iterator[None]:
    yield
