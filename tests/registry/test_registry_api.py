"""The read-only MCP Registry API v0.1, checked against the official response schemas."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from registry import review_version
from registry.api import create_app
from registry.review import change_status
from registry.serverjson import SCHEMA_PATH
from tests.registry.helpers import approve_clean, publish_clean

API_SCHEMA_PATH = SCHEMA_PATH.parent / "registry-api-v0.1.schema.json"
NS = "io.github.switchboard"


def _validator(definition: str) -> Draft202012Validator:
    api = json.loads(API_SCHEMA_PATH.read_text(encoding="utf-8"))
    server = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    registry = Registry().with_resources(
        [(server["$id"], Resource.from_contents(server)), (api["$id"], Resource.from_contents(api))]
    )
    return Draft202012Validator({"$ref": f"{api['$id']}#/$defs/{definition}"}, registry=registry)


SERVER_LIST = _validator("ServerList")
SERVER_RESPONSE = _validator("ServerResponse")
ERROR = _validator("Error")


def _check(validator: Draft202012Validator, body: dict) -> dict:
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == [], errors
    return body


def _official(response: dict) -> dict:
    return response["_meta"]["io.modelcontextprotocol.registry/official"]


def _names(body: dict) -> list[tuple[str, str]]:
    return [(r["server"]["name"].split("/", 1)[1], r["server"]["version"]) for r in body["servers"]]


@pytest.fixture
async def api(db):
    """A registry with approved, deprecated, revoked, pending and rejected versions; an ASGI client."""
    await approve_clean("orders", "1.0.0")
    await approve_clean("orders", "1.1.0")
    await change_status("orders", "1.0.0", "deprecated", reason="use 1.1.0: shipping added", changed_by="rita")
    await publish_clean("orders", "1.2.0")  # pending review: never listed
    for name in ("alpha", "bravo", "charlie"):
        await approve_clean(name, "1.0.0")
    await approve_clean("crm", "1.0.0")
    await change_status("crm", "1.0.0", "revoked", reason="leaked customer data", changed_by="rita")
    await publish_clean("rejected", "1.0.0")
    await review_version("rejected", "1.0.0", approve=False, reason="no", reviewer="rita")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://registry") as c:
        yield c


async def _get(client: httpx.AsyncClient, url: str, status: int = 200, **params) -> dict:
    response = await client.get(url, params=params or None)
    assert response.status_code == status, response.text
    body = response.json()
    if status != 200:
        _check(ERROR, body)
        assert body["error"]
    return body


async def test_list_shows_only_reviewed_versions_with_their_status(api):
    body = _check(SERVER_LIST, await _get(api, "/v0.1/servers"))
    assert _names(body) == [
        ("alpha", "1.0.0"),
        ("bravo", "1.0.0"),
        ("charlie", "1.0.0"),
        ("orders", "1.0.0"),
        ("orders", "1.1.0"),
    ]
    assert body["metadata"] == {"count": 5}
    by_version = {r["server"]["version"]: r for r in body["servers"] if r["server"]["name"] == f"{NS}/orders"}
    deprecated, current = _official(by_version["1.0.0"]), _official(by_version["1.1.0"])
    assert deprecated["status"] == "deprecated" and deprecated["statusMessage"] == "use 1.1.0: shipping added"
    assert deprecated["isLatest"] is False and current["isLatest"] is True and current["status"] == "active"
    assert "statusMessage" not in current
    for stamp in ("publishedAt", "updatedAt", "statusChangedAt"):  # RFC 3339, UTC
        assert current[stamp].endswith("Z") and datetime.fromisoformat(current[stamp]) <= datetime.now(UTC)
    moments = [datetime.fromisoformat(deprecated[k]) for k in ("publishedAt", "statusChangedAt")]
    assert moments[0] < moments[1]  # deprecated after it was published
    assert by_version["1.0.0"]["_meta"][f"{NS}/registry"]["status"] == "deprecated"
    assert set(by_version["1.1.0"]["server"]["_meta"]["io.modelcontextprotocol.registry/publisher-provided"]["tools"])

    # revoked versions appear when deleted ones are asked for, or by updated_since
    with_deleted = _check(SERVER_LIST, await _get(api, "/v0.1/servers", include_deleted="true"))
    crm = [r for r in with_deleted["servers"] if r["server"]["name"] == f"{NS}/crm"]
    assert [(_official(r)["status"], _official(r)["statusMessage"], _official(r)["isLatest"]) for r in crm] == [
        ("deleted", "leaked customer data", False)
    ]
    assert crm[0]["_meta"][f"{NS}/registry"]["status"] == "revoked"
    assert ("rejected", "1.0.0") not in _names(with_deleted) and ("orders", "1.2.0") not in _names(with_deleted)


async def test_cursor_pagination_walks_every_entry_once(api):
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": "2", "include_deleted": "true", **({"cursor": cursor} if cursor else {})}
        body = _check(SERVER_LIST, await _get(api, "/v0.1/servers", **params))
        pages += 1
        assert body["metadata"]["count"] == len(body["servers"]) <= 2
        seen += _names(body)
        cursor = body["metadata"].get("nextCursor")
        if not cursor:
            break
    assert pages == 3 and len(seen) == len(set(seen)) == 6 and seen == sorted(seen)
    for bad in ({"cursor": "not-a-cursor"}, {"cursor": "W10"}, {"limit": "0"}, {"limit": "101"}, {"limit": "ten"}):
        await _get(api, "/v0.1/servers", 400, **bad)
    await _get(api, "/v0.1/servers", 400, include_deleted="maybe")


async def test_search_latest_exact_version_and_updated_since(api):
    assert _names(await _get(api, "/v0.1/servers", search="ORD")) == [("orders", "1.0.0"), ("orders", "1.1.0")]
    assert _names(await _get(api, "/v0.1/servers", search="switchboard/b")) == [("bravo", "1.0.0")]
    assert _names(await _get(api, "/v0.1/servers", search="zzz")) == []
    latest = _check(SERVER_LIST, await _get(api, "/v0.1/servers", version="latest"))
    assert ("orders", "1.1.0") in _names(latest) and ("orders", "1.0.0") not in _names(latest)
    assert all(_official(r)["isLatest"] for r in latest["servers"])
    assert _names(await _get(api, "/v0.1/servers", version="1.1.0")) == [("orders", "1.1.0")]

    future = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert _names(await _get(api, "/v0.1/servers", updated_since=future)) == []
    await asyncio.sleep(0.05)
    mark = datetime.now(UTC)
    await asyncio.sleep(0.05)
    await change_status("orders", "1.1.0", "revoked", reason="bad refund rule", changed_by="rita")
    changed = _check(SERVER_LIST, await _get(api, "/v0.1/servers", updated_since=mark.isoformat()))
    assert _names(changed) == [("orders", "1.1.0")] and _official(changed["servers"][0])["status"] == "deleted"
    # with 1.1.0 revoked, the deprecated 1.0.0 is the latest left
    assert _names(await _get(api, "/v0.1/servers", version="latest", search="orders")) == [("orders", "1.0.0")]
    for bad in ("yesterday", "2026-01-01T00:00:00"):  # no time zone: ambiguous
        await _get(api, "/v0.1/servers", 400, updated_since=bad)


async def test_versions_of_one_server_and_one_version(api):
    body = _check(SERVER_LIST, await _get(api, f"/v0.1/servers/{NS}%2Forders/versions"))
    assert _names(body) == [("orders", "1.1.0"), ("orders", "1.0.0")]  # newest first

    one = _check(SERVER_RESPONSE, await _get(api, f"/v0.1/servers/{NS}%2Forders/versions/1.0.0"))
    assert one["server"]["version"] == "1.0.0" and _official(one)["status"] == "deprecated"
    latest = _check(SERVER_RESPONSE, await _get(api, f"/v0.1/servers/{NS}%2Forders/versions/latest"))
    assert latest["server"]["version"] == "1.1.0"

    # a revoked version is hidden from lists but answers directly, so a client holding the pin learns it
    assert (await _get(api, f"/v0.1/servers/{NS}%2Fcrm/versions"))["servers"] == []
    revoked = _check(SERVER_RESPONSE, await _get(api, f"/v0.1/servers/{NS}%2Fcrm/versions/1.0.0"))
    assert _official(revoked)["status"] == "deleted"
    shown = await _get(api, f"/v0.1/servers/{NS}%2Fcrm/versions", include_deleted="true")
    assert _names(shown) == [("crm", "1.0.0")]

    for url in (
        f"/v0.1/servers/{NS}%2Fnope/versions",
        f"/v0.1/servers/{NS}%2Frejected/versions",  # rejected: never listed
        "/v0.1/servers/com.example%2Forders/versions",  # another namespace
        f"/v0.1/servers/{NS}%2Forders/versions/1.2.0",  # pending review
        f"/v0.1/servers/{NS}%2Forders/versions/9.9.9",
        f"/v0.1/servers/{NS}%2Frejected/versions/latest",
        "/v0.1/servers/..%2F..%2Fetc%2Fpasswd/versions/latest",
    ):
        await _get(api, url, 404)
    response = await api.post(f"/v0.1/servers/{NS}%2Forders/versions/1.0.0", json={})
    assert response.status_code == 405  # read-only


async def test_cli_serves_the_api_over_http(db, sb_env, tmp_path):
    from tests.registry.helpers import free_port

    await approve_clean("orders", "1.0.0")
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "switchboard_cli",
            "registry",
            "serve",
            "--port",
            str(port),
            "--namespace",
            "com.example",
        ],
        env={**sb_env, "PATH": os.environ.get("PATH", "")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        body = None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):
                try:
                    response = await client.get("/v0.1/servers/com.example%2Forders/versions/latest")
                except httpx.TransportError:
                    assert proc.poll() is None, proc.stderr.read().decode()
                    await asyncio.sleep(0.1)
                    continue
                body = _check(SERVER_RESPONSE, response.json())
                break
        assert body is not None and body["server"]["name"] == "com.example/orders"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


async def test_unknown_paths_and_methods_answer_json_errors(api):
    """A walk: `GET …/versions/..%2F..` and `POST /v0.1/publish` got a text/plain 'Not Found'; the
    API promises {"error": …} (and publishing is the CLI's)."""
    for path in ("/v0.1/nothing", "/v0.1/servers/io.github.switchboard%2Forders/versions/..%2F..%2Fx/y", "/"):
        response = await api.get(path)
        assert response.status_code == 404, (path, response.text)
        assert "/v0.1/servers" in _check(ERROR, response.json())["error"], response.text
    for method in ("POST", "PUT", "PATCH", "DELETE"):
        response = await api.request(method, "/v0.1/servers", json={})
        assert response.status_code == 405, (method, response.text)
        said = _check(ERROR, response.json())["error"]
        assert "read-only" in said and "switchboard registry publish" in said, said
    response = await api.post("/v0.1/publish", json={})
    assert response.status_code in (404, 405) and "switchboard registry publish" in response.json()["error"]


async def test_a_foreign_host_header_is_refused_on_a_loopback_bind(db):
    """DNS rebinding: a web page at evil.example whose name now resolves to 127.0.0.1 read the whole
    registry (`Host: evil.example` answered 200). A loopback bind now answers only its own names
    and those given with --allowed-host, like `switchboard serve --transport http`."""
    from registry.api import guard_hosts

    await approve_clean("orders", "1.0.0")
    app = guard_hosts(create_app(), "127.0.0.1", ["registry.internal:8780"])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8780") as client:
        refused = await client.get("/v0.1/servers", headers={"Host": "evil.example:8780"})
        assert refused.status_code == 421, refused.text
        said = _check(ERROR, refused.json())["error"]
        assert "'evil.example:8780'" in said and "--allowed-host evil.example:8780" in said, said
        for host in ("127.0.0.1:8780", "localhost:8780", "[::1]:8780", "registry.internal:8780"):
            response = await client.get("/v0.1/servers", headers={"Host": host})
            assert response.status_code == 200, (host, response.text)
    open_bind = guard_hosts(create_app(), "0.0.0.0", None)  # another machine's balancer: no names to check
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=open_bind), base_url="http://lb:9000") as client:
        assert (await client.get("/v0.1/servers")).status_code == 200


def test_an_allowed_host_that_is_a_url_is_refused():
    from core.errors import SwitchboardError
    from registry.api import guard_hosts

    for value in ("http://registry.internal:8780", "registry.internal/v0.1", ""):
        with pytest.raises(SwitchboardError) as err:
            guard_hosts(create_app(), "127.0.0.1", [value])
        assert err.value.code.value == "INVALID_ARGUMENT" and "NAME:PORT" in err.value.message, err.value.message
