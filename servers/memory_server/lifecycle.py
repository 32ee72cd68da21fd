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
    from servers.memory_server.service import get_service
    from servers.memory_server.vectors import VectorWorker
    from servers.retrieval.warmup import warm_up_in_background

    service = get_service()
    started = False
    warm = warm_up_in_background(embed=service.vectors)
    if service.vectors and service.worker is None:
        service.worker = VectorWorker(service)
        try:
            await service.worker.start()
            started = True
        except Exception as exc:
            log.warning("memory vector worker did not start: %s", type(exc).__name__)
            service.worker = None
    try:
        yield {"memory_service": service}
    finally:
        warm.cancel()
        if started and service.worker is not None:
            await service.worker.stop()
            service.worker = None
