"""Fixtures for the order server tests: a seeded shop and in-memory servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.servers.orders.support import DEMO, seed_shop


@pytest.fixture(autouse=True)
def _close_readers() -> Any:
    """The SQLite read connections are per process: close them after each test."""
    yield
    from servers.order_server.store import close_readers

    close_readers()


@pytest.fixture
async def shop(database_url: str) -> AsyncIterator[str]:
    """A fresh database with the demo shop in "demo" and one "acme" order."""
    await seed_shop()
    yield database_url


@pytest.fixture
def make_server() -> Callable[..., Any]:
    """Build the order server for a launch identity, without production hooks."""
    from servers.kit import ServerLaunch
    from servers.order_server.app import build_server

    def _make(org: str | None = DEMO, customer: str | None = None, trust_meta: bool = False) -> Any:
        return build_server(launch=ServerLaunch(org_id=org, customer_ref=customer, trust_meta=trust_meta), hooks=[])

    return _make
