"""Fixtures for the audit tests: a fresh database whose appenders are closed after each test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest


@pytest.fixture
async def audit_db(database_url: str) -> AsyncIterator[str]:
    """A fresh migrated database (SQLite or PostgreSQL); the audit appenders close afterwards."""
    yield database_url
    from audit import close

    await close()
