"""Warm the pinned servers before the first customer speaks.

Switchboard's servers load their models (Korean analyser, embedder) in the background after
the MCP handshake; reading their ``switchboard://status/warm`` resource waits until that is
done (servers/kit/warm.py). A server without that resource (a third-party one) counts as warm.
`switchboard host` warms the newest approved version of every agent of its default org at
start-up and reports ``ready`` on ``/healthz`` only afterwards; `switchboard demo` warms
cs-agent before the scripted call.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from host.connections import ServerConnection
    from host.runtime import HostRuntime

log = logging.getLogger("switchboard.host.warmup")
WARM_URI = "switchboard://status/warm"


async def warm_connection(conn: ServerConnection, timeout_s: float) -> dict[str, Any]:
    """``{"warm": bool, "seconds": float}`` for one connected server (never raises)."""
    started = time.perf_counter()
    client = conn.client
    try:
        contents = await asyncio.wait_for(client.read_resource_mcp(WARM_URI), timeout=timeout_s)
        body = json.loads(contents.contents[0].text)
        warm = bool(body.get("warm"))
    except TimeoutError:
        warm = False
    except Exception as exc:  # a server without the resource has nothing to warm
        log.debug("%s: no warm-up resource (%s)", conn.label, type(exc).__name__)
        warm = True
    return {"warm": warm, "seconds": round(time.perf_counter() - started, 3)}


async def warm_org(runtime: HostRuntime, org_id: str) -> dict[str, Any]:
    """Connect and warm the newest approved version of every agent of ``org_id``."""
    from registry.agents import list_agents

    out: dict[str, Any] = {}
    for agent in await list_agents(org_id):
        try:
            out[agent.slug] = await runtime.warm(org_id, agent.slug)
        except Exception as exc:  # no approved version yet, a server down: the session reports it
            out[agent.slug] = {"error": getattr(exc, "message", None) or type(exc).__name__}
            log.warning("warm-up of %s/%s: %s", org_id, agent.slug, out[agent.slug]["error"])
    await warm_analysers()
    return out


async def warm_analysers() -> None:
    """Load the host's own Korean analysers before the first customer speaks.

    Loading one holds the interpreter for a second or two, which mid-traffic stalls every session
    of a worker (a background load at session start lost the failover tests' WebSockets: 66ac3fc,
    reverted), so `switchboard host` does it before /healthz says ready, and `chat` and `demo`
    before the first turn. One reads confirmation replies (in process). The other is the KB's
    tokenizer, with which the answerability check (host/answer.py) reads a question's content
    words as the KB's BM25 does: `switchboard host` runs it in kiwi's helper process
    (servers/retrieval/kiwi_process.py, started by the app), so its load never holds the worker's
    interpreter; `chat` and `demo`, with one customer and no health checks, load it in process.
    """
    from host import replies
    from servers.retrieval import korean

    await asyncio.to_thread(korean.backend)  # with the helper: waits in a thread, the GIL free
    await asyncio.to_thread(replies.load)
