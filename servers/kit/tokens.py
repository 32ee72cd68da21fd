"""Bearer tokens for Streamable HTTP: each maps to an org; only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Boolean, Column, DateTime, String, Table, insert, select, update

from core.context import customer_ref_problem, is_valid_identifier
from core.db import get_engine, metadata
from core.errors import invalid, not_found
from core.ids import resolve_id
from core.pii import mask_text
from servers.kit.identity import TokenIdentity

TOKEN_PREFIX = "sbt_"

api_token = Table(
    "api_token",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("org_id", String(128), nullable=True),
    Column("customer_ref", String(128), nullable=True),
    Column("trusted", Boolean, nullable=False, default=False),
    Column("label", String(200), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    org_id: str | None
    trusted: bool
    label: str
    created_at: datetime
    revoked_at: datetime | None
    customer_ref: str | None = None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def create_token(
    org_id: str | None, *, label: str = "", trusted: bool = False, customer_ref: str | None = None
) -> tuple[str, TokenInfo]:
    """Create a token; returns the plaintext (shown once) and its stored info.

    ``org_id=None`` makes a service token: it must be trusted and names the org in ``_meta``.
    ``customer_ref`` binds the token to one customer of ``org_id`` (e.g. a CRM reading that
    customer's memories); such a token can never be trusted to name another one in ``_meta``.
    """
    if customer_ref is not None and org_id is None:
        raise invalid("--customer needs --org: a customer token acts for one customer of one tenant")
    if org_id is None and not trusted:
        raise invalid("a token without --org is a service token and must be --trusted")
    if org_id is not None and not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")
    if customer_ref is not None:
        if trusted:
            raise invalid("a --customer token cannot be --trusted (trusted tokens may name any customer)")
        if problem := customer_ref_problem(customer_ref):
            raise invalid(f"--customer {problem}")
    label = mask_text(label[:200])  # a note may quote a phone number: stored masked
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    info = TokenInfo(str(uuid.uuid4()), org_id, trusted, label, datetime.now(UTC), None, customer_ref)
    engine = await get_engine()
    async with engine.begin() as conn:
        await conn.execute(
            insert(api_token).values(
                id=info.id,
                token_sha256=_hash(plaintext),
                org_id=org_id,
                customer_ref=customer_ref,
                trusted=trusted,
                label=info.label,
                created_at=info.created_at,
            )
        )
    return plaintext, info


async def list_tokens(org_id: str | None = None) -> list[TokenInfo]:
    engine = await get_engine()
    query = select(api_token).order_by(api_token.c.created_at)
    if org_id is not None:
        query = query.where(api_token.c.org_id == org_id)
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).mappings().all()
    return [
        TokenInfo(r["id"], r["org_id"], r["trusted"], r["label"], r["created_at"], r["revoked_at"], r["customer_ref"])
        for r in rows
    ]


_TOKENS_HINT = "see `switchboard tokens list`"


async def revoke_token(token_id: str) -> None:
    engine = await get_engine()
    async with engine.begin() as conn:
        token_id = await resolve_id(conn, token_id, select(api_token.c.id), what="token", hint=_TOKENS_HINT)
        result = await conn.execute(
            update(api_token)
            .where(api_token.c.id == token_id, api_token.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    if result.rowcount == 0:
        raise not_found(f"no active token with id {token_id}: {_TOKENS_HINT}")


ERASED_LABEL = "[erased]"


async def revoke_customer_tokens(org_id: str, customer_ref: str) -> dict[str, int]:
    """A data-subject erase: revoke every token bound to the customer and clear their labels (an
    operator's note that often names the person); rerunning changes nothing. On SQLite with
    ``secure_delete=ON`` and the WAL truncated after, as the other stores' erases."""
    from core.db import checkpoint_wal, get_pooled_engine

    engine = await get_pooled_engine(pool_size=1, max_overflow=2, extra_pragmas=("secure_delete=ON",))
    mine = (api_token.c.org_id == org_id) & (api_token.c.customer_ref == customer_ref)
    async with engine.begin() as conn:
        revoked = await conn.execute(
            update(api_token).where(mine, api_token.c.revoked_at.is_(None)).values(revoked_at=datetime.now(UTC))
        )
        cleared = await conn.execute(
            update(api_token).where(mine, api_token.c.label != ERASED_LABEL).values(label=ERASED_LABEL)
        )
    await checkpoint_wal(engine)
    return {"revoked": revoked.rowcount or 0, "labels_cleared": cleared.rowcount or 0}


async def verify_token(plaintext: str) -> TokenIdentity | None:
    """The identity a token grants, or None when it is unknown or revoked."""
    if not plaintext.startswith(TOKEN_PREFIX) or len(plaintext) > 200:
        return None
    engine = await get_engine()
    async with engine.connect() as conn:
        row = (
            (
                await conn.execute(
                    select(api_token.c.id, api_token.c.org_id, api_token.c.trusted, api_token.c.customer_ref).where(
                        api_token.c.token_sha256 == _hash(plaintext), api_token.c.revoked_at.is_(None)
                    )
                )
            )
            .mappings()
            .first()
        )
    return TokenIdentity(row["id"], row["org_id"], bool(row["trusted"]), row["customer_ref"]) if row else None


def token_verifier():
    """A fastmcp TokenVerifier backed by the token table."""
    from fastmcp.server.auth import TokenVerifier
    from fastmcp.server.auth.auth import AccessToken

    class SwitchboardTokenVerifier(TokenVerifier):
        async def verify_token(self, token: str) -> AccessToken | None:  # type: ignore[override]
            identity = await verify_token(token)
            if identity is None:
                return None
            return AccessToken(
                token=token,
                client_id=identity.token_id,
                scopes=[],
                expires_at=None,
                claims={
                    "org_id": identity.org_id,
                    "trusted": identity.trusted,
                    "token_id": identity.token_id,
                    "customer_ref": identity.customer_ref,
                },
            )

    return SwitchboardTokenVerifier()
