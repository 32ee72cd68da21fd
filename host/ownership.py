"""One driver per session: the worker and connection that carry it on now.

Any worker may carry on any session, but never two at once: two connections driving one
session would record turns twice and could repeat a write. So every ``session.start`` (new or
resumed) claims the session (``host_session_owner``: worker, connection), and a turn is taken
only from the connection that holds the claim. A connection that lost it hears ``CONFLICT``:
the session continues elsewhere (resume it here to take it back).

Resuming waits for a turn still running on another live worker (a client that reconnected
after a network blip while its worker carried on): closing that turn as interrupted while it
runs could contradict a write it is about to make. A worker is dead when its heartbeat is
stale or, on this machine, its process is gone (``kill -9`` is seen at once); then its open
turns are closed by crash recovery (host/recovery.py) as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from core.db import get_engine
from core.errors import conflict
from host.clustertables import host_session_owner, host_worker
from host.limits import upsert_into, utcnow
from host.records import sessions, turns

BUSY_WAIT_S = 60.0
POLL_S = 0.25


async def claim(session_id: str, worker_id: str, connection_id: str, *, org_id: str | None = None) -> None:
    """This connection now drives ``session_id`` (a resume: insert, or take the claim over).

    Only a session of tenant ``org_id`` is claimed (an unknown or foreign id is left alone;
    resuming it then fails with NOT_FOUND as usual).
    """
    engine = await get_engine()
    values = {"worker_id": worker_id, "connection_id": connection_id, "claimed_at": utcnow()}
    async with engine.begin() as conn:
        owner_org = (await conn.execute(select(sessions.c.org_id).where(sessions.c.id == session_id))).scalar()
        if owner_org is None or owner_org != org_id:
            return
        stmt = upsert_into(engine, host_session_owner).values(session_id=session_id, **values)
        await conn.execute(stmt.on_conflict_do_update(index_elements=[host_session_owner.c.session_id], set_=values))


async def claim_new(session_id: str, worker_id: str, connection_id: str) -> None:
    """The first claim of a session just started here; a resume elsewhere that came first wins."""
    engine = await get_engine()
    values = {"worker_id": worker_id, "connection_id": connection_id, "claimed_at": utcnow()}
    with contextlib.suppress(IntegrityError):
        async with engine.begin() as conn:
            await conn.execute(host_session_owner.insert().values(session_id=session_id, **values))


async def require_owner(session_id: str, connection_id: str) -> None:
    """``CONFLICT`` when another connection has claimed ``session_id`` since this one did."""
    engine = await get_engine()
    async with engine.connect() as conn:
        owner = (
            await conn.execute(
                select(host_session_owner.c.connection_id).where(host_session_owner.c.session_id == session_id)
            )
        ).scalar()
    if owner is not None and owner != connection_id:
        raise conflict(
            f"session {session_id} continues on another connection: "
            'to take it back here, send {"type": "session.start", "session_id": "<this session>"}'
        )


def _alive(row: dict, worker_id: str, stale_s: float) -> bool:
    if row["worker_id"] == worker_id:
        return True
    if row["state"] != "serving":
        return False
    beat = row["heartbeat_at"] if row["heartbeat_at"].tzinfo else row["heartbeat_at"].replace(tzinfo=utcnow().tzinfo)
    if beat < utcnow() - timedelta(seconds=stale_s):
        return False
    # killed on this machine: no need to wait for its heartbeat to go stale
    return not (row["hostname"] == socket.gethostname() and not os.path.exists(f"/proc/{row['pid']}"))


async def _busy_elsewhere(session_id: str, worker_id: str, connection_id: str, stale_s: float) -> bool:
    engine = await get_engine()
    async with engine.connect() as conn:
        open_turn = (
            await conn.execute(
                select(turns.c.id).where(turns.c.session_id == session_id, turns.c.status == "open").limit(1)
            )
        ).scalar()
        if open_turn is None:
            return False
        row = (
            (
                await conn.execute(
                    select(host_session_owner.c.connection_id, host_worker)
                    .join(host_worker, host_worker.c.worker_id == host_session_owner.c.worker_id)
                    .where(host_session_owner.c.session_id == session_id)
                )
            )
            .mappings()
            .first()
        )
    if row is None or row["connection_id"] == connection_id:
        return False
    return _alive(dict(row), worker_id, stale_s)


async def wait_until_idle(session_id: str, worker_id: str, connection_id: str, stale_s: float) -> None:
    """Before resuming: wait while a live worker still runs a turn of ``session_id``."""
    deadline = time.monotonic() + BUSY_WAIT_S
    while await _busy_elsewhere(session_id, worker_id, connection_id, stale_s):
        if time.monotonic() > deadline:
            raise conflict(
                f"a turn of session {session_id} is still running on another worker: resume again in a few seconds"
            )
        await asyncio.sleep(POLL_S)
