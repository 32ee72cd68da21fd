"""One ``switchboard host`` process among several: heartbeat, database health, admission.

Workers keep no conversation state of their own (sessions, turns and pending confirmations
live in the database), so any worker behind the balancer can carry on any session. What a
worker does keep is whether it can reach that database: a heartbeat (``host_worker`` row,
every ``heartbeat_s``) doubles as the health probe. When it fails, the worker stops accepting
turns (``UNAVAILABLE``, saying why and what to do) and ``/healthz`` answers 503 with the
reason, so the balancer takes the worker out of rotation; when the database answers again, the
worker comes back by itself.

Admission, before each client message that starts work: the database must be reachable, and
the tenant's turn must fit the shared per-minute limit (host/limits.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import update

from core.db import get_engine
from core.errors import unavailable
from host import limits, ownership
from host.clustertables import host_worker
from host.limits import LimitSettings

log = logging.getLogger("switchboard.host.worker")

PROBE_TIMEOUT_S = 5.0
FAILURES_TO_STOP = 2  # one slow probe (a busy interpreter, e.g. a model loading) is not a lost database
TURN_MESSAGES = ("user.message", "confirmation.response")


def _env_float(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name) or default)
    except ValueError:
        return default


@dataclass
class Worker:
    """This process's identity among the workers, and whether it may take turns now."""

    address: str | None = None
    limits: LimitSettings = field(default_factory=LimitSettings.from_env)
    heartbeat_s: float = field(default_factory=lambda: _env_float("SWITCHBOARD_HOST_HEARTBEAT_S", 2.0))
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}")
    database_ok: bool = False
    database_error: str | None = "not checked yet"
    last_ok: float | None = None
    _task: asyncio.Task[None] | None = None
    _registered: bool = False
    _beats: int = 0
    _failures: int = 0

    async def start(self) -> None:
        """Register and start the heartbeat (a database down at start is retried by it)."""
        await self.beat()
        self._task = asyncio.create_task(self._loop(), name="switchboard-host-heartbeat")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            await self.beat()

    async def beat(self) -> None:
        """One heartbeat: register or refresh this worker's row; its success is the health probe."""
        try:
            await asyncio.wait_for(self._write_heartbeat(), PROBE_TIMEOUT_S)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {str(exc)[:160]}" if str(exc) else type(exc).__name__
            self._failures += 1
            if self._failures < FAILURES_TO_STOP and self.last_ok is not None:
                return
            if self.database_ok or self.database_error == "not checked yet":
                log.error("worker %s lost its database (%s): not accepting turns", self.worker_id, reason)
            self.database_ok, self.database_error = False, reason
            return
        self._failures = 0
        if not self.database_ok and self.last_ok is not None:
            log.warning("worker %s reaches its database again: accepting turns", self.worker_id)
        self.database_ok, self.database_error, self.last_ok = True, None, time.time()
        self._beats += 1
        if self._beats % 30 == 1:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(limits.sweep(self.limits), PROBE_TIMEOUT_S)

    async def _write_heartbeat(self) -> None:
        now = limits.utcnow()
        engine = await get_engine()
        async with engine.begin() as conn:
            if self._registered:
                result = await conn.execute(
                    update(host_worker)
                    .where(host_worker.c.worker_id == self.worker_id)
                    .values(heartbeat_at=now, state="serving")
                )
                if result.rowcount:
                    return
            await conn.execute(
                host_worker.insert().values(
                    worker_id=self.worker_id,
                    hostname=socket.gethostname(),
                    pid=os.getpid(),
                    address=self.address,
                    started_at=now,
                    heartbeat_at=now,
                    state="serving",
                )
            )
        self._registered = True

    async def stop(self) -> None:
        """Stop the heartbeat and say so (best effort: the row goes stale anyway)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        with contextlib.suppress(Exception):
            engine = await get_engine()
            async with engine.begin() as conn:
                await conn.execute(
                    update(host_worker).where(host_worker.c.worker_id == self.worker_id).values(state="stopped")
                )
                from host.clustertables import host_connection

                await conn.execute(host_connection.delete().where(host_connection.c.worker_id == self.worker_id))

    def require_database(self) -> None:
        if not self.database_ok:
            raise unavailable(
                f"this host worker cannot reach its database ({self.database_error}) and takes no turns now: "
                "reconnect and resume the session (send session.start with its session_id); "
                "the balancer sends you to a healthy worker"
            )

    async def admit(self, kind: str, org_id: str) -> None:
        """Before a client message that does work: the database is reachable, the turn fits the limit."""
        if kind == "session.end":
            return
        self.require_database()
        if kind in TURN_MESSAGES:
            await limits.admit_turn(org_id, self.limits)

    async def before(self, session: Any, message: dict[str, Any]) -> None:
        """Admission of one WebSocket message (``session``: host/app.py's ``WsSession``).

        A resume waits while another live worker still runs a turn of that session; a turn must
        come from the connection that drives the session (host/ownership.py) and fit the limits.
        """
        kind = message["type"]
        if kind == "session.start":
            self.require_database()
            resume = message.get("session_id")
            if isinstance(resume, str) and resume:
                org = session.caller.org_id or str(message.get("org") or "")
                await ownership.wait_until_idle(resume, self.worker_id, session.connection_id, self.limits.stale_s)
                # claimed before session.started is sent; only a session of the caller's tenant
                await ownership.claim(resume, self.worker_id, session.connection_id, org_id=org)
            return
        if session.session_id and kind != "session.end":
            self.require_database()
            await ownership.require_owner(session.session_id, session.connection_id)
        org = session.conv.profile.org_id if session.conv else session.caller.org_id or ""
        await self.admit(kind, org)

    async def after(self, session: Any, message: dict[str, Any]) -> None:
        """After a new session started: this connection drives it."""
        if message["type"] == "session.start" and not message.get("session_id") and session.session_id:
            try:  # the session has started and was announced: a failed claim only leaves it unclaimed
                await ownership.claim_new(session.session_id, self.worker_id, session.connection_id)
            except Exception as exc:
                log.warning("session %s: could not record its owner (%s)", session.session_id, type(exc).__name__)

    async def open_connection(self, org_id: str) -> str | None:
        self.require_database()
        return await limits.open_connection(self.worker_id, org_id, self.limits)

    async def close_connection(self, lease: str | None) -> None:
        with contextlib.suppress(Exception):
            await limits.close_connection(lease)

    def health(self) -> dict[str, Any]:
        return {
            "worker_id": self.worker_id,
            "database": "ok" if self.database_ok else f"error: {self.database_error}",
            "accepting_turns": self.database_ok,
            "last_heartbeat_s_ago": round(time.time() - self.last_ok, 1) if self.last_ok else None,
        }
