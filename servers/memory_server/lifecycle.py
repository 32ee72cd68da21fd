"""Server start and stop: warm the tokenizer and the embedder, run the background vector worker.

Nothing heavy happens before the MCP handshake: the service (SQLAlchemy, numpy, the index) is
opened in a worker thread once the first ``tools/list`` is answered (servers/kit/warm.py), so
``initialize`` and ``tools/list`` are as quick as a bare FastMCP server's.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastmcp.server.lifespan import lifespan

log = logging.getLogger("switchboard.memory")


def _import_data_layer() -> Any:
    """The service and vector worker modules (SQLAlchemy, numpy, the index)."""
    importlib.import_module("servers.memory_server.vectors")
    return importlib.import_module("servers.memory_server.service")


@lifespan
async def memory_lifespan(server: Any) -> AsyncIterator[dict[str, Any]]:
    """Start the vector worker for this process's database; stop it when the server stops."""
    from servers.kit.warm import after_handshake
    from servers.retrieval.warmup import load_analyser_in_thread, warm_up

    opened: list[Any] = []

    async def start_worker(service: Any) -> None:
        if service.vectors and service.worker is None:
            from servers.memory_server.vectors import VectorWorker

            worker = VectorWorker(service)
            # attached before the backlog is read: a memory written while the backlog query runs is
            # enqueued by its writer (attached after, it was in neither and had no vector until restart)
            service.worker = worker
            try:
                await worker.start()
            except Exception as exc:
                service.worker = None
                log.warning("memory vector worker did not start: %s", type(exc).__name__)

    async def start() -> None:
        # import off the event loop (one thread at a time), create on it like the tools do
        # (get_service is not thread-safe); kiwi loads meanwhile in its own thread
        load_analyser_in_thread()
        module = await asyncio.to_thread(_import_data_layer)
        service = module.get_service()
        opened.append(service)
        try:
            await asyncio.to_thread(warm_up, embed=service.vectors)
        except Exception as exc:  # a missing model: search reports it; the worker still runs
            log.warning("memory warm-up failed: %s", type(exc).__name__)
        await start_worker(service)

    starting = after_handshake("models", start)
    try:
        yield {}
    finally:
        starting.cancel()
        for service in opened:
            if service.worker is not None:
                await service.worker.stop()
                service.worker = None
