"""Fixtures every test package shares: a private SWITCHBOARD_HOME and a fresh database.

The database is SQLite by default. With ``SWITCHBOARD_TEST_BACKEND=postgres`` (the second pass of
``make test``) it is a fresh PostgreSQL database per test, cloned from a migrated template; the
admin URL comes from ``scripts/test-deps.sh``. Tests that use a database fixture are marked
``uses_db`` automatically, and the PostgreSQL pass runs exactly those.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

DB_FIXTURES = {"database_url", "module_database_url", "sb_env"}
BACKEND = os.environ.get("SWITCHBOARD_TEST_BACKEND", "sqlite")

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("FASTMCP_SHOW_SERVER_BANNER", "false")
os.environ.setdefault("FASTMCP_ENABLE_RICH_LOGGING", "false")
os.environ.setdefault("FASTMCP_LOG_LEVEL", "ERROR")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.uses_db)


def _pg_admin_url() -> str:
    url = os.environ.get("SWITCHBOARD_TEST_PG_ADMIN_URL")
    if not url:
        raise RuntimeError(
            "SWITCHBOARD_TEST_BACKEND=postgres needs SWITCHBOARD_TEST_PG_ADMIN_URL (scripts/test-deps.sh)"
        )
    return url


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(_pg_admin_url())
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _drop_database(url: str) -> None:
    if BACKEND == "postgres":
        name = url.rsplit("/", 1)[1]
        await _pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _pg_url(dbname: str) -> str:
    base = _pg_admin_url().rsplit("/", 1)[0]
    return f"postgresql+asyncpg://{base.split('://', 1)[1]}/{dbname}"


def _apply_env(home: Path, url: str) -> dict[str, str | None]:
    saved = {k: os.environ.get(k) for k in ("SWITCHBOARD_HOME", "SWITCHBOARD_DATABASE_URL")}
    os.environ["SWITCHBOARD_HOME"] = str(home)
    os.environ["SWITCHBOARD_DATABASE_URL"] = url
    from core.settings import reload_settings

    reload_settings()
    return saved


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    from core.settings import reload_settings

    reload_settings()


async def _migrate(url: str) -> None:
    from core.db import dispose_engines, get_engine

    await get_engine(url)
    await dispose_engines()


@pytest.fixture(scope="session")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database to clone: a SQLite file, or a PostgreSQL template database name."""
    if BACKEND == "postgres":
        name = f"sbt_template_{uuid.uuid4().hex[:8]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
        try:
            asyncio.run(_migrate(_pg_url(name)))
            yield name
        finally:
            asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    asyncio.run(_migrate(f"sqlite+aiosqlite:///{path}"))
    yield str(path)


async def _fresh_database(template: str, home: Path) -> str:
    if BACKEND == "postgres":
        name = f"sbt_{uuid.uuid4().hex[:12]}"
        await _pg_exec(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return _pg_url(name)
    home.mkdir(parents=True, exist_ok=True)
    target = home / "switchboard.db"
    shutil.copyfile(template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def database_url(template_database: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database for one test; SWITCHBOARD_* env points at it."""
    home = tmp_path / "sbhome"
    url = await _fresh_database(template_database, home)
    saved = _apply_env(home, url)
    try:
        yield url
    finally:
        from core.db import dispose_engines

        await dispose_engines()
        _restore_env(saved)
        await _drop_database(url)


@pytest.fixture(scope="module")
def module_database_url(template_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh database shared by one test module (for servers spawned once per module)."""
    home = tmp_path_factory.mktemp("sbhome")
    url = asyncio.run(_fresh_database(template_database, home))
    saved = _apply_env(home, url)
    try:
        yield url
    finally:
        _restore_env(saved)
        asyncio.run(_drop_database(url))


@pytest.fixture
def sb_env(database_url: str) -> dict[str, str]:
    """The environment a spawned Switchboard process needs to see this test's data."""
    return {
        "SWITCHBOARD_HOME": os.environ["SWITCHBOARD_HOME"],
        "SWITCHBOARD_DATABASE_URL": database_url,
        "ANONYMIZED_TELEMETRY": "False",
        "FASTMCP_SHOW_SERVER_BANNER": "false",
        "FASTMCP_ENABLE_RICH_LOGGING": "false",
        "FASTMCP_LOG_LEVEL": "ERROR",
    }
