"""Registry tests: ``db`` is the shared fresh-database fixture plus a clean audit-log shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[str]:
    """A fresh migrated database (SQLite, or PostgreSQL in the second pass); the audit log's
    appenders are closed before it goes away."""
    yield database_url
    from audit import close

    await close()
