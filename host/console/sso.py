"""Single sign-on for operators through an OpenID provider (authorization code flow with PKCE).

Configured by environment (all four needed; otherwise the sign-in page offers passwords only):
``SWITCHBOARD_CONSOLE_OIDC_ISSUER``, ``SWITCHBOARD_CONSOLE_OIDC_CLIENT_ID``,
``SWITCHBOARD_CONSOLE_OIDC_CLIENT_SECRET``; optional ``SWITCHBOARD_CONSOLE_OIDC_ORG_CLAIM``
(default ``org``) and ``SWITCHBOARD_CONSOLE_OIDC_USERNAME_CLAIM`` (default
``preferred_username``). The provider's ``id_token`` is checked (signature against its JWKS,
issuer, audience, expiry, nonce); username and org come from it, or from the userinfo endpoint
(same ``sub``) when the provider keeps them out of the id_token; the operator must already exist
(``switchboard operators create``) with that username, in the org the token names, and not be
disabled: the provider proves who someone is, the host decides what they may see.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from core.errors import forbidden, unavailable
from host.console.operators import Operator, get_operator_by_username

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class SsoConfig:
    issuer: str
    client_id: str
    client_secret: str
    org_claim: str = "org"
    username_claim: str = "preferred_username"


def sso_config() -> SsoConfig | None:
    env = os.environ.get
    issuer, client_id, secret = (
        env("SWITCHBOARD_CONSOLE_OIDC_ISSUER"),
        env("SWITCHBOARD_CONSOLE_OIDC_CLIENT_ID"),
        env("SWITCHBOARD_CONSOLE_OIDC_CLIENT_SECRET"),
    )
    if not (issuer and client_id and secret):
        return None
    return SsoConfig(
        issuer.rstrip("/"),
        client_id,
        secret,
        env("SWITCHBOARD_CONSOLE_OIDC_ORG_CLAIM") or "org",
        env("SWITCHBOARD_CONSOLE_OIDC_USERNAME_CLAIM") or "preferred_username",
    )


async def _get_json(url: str) -> dict[str, Any]:
    import httpx

    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            response = await client.get(url)
            response.raise_for_status()
            return response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise unavailable(f"the sign-in provider did not answer ({type(exc).__name__}): try again later") from None


async def discovery(cfg: SsoConfig) -> dict[str, Any]:
    meta = await _get_json(f"{cfg.issuer}/.well-known/openid-configuration")
    if meta.get("issuer", "").rstrip("/") != cfg.issuer:
        raise unavailable("the sign-in provider's discovery document names another issuer")
    return meta


def start(cfg: SsoConfig, meta: dict[str, Any], redirect_uri: str) -> tuple[str, dict[str, str]]:
    """The provider URL to send the browser to, and what the session must keep until the callback."""
    pending = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24)}
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    pending["verifier"] = verifier
    query = {
        "response_type": "code",
        "client_id": cfg.client_id,
        "redirect_uri": redirect_uri,
        "scope": "openid profile email",
        "state": pending["state"],
        "nonce": pending["nonce"],
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    return f"{meta['authorization_endpoint']}?{urlencode(query)}", pending


async def _userinfo(meta: dict[str, Any], access_token: str | None, sub: str) -> dict[str, Any]:
    """The userinfo claims (OpenID Connect Core §5.3): in the code flow a provider may keep profile
    claims out of the id_token. They count only for the same ``sub``."""
    import httpx

    if not (access_token and meta.get("userinfo_endpoint")):
        return {}
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            response = await client.get(meta["userinfo_endpoint"], headers={"Authorization": f"Bearer {access_token}"})
        info = response.json() if response.status_code == 200 else {}
    except (httpx.HTTPError, ValueError) as exc:
        raise unavailable(f"the sign-in provider did not answer ({type(exc).__name__})") from None
    return info if isinstance(info, dict) and info.get("sub") == sub else {}


async def finish(cfg: SsoConfig, code: str, redirect_uri: str, pending: dict[str, str]) -> Operator:
    """Exchange the code, check the id_token, and find the operator it names."""
    import httpx
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    meta = await discovery(cfg)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": pending["verifier"],
    }
    # client_secret_basic: the method every provider must support (RFC 6749 §2.3.1), and the
    # default of a registered client (OpenID Connect Dynamic Registration §2)
    basic = (quote(cfg.client_id, safe=""), quote(cfg.client_secret, safe=""))
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_S) as client:
            response = await client.post(meta["token_endpoint"], data=form, auth=basic)
    except httpx.HTTPError as exc:
        raise unavailable(f"the sign-in provider did not answer ({type(exc).__name__})") from None
    body = response.json() if response.status_code == 200 else {}
    if "id_token" not in body:
        raise forbidden("the sign-in provider refused the sign-in: start again")
    token, access_token = body["id_token"], body.get("access_token")
    try:
        keys = KeySet.import_key_set(await _get_json(meta["jwks_uri"]))
        claims = jwt.decode(token, keys, algorithms=["RS256", "ES256", "PS256"]).claims
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": cfg.issuer},
            aud={"essential": True, "value": cfg.client_id},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(claims)
    except (JoseError, ValueError) as exc:
        raise forbidden(f"the sign-in token is not valid ({type(exc).__name__}): start again") from None
    if claims.get("nonce") != pending["nonce"]:
        raise forbidden("the sign-in token does not belong to this sign-in: start again")
    if not (claims.get(cfg.org_claim) and (claims.get(cfg.username_claim) or claims.get("email"))):
        claims = {**await _userinfo(meta, access_token, claims["sub"]), **claims}
    username, org = claims.get(cfg.username_claim) or claims.get("email"), claims.get(cfg.org_claim)
    operator = await get_operator_by_username(str(username or ""))
    if operator is None or operator.org_id != org:
        raise forbidden(f"{username!r} of org {org!r} has no operator account here: ask an administrator")
    return operator
