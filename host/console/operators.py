"""Operator accounts: one org each, argon2id password hashes, lockout after repeated failures.

``switchboard operators create|list|disable`` (:mod:`host.console.cli`) and the console's sign-in
use these functions. A username is unique across orgs, so signing in needs no org field.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update

from core.context import is_valid_identifier
from core.db import get_engine, write_transaction
from core.errors import conflict, forbidden, invalid, not_found
from host.console.tables import operators
from host.store import new_id

MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
MIN_PASSWORD = 10
_DUMMY_HASH: str | None = None


@dataclass(frozen=True, slots=True)
class Operator:
    id: str
    org_id: str
    username: str
    display_name: str

    @property
    def actor(self) -> str:
        """How audit records and turns name this operator."""
        return f"operator:{self.id}"


def _hasher() -> Any:
    """argon2id with the library's recommended parameters (RFC 9106 low-memory profile).

    ``SWITCHBOARD_PASSWORD_HASH=cheapest`` selects the library's cheapest profile: for test suites
    only (hashes record their parameters, so either kind verifies under either setting)."""
    from argon2 import PasswordHasher, profiles

    if os.environ.get("SWITCHBOARD_PASSWORD_HASH") == "cheapest":
        return PasswordHasher.from_parameters(profiles.CHEAPEST)
    return PasswordHasher()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _public(row: Any) -> dict[str, Any]:
    out = {k: row[k] for k in row if k != "password_hash"}
    locked = _aware(row["locked_until"])
    out["locked"] = bool(locked and locked > _now())
    return out


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise invalid(f"the password needs at least {MIN_PASSWORD} characters")


async def create_operator(org_id: str, username: str, password: str, *, display_name: str | None = None) -> dict:
    """A new operator of ``org_id``; the password is stored as an argon2id hash only."""
    if not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")
    if not is_valid_identifier(username):
        raise invalid("username must be 1-128 letters, digits or ._:@- characters")
    check_password(password)
    row = {
        "id": new_id(),
        "org_id": org_id,
        "username": username,
        "display_name": (display_name or username)[:200],
        "password_hash": await asyncio.to_thread(_hasher().hash, password),
        "is_disabled": False,
        "failed_logins": 0,
        "locked_until": None,
        "created_at": _now(),
        "last_login_at": None,
    }
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        # 'Mina' beside 'mina' would read the same in the queue and the audit log: taken, whatever the case
        same = func.lower(operators.c.username) == username.lower()
        taken = (await conn.execute(select(operators.c.username).where(same))).first()
        if taken:
            also = "" if taken[0] == username else f" (as {taken[0]!r}; case does not make a name new)"
            raise conflict(f"username {username!r} is taken{also}: pick another (usernames are unique across orgs)")
        await conn.execute(insert(operators).values(**row))
    return _public(row)


async def list_operators(org_id: str | None = None) -> list[dict]:
    query = select(operators).order_by(operators.c.org_id, operators.c.username)
    if org_id:
        query = query.where(operators.c.org_id == org_id)
    engine = await get_engine()
    async with engine.connect() as conn:
        return [_public(r) for r in (await conn.execute(query)).mappings().all()]


async def set_disabled(username: str, disabled: bool = True) -> dict:
    engine = await get_engine()
    async with write_transaction(engine) as conn:
        done = await conn.execute(
            update(operators).where(operators.c.username == username).values(is_disabled=disabled)
        )
        if done.rowcount != 1:
            raise not_found(f"no operator {username!r}: see `switchboard operators list`")
        row = (await conn.execute(select(operators).where(operators.c.username == username))).mappings().one()
    return _public(row)


async def get_operator(operator_id: str) -> Operator | None:
    """The signed-in operator, or None when the account is gone or disabled."""
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (await conn.execute(select(operators).where(operators.c.id == operator_id))).mappings().first()
    if row is None or row["is_disabled"]:
        return None
    return Operator(row["id"], row["org_id"], row["username"], row["display_name"] or row["username"])


async def get_operator_by_username(username: str) -> Operator | None:
    """An enabled operator by sign-in name (single sign-on maps the provider's username here)."""
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (await conn.execute(select(operators.c.id).where(operators.c.username == username))).first()
    return await get_operator(row[0]) if row else None


async def authenticate(username: str, password: str) -> Operator:
    """The operator, or FORBIDDEN (``reason``: bad_credentials, locked, disabled). Failures are counted."""
    from argon2.exceptions import InvalidHashError, VerificationError

    engine = await get_engine()
    async with engine.connect() as conn:
        row = (await conn.execute(select(operators).where(operators.c.username == username))).mappings().first()
    bad = forbidden("wrong username or password", reason="bad_credentials")
    if row is None:
        await asyncio.to_thread(_burn, password)  # same cost as a real check: no username probing by timing
        raise bad
    locked = _aware(row["locked_until"])
    if locked and locked > _now():
        raise forbidden(
            f"this account is locked after {MAX_FAILURES} failed sign-ins until {locked:%H:%M} UTC: "
            "wait, or ask an administrator",
            reason="locked",
        )
    if row["is_disabled"]:
        raise forbidden("this account is disabled: ask an administrator", reason="disabled")
    try:
        await asyncio.to_thread(_hasher().verify, row["password_hash"], password)
    except (VerificationError, InvalidHashError):
        failures = row["failed_logins"] + 1
        values: dict[str, Any] = {"failed_logins": failures}
        if failures >= MAX_FAILURES:
            values.update(failed_logins=0, locked_until=_now() + LOCKOUT)
        async with write_transaction(engine) as conn:
            await conn.execute(update(operators).where(operators.c.id == row["id"]).values(**values))
        if failures >= MAX_FAILURES:
            raise forbidden(
                f"{MAX_FAILURES} failed sign-ins: the account is locked for {int(LOCKOUT.total_seconds() // 60)} min",
                reason="locked",
            ) from None
        raise bad from None
    async with write_transaction(engine) as conn:
        await conn.execute(
            update(operators)
            .where(operators.c.id == row["id"])
            .values(failed_logins=0, locked_until=None, last_login_at=_now())
        )
    return Operator(row["id"], row["org_id"], row["username"], row["display_name"] or row["username"])


def _burn(password: str) -> None:
    global _DUMMY_HASH
    from argon2.exceptions import VerificationError

    hasher = _hasher()
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hasher.hash("not-a-real-password")
    with contextlib.suppress(VerificationError):
        hasher.verify(_DUMMY_HASH, password)
