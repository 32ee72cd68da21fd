"""A small OpenID provider for the console's single sign-on tests: discovery, JWKS, an authorize
endpoint that signs in whoever ``next_user`` names at once, and a token endpoint that checks the
client's credentials (HTTP Basic, client_secret_basic) and the PKCE verifier and returns an RS256 ``id_token``."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

CLIENT_ID = "switchboard-console"
CLIENT_SECRET = "console-secret-for-tests"


class FakeProvider:
    def __init__(self) -> None:
        from joserfc.jwk import RSAKey

        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig", "alg": "RS256"})
        self.jwk = self.key.as_dict(private=False)
        self.issuer = ""
        self.next_user: dict[str, Any] = {}
        self.codes: dict[str, dict[str, Any]] = {}
        self.nonce_override: str | None = None

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize),
                Route("/token", self.token, methods=["POST"]),
            ]
        )

    async def discovery(self, request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
            }
        )

    async def jwks(self, request: Request) -> JSONResponse:
        return JSONResponse({"keys": [self.jwk]})

    async def authorize(self, request: Request) -> RedirectResponse:
        q = request.query_params
        code = secrets.token_urlsafe(16)
        self.codes[code] = {**q, "user": dict(self.next_user)}
        return RedirectResponse(f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}", 302)

    async def token(self, request: Request) -> JSONResponse:
        from joserfc import jwt

        form = await request.form()
        grant = self.codes.pop(str(form.get("code")), None)
        basic = "Basic " + base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if request.headers.get("authorization") != basic:
            return JSONResponse({"error": "invalid_client"}, 401)
        if grant is None:
            return JSONResponse({"error": "invalid_grant"}, 400)
        digest = hashlib.sha256(str(form.get("code_verifier")).encode()).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["code_challenge"]:
            return JSONResponse({"error": "invalid_grant", "error_description": "PKCE"}, 400)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "sub": grant["user"].get("preferred_username", "x"),
            "iat": now,
            "exp": now + 300,
            "nonce": self.nonce_override or grant["nonce"],
            **grant["user"],
        }
        token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, self.key)
        return JSONResponse({"access_token": "at", "token_type": "Bearer", "id_token": token})
