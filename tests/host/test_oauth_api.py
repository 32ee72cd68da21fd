"""The host's REST/WebSocket API as an OAuth 2.1 protected resource, against the real oidc-provider."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.host.test_ws import serve
from tests.oidc.provider import client_token, running_provider

pytestmark = pytest.mark.timeout(120)
ORG = "demo"


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_provider(tmp_path_factory.mktemp("oidc") / "provider.log") as url:
        yield url


@pytest.fixture
async def host(database_url: str, issuer: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """The host app behind the OAuth gate, tokens required; yields its base URL (= the resource)."""
    from host.app import create_app
    from host.oauth_api import HostOAuthGate
    from host.runtime import HostRuntime
    from servers.kit.oauth import OAuthConfig

    monkeypatch.setenv("SWITCHBOARD_OAUTH_ISSUER", issuer)
    monkeypatch.setenv("SWITCHBOARD_OAUTH_LEEWAY", "0")
    config = OAuthConfig.from_env()
    assert config is not None
    holder: dict[str, str] = {}

    class Late:
        """The resource URL is known only once uvicorn picked a port."""

        def __init__(self, app) -> None:
            self.app, self.gate = app, None

        async def __call__(self, scope, receive, send):
            if self.gate is None and scope["type"] != "lifespan":
                self.gate = HostOAuthGate(self.app, config, holder["url"], require_token=True)
            await (self.gate or self.app)(scope, receive, send)

    app = create_app(HostRuntime(connector=lambda pin, env: None), require_token=True)
    async with serve(Late(app)) as address:
        holder["url"] = f"http://{address}"
        yield holder["url"]


def _challenge(response) -> str:
    return response.headers.get("www-authenticate", "")


async def test_host_api_metadata_challenges_scopes_and_customer_binding(host: str, issuer: str) -> None:
    import httpx2

    from servers.kit.tokens import create_token

    async with httpx2.AsyncClient(base_url=host, timeout=30) as http:
        meta = (await http.get("/.well-known/oauth-protected-resource")).json()
        assert meta["resource"] == host and meta["authorization_servers"] == [issuer]
        assert set(meta["scopes_supported"]) == {"host:chat", "host:read"}

        missing = await http.get("/v1/customers/C-1001/sessions")
        assert missing.status_code == 401
        assert f'resource_metadata="{host}/.well-known/oauth-protected-resource"' in _challenge(missing)

        # cc-client tokens are bound to customer C-1001 of org demo (tests/oidc/provider.mjs)
        reader = await client_token(issuer, "cc-client", host, "host:read")
        mine = await http.get("/v1/customers/C-1001/sessions", headers={"Authorization": f"Bearer {reader}"})
        assert mine.status_code == 200 and mine.json() == {"customer_ref": "C-1001", "sessions": []}
        theirs = await http.get("/v1/customers/C-1002/sessions", headers={"Authorization": f"Bearer {reader}"})
        assert theirs.status_code == 403 and theirs.json()["error"]["code"] == "FORBIDDEN"

        chat_only = await client_token(issuer, "cc-client", host, "host:chat")
        refused = await http.get("/v1/customers/C-1001/sessions", headers={"Authorization": f"Bearer {chat_only}"})
        assert refused.status_code == 403
        assert 'error="insufficient_scope"' in _challenge(refused) and 'scope="host:read"' in _challenge(refused)

        orders_token = await client_token(issuer, "cc-client", "http://127.0.0.1:1/mcp", "host:read")
        wrong = await http.get("/v1/customers/C-1001/sessions", headers={"Authorization": f"Bearer {orders_token}"})
        assert wrong.status_code == 401 and 'error="invalid_token"' in _challenge(wrong)

        sbt, _ = await create_token(ORG, label="host-oauth")  # Switchboard's own tokens still work
        own = await http.get("/v1/customers/C-1002/sessions", headers={"Authorization": f"Bearer {sbt}"})
        assert own.status_code == 200

    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosed, InvalidStatus

    address = host.removeprefix("http://")
    async with connect(f"ws://{address}/v1/ws", additional_headers={"Authorization": f"Bearer {chat_only}"}) as ws:
        # authenticated: the host answers the protocol (another customer is refused, before any agent lookup)
        await ws.send(json.dumps({"type": "session.start", "agent": "cs-agent", "customer_ref": "C-1002"}))
        answer = json.loads(await ws.recv())
        assert answer["type"] == "error" and answer["code"] == "FORBIDDEN", answer
    with pytest.raises((InvalidStatus, ConnectionClosed)):
        async with connect(f"ws://{address}/v1/ws", additional_headers={"Authorization": f"Bearer {reader}"}) as ws:
            await ws.recv()  # host:read cannot chat
