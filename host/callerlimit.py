"""Failed caller checks counted per phone number, across sessions and workers.

The try limit of the caller check (:mod:`host.callerpolicy`) used to be per session: after three
misses the call went to a person, and a new session on the same line offered three fresh tries, so
anyone who knew a customer's phone number could keep guessing names (a walk did exactly that). The
misses are now also counted per phone number in the org, in the database every worker shares
(``host_rate_window``, the table of the per-tenant turn limits), over a day: the current day's
window plus the one before it, so a burst across midnight counts whole. When a number has used its
tries, every further check of it, in any session, is refused before the order server is asked and
the call goes to a person. A passed check clears the count.

The number is not stored: its key is ``HMAC-SHA256(k, "+821012345678")`` with a key derived from
the org's HMAC key (as the order store keeps phone numbers, servers/order_server/phonekey.py).
A number that does not parse is not counted here (the order server refuses it; it is no attempt).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

from sqlalchemy import delete, func, select

from host.clustertables import host_rate_window

WINDOW_S = 86_400  # one day
PREFIX = "callercheck:"
_PURPOSE = b"switchboard/caller-check-failures/v1"


def phone_key(org_id: str, phone: str) -> str | None:
    """The counter's key for ``phone`` as the caller gave it, or None when it is no mobile number."""
    from audit.keys import hmac_key
    from core.errors import SwitchboardError
    from servers.order_server.phone import parse_phone

    try:
        e164 = parse_phone(phone).e164
    except SwitchboardError:
        return None
    org_key = hmac_key(org_id)
    if org_key is None:
        return None
    derived = hmac.new(org_key, _PURPOSE, hashlib.sha256).digest()
    digest = hmac.new(derived, e164.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{PREFIX}{org_id}:{digest[:40]}"


def _window(clock: Any) -> int:
    return int(clock() // WINDOW_S) * WINDOW_S


async def failures(key: str, *, clock: Any = time.time) -> int:
    """Misses of ``key`` in the current window and the one before it."""
    from core.db import get_engine

    window = _window(clock)
    engine = await get_engine()
    async with engine.connect() as conn:
        total = await conn.scalar(
            select(func.coalesce(func.sum(host_rate_window.c.count), 0)).where(
                host_rate_window.c.key == key, host_rate_window.c.window_start >= window - WINDOW_S
            )
        )
    return int(total or 0)


async def count_failure(key: str, *, clock: Any = time.time) -> int:
    """Count one miss of ``key``; the misses in the last day or two, this one included."""
    from core.db import get_engine
    from host.limits import bump_window

    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(bump_window(engine, key, _window(clock)))
    return await failures(key, clock=clock)


async def clear(key: str) -> None:
    """A passed check: the number's misses no longer count."""
    from core.db import get_engine

    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(delete(host_rate_window).where(host_rate_window.c.key == key))
