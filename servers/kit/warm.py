"""Background start-up work that never delays the MCP handshake.

Loading the Korean analyser (kiwi: its constructor holds the GIL for ~0.7 s in one piece, even in
a worker thread; the search servers load it in a helper process instead, see
servers/retrieval/kiwi_process.py) and the e5 model, and importing the data layer (SQLAlchemy,
numpy, chromadb: ~0.5-1 s of mostly GIL-bound work), would make a server that does them while a client
is connecting answer ``initialize`` and ``tools/list`` seconds late (openai-agents' default 5 s
timeout then fails). So the rule for every server: the module that builds it and its tool
contracts (argument and result models) import only FastMCP, pydantic and light helpers; heavy
modules are imported inside tool bodies or by a background job (tests/servers/kit/
test_startup_imports.py checks it). Servers hand such work to :func:`after_handshake`: it
starts once the first ``tools/list`` has been answered (the kit's middleware calls :func:`mark_listed`), or after
:data:`GRACE_S` when no client lists tools (e.g. a client that only calls a known tool).

A client that wants the server warm before its first real call reads the resource
:data:`WARM_URI`: the read returns once every background job has finished (the host does this
when it connects, see host/pool.py). Reading it also starts the jobs at once.

A tool call that arrives while the jobs run waits for them first (:func:`settle`, called by the
kit's middleware; once per event loop): the call's own first imports run on the event loop's
thread, and two threads importing overlapping modules can fail. Seen on a slow start (the order
server under callgrind): the data-layer job died with "cannot import name 'AdaptedConnection'
from partially initialized module 'sqlalchemy.engine'" while the first call's audit hook imported
SQLAlchemy; the call itself could as well have been the one to fail.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("switchboard.kit.warm")

WARM_URI = "switchboard://status/warm"
GRACE_S = float(os.environ.get("SWITCHBOARD_WARM_GRACE_S", "1.0"))
WAIT_S = 25.0  # below the clients' usual 30 s request timeout


class _State:
    def __init__(self) -> None:
        self.listed = asyncio.Event()
        self.jobs: list[asyncio.Task[Any]] = []
        self.started_at = time.monotonic()
        self.settled = False  # a tool call has waited for the jobs once: later calls do not


# one state per event loop: an asyncio.Event is bound to the loop that first waits on it
_states: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _State] = weakref.WeakKeyDictionary()


def _state() -> _State:
    loop = asyncio.get_running_loop()
    state = _states.get(loop)
    if state is None:
        state = _states[loop] = _State()
    return state


def mark_listed() -> None:
    """The first ``tools/list`` was answered (or a client asked to warm up): start the jobs."""
    with contextlib.suppress(RuntimeError):  # no running loop: nothing is waiting
        _state().listed.set()


def after_handshake(name: str, job: Callable[[], Awaitable[Any]]) -> asyncio.Task[Any]:
    """Run ``job`` once the handshake is over; failures are logged, never raised."""

    state = _state()

    async def run() -> Any:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(state.listed.wait(), timeout=GRACE_S)
        await asyncio.sleep(0.05)  # let the tools/list response reach the client first
        try:
            return await job()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a missing model must not stop the server: search reports it
            log.warning("background start-up job %s failed: %s: %s", name, type(exc).__name__, exc)
            return None

    task = asyncio.create_task(run(), name=f"switchboard-warm-{name}")
    state.jobs.append(task)
    task.add_done_callback(lambda t: state.jobs.remove(t) if t in state.jobs else None)
    return task


async def wait_warm(timeout: float = WAIT_S) -> dict[str, Any]:
    """Start the jobs now and wait for them; what :data:`WARM_URI` returns."""
    mark_listed()
    state = _state()
    jobs = list(state.jobs)
    if jobs:
        await asyncio.wait(jobs, timeout=timeout)
    pending = [t.get_name() for t in state.jobs if not t.done()]
    return {"warm": not pending, "pending": pending, "uptime_s": round(time.monotonic() - state.started_at, 3)}


def unsettled() -> bool:
    """True while the start-up jobs of this loop may still be importing (before :func:`settle`)."""
    try:
        state = _states.get(asyncio.get_running_loop())
    except RuntimeError:
        return False
    return state is not None and not state.settled


async def settle(timeout: float | None = None) -> None:
    """Wait (once per loop) for the start-up jobs before a tool call runs, starting them now if
    they still wait for the handshake; a job that outlasts ``timeout`` no longer holds calls."""
    state = _state()
    if state.jobs:
        await wait_warm(WAIT_S if timeout is None else timeout)
    state.settled = True


def register_warm_resource(server: Any) -> None:
    """Add the :data:`WARM_URI` resource (not a tool: the registry's tool pins are unchanged)."""
    import json

    @server.resource(WARM_URI, name="warm", mime_type="application/json")
    async def warm() -> str:
        """Returns once the server's models are loaded and its start-up jobs are done."""
        return json.dumps(await wait_warm())
