"""OAuth 2.1 access tokens for a resource server (the MCP authorization spec, 2025-06-18 and later).

One idea: turn a bearer token from an authorization server into a :class:`Principal`, or refuse it.

- JWT access tokens (RFC 9068) are checked with joserfc against the issuer's JWKS, which is found
  through the issuer's metadata (``/.well-known/oauth-authorization-server``, then
  ``/.well-known/openid-configuration``), cached (an hour at most), and fetched again once when a
  token names an unknown key id. Checked: signature (asymmetric algorithms only), ``iss`` (one of the configured
  issuers), ``exp``/``nbf`` (with a small leeway), ``aud`` equal to this server's canonical URL
  (RFC 8707).
- Opaque tokens are sent to the issuer's introspection endpoint (RFC 7662) when the issuer
  advertises one and introspection client credentials are configured; ``active``, ``aud`` and
  ``exp`` are checked the same way. Results are not cached, so a revocation applies at once.
- The tenant and the customer come from configurable claims, never from a tool argument.

Configuration is by environment (see :meth:`OAuthConfig.from_env`, documented in docs/oauth.md).
The token itself is never stored, logged or forwarded.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.context import customer_ref_problem, is_valid_identifier
from core.errors import invalid

# RFC 9068 §4: asymmetric signatures only; "none" and shared-secret (HS*) algorithms are refused.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
_JWKS_MIN_REFRESH_S = 5.0  # an unknown kid refetches the JWKS at most this often (no fetch storm)
_JWKS_MAX_AGE_S = 3600.0  # and the JWKS is refetched hourly, so a key the issuer withdrew stops working
_HTTP_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class OAuthConfig:
    """How this resource server trusts an authorization server."""

    issuers: tuple[str, ...]
    resource: str | None = None  # canonical URL (the audience); None: the URL the server listens on
    org_claim: str = "org_id"
    customer_claim: str = "customer_ref"
    fixed_org: str | None = None  # single-tenant deployments: tokens need no org claim
    introspection_client_id: str | None = None
    introspection_client_secret: str | None = None
    leeway_s: int = 30
    resource_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OAuthConfig | None:
        """The configuration in ``SWITCHBOARD_OAUTH_*``, or None when no issuer is set (OAuth off)."""
        env = os.environ if env is None else env
        raw = env.get("SWITCHBOARD_OAUTH_ISSUER", "").strip()
        if not raw:
            return None
        issuers = tuple(i.strip().rstrip("/") for i in raw.split(",") if i.strip())
        for issuer in issuers:
            if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
                raise invalid(f"SWITCHBOARD_OAUTH_ISSUER {issuer!r} must be an https URL (plain http only on loopback)")
        fixed_org = env.get("SWITCHBOARD_OAUTH_ORG") or None
        if fixed_org is not None and not is_valid_identifier(fixed_org):
            raise invalid("SWITCHBOARD_OAUTH_ORG must be 1-128 letters, digits or ._:@- characters")
        try:
            leeway = int(env.get("SWITCHBOARD_OAUTH_LEEWAY", "30"))
        except ValueError:
            raise invalid("SWITCHBOARD_OAUTH_LEEWAY is a number of seconds (default 30)") from None
        if not 0 <= leeway <= 300:
            raise invalid("SWITCHBOARD_OAUTH_LEEWAY must be between 0 and 300 seconds")
        return cls(
            issuers=issuers,
            resource=(env.get("SWITCHBOARD_OAUTH_RESOURCE") or "").strip() or None,
            org_claim=env.get("SWITCHBOARD_OAUTH_ORG_CLAIM") or "org_id",
            customer_claim=env.get("SWITCHBOARD_OAUTH_CUSTOMER_CLAIM") or "customer_ref",
            fixed_org=fixed_org,
            introspection_client_id=env.get("SWITCHBOARD_OAUTH_INTROSPECTION_CLIENT_ID") or None,
            introspection_client_secret=env.get("SWITCHBOARD_OAUTH_INTROSPECTION_CLIENT_SECRET") or None,
            leeway_s=leeway,
            resource_name=env.get("SWITCHBOARD_OAUTH_RESOURCE_NAME") or None,
        )


@dataclass(frozen=True, slots=True)
class Principal:
    """Who an accepted OAuth token acts for, and what it may do."""

    subject: str | None
    client_id: str
    issuer: str
    org_id: str
    customer_ref: str | None
    scopes: frozenset[str]
    expires_at: int | None


@dataclass(slots=True)
class _Issuer:
    url: str
    metadata: dict[str, Any] | None = None
    keys: Any = None  # joserfc KeySet
    fetched_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class OAuthVerifier:
    """Verifies access tokens for one resource (audience). Safe to share across requests."""

    def __init__(self, config: OAuthConfig, resource: str) -> None:
        self.config = config
        self.resource = resource.rstrip("/")
        self._issuers = {url: _Issuer(url) for url in config.issuers}

    async def verify(self, token: str) -> Principal | None:
        """The principal of ``token``, or None when it is not acceptable here (never raises for a bad token)."""
        if not token or len(token) > 8192:
            return None
        try:
            if token.count(".") == 2:
                return await self._verify_jwt(token)
            return await self._introspect(token)
        except (OSError, ValueError, KeyError, TypeError):
            return None
        except Exception as exc:  # joserfc errors, httpx errors: a token we cannot accept
            if type(exc).__module__.startswith(("joserfc", "httpx")):
                return None
            raise

    # -- JWT ---------------------------------------------------------------------------------

    async def _verify_jwt(self, token: str) -> Principal | None:
        from joserfc import jwt
        from joserfc.jws import extract_compact

        unverified = extract_compact(token.encode("ascii"))
        header = unverified.protected
        if header.get("alg") not in ALGORITHMS:
            return None
        if str(header.get("typ", "at+jwt")).lower() not in ("at+jwt", "application/at+jwt", "jwt"):
            return None  # e.g. a logout token or an ID token's odd type
        payload = json.loads(unverified.payload)
        issuer = self._issuers.get(str(payload.get("iss", "")).rstrip("/"))
        if issuer is None:
            return None  # a token from an issuer we do not trust: never fetch its keys
        keys = await self._keys_for(issuer, header.get("kid"))
        if keys is None:
            return None
        claims = jwt.decode(token, keys, algorithms=list(ALGORITHMS)).claims
        registry = jwt.JWTClaimsRegistry(
            leeway=self.config.leeway_s,
            iss={"essential": True, "value": payload["iss"]},
            exp={"essential": True},
        )
        registry.validate(claims)
        if not self._audience_ok(claims.get("aud")):
            return None
        return self._principal(claims, issuer.url)

    async def _keys_for(self, issuer: _Issuer, kid: Any) -> Any:
        """The issuer's key set holding ``kid`` (refetched once if the kid is new), or None."""
        age = time.monotonic() - issuer.fetched_at
        if issuer.keys is None or age > _JWKS_MAX_AGE_S or (kid and not _has_kid(issuer.keys, kid)):
            async with issuer.lock:
                age = time.monotonic() - issuer.fetched_at
                unknown = kid and issuer.keys is not None and not _has_kid(issuer.keys, kid)
                if issuer.keys is None or age > _JWKS_MAX_AGE_S or (unknown and age >= _JWKS_MIN_REFRESH_S):
                    await self._fetch_keys(issuer)
        if issuer.keys is None or (kid and not _has_kid(issuer.keys, kid)):
            return None
        return issuer.keys

    async def _fetch_keys(self, issuer: _Issuer) -> None:
        from joserfc.jwk import KeySet

        metadata = await self._metadata(issuer)
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise ValueError("the issuer's metadata has no jwks_uri")
        issuer.fetched_at = time.monotonic()
        body = await _get_json(jwks_uri)
        usable = [k for k in body.get("keys", []) if isinstance(k, dict) and k.get("use", "sig") == "sig"]
        issuer.keys = KeySet.import_key_set({"keys": usable})

    async def _metadata(self, issuer: _Issuer) -> dict[str, Any]:
        """RFC 8414 metadata (or OpenID discovery), checked to name this issuer; cached for the process."""
        if issuer.metadata is not None:
            return issuer.metadata
        last: Exception | None = None
        for url in metadata_urls(issuer.url):
            try:
                body = await _get_json(url)
            except (OSError, ValueError) as exc:
                last = exc
                continue
            except Exception as exc:
                if type(exc).__module__.startswith("httpx"):
                    last = exc
                    continue
                raise
            if str(body.get("issuer", "")).rstrip("/") != issuer.url:
                raise ValueError(f"metadata at {url} names another issuer")
            issuer.metadata = body
            return body
        raise ValueError(f"no authorization server metadata for {issuer.url}: {last}")

    # -- introspection -----------------------------------------------------------------------

    async def _introspect(self, token: str) -> Principal | None:
        cid, secret = self.config.introspection_client_id, self.config.introspection_client_secret
        if not cid or not secret:
            return None
        for issuer in self._issuers.values():
            endpoint = (await self._metadata(issuer)).get("introspection_endpoint")
            if not isinstance(endpoint, str):
                continue
            import httpx

            async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S, follow_redirects=False) as client:
                response = await client.post(
                    endpoint,
                    data={"token": token, "token_type_hint": "access_token"},
                    auth=(cid, secret),
                    headers={"Accept": "application/json"},
                )
            if response.status_code != 200:
                continue
            body = response.json()
            if body.get("active") is not True:
                return None  # revoked, expired or unknown: the issuer said no
            if str(body.get("iss", issuer.url)).rstrip("/") != issuer.url:
                return None
            exp = body.get("exp")
            if isinstance(exp, (int, float)) and exp + self.config.leeway_s < time.time():
                return None
            if not self._audience_ok(body.get("aud")):
                return None
            return self._principal(body, issuer.url)
        return None

    # -- shared --------------------------------------------------------------------------------

    def _audience_ok(self, aud: Any) -> bool:
        values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        return any(isinstance(v, str) and v.rstrip("/") == self.resource for v in values)

    def _principal(self, claims: Mapping[str, Any], issuer: str) -> Principal | None:
        org = claims.get(self.config.org_claim) if self.config.org_claim else None
        if org is None:
            org = self.config.fixed_org
        if not isinstance(org, str) or not is_valid_identifier(org):
            return None  # no tenant: refused rather than guessed
        if self.config.fixed_org is not None and org != self.config.fixed_org:
            return None
        customer = claims.get(self.config.customer_claim) if self.config.customer_claim else None
        if customer is not None and customer_ref_problem(customer):
            return None
        scope = claims.get("scope") or claims.get("scp") or ""
        scopes = scope.split() if isinstance(scope, str) else [s for s in scope if isinstance(s, str)]
        client_id = claims.get("client_id") or claims.get("azp") or ""
        subject = claims.get("sub")
        exp = claims.get("exp")
        return Principal(
            subject=str(subject)[:200] if subject is not None else None,
            client_id=str(client_id)[:200],
            issuer=issuer,
            org_id=org,
            customer_ref=customer,
            scopes=frozenset(scopes),
            expires_at=int(exp) if isinstance(exp, (int, float)) else None,
        )


def metadata_urls(issuer: str) -> list[str]:
    """Where an issuer's metadata lives: RFC 8414 (path inserted) first, then OpenID discovery."""
    from urllib.parse import urlsplit

    parts = urlsplit(issuer)
    origin, path = f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")
    return [f"{origin}/.well-known/oauth-authorization-server{path}", f"{issuer}/.well-known/openid-configuration"]


def _has_kid(keys: Any, kid: str) -> bool:
    return any(k.kid == kid for k in keys.keys)


async def _get_json(url: str) -> dict[str, Any]:
    import httpx

    async with httpx.AsyncClient(timeout=_HTTP_TIMEOUT_S, follow_redirects=False) as client:
        response = await client.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise ValueError(f"GET {url}: HTTP {response.status_code}")
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError(f"GET {url}: not a JSON object")
    return body
