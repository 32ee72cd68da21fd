"""Server start and stop: warm the tokenizer and the embedder, run the background vector worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastmcp.server.lifespan import lifespan

log = logging.getLogger("switchboard.memory")


@lifespan
async def memory_lifespan(server: Any) -> AsyncIterator[dict[str, Any]]:
    """Start the vector worker for this process's database; stop it when the server stops."""
    from servers.kit.warm import after_handshake
    from servers.memory_server.service import get_service
    from servers.memory_server.vectors import VectorWorker
    from servers.retrieval.warmup import warm_up_in_background

    service = get_service()
    warm = warm_up_in_background(embed=service.vectors)

    async def start_worker() -> None:
        if service.vectors and service.worker is None:
            worker = VectorWorker(service)
            try:
                await worker.start()
                service.worker = worker
            except Exception as exc:
                log.warning("memory vector worker did not start: %s", type(exc).__name__)

    # after the handshake, so initialize and tools/list are answered at once
    starting = after_handshake("vector-worker", start_worker)
    try:
        yield {"memory_service": service}
    finally:
        warm.cancel()
        starting.cancel()
        if service.worker is not None:
            await service.worker.stop()
            service.worker = None
