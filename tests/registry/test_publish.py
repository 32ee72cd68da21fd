"""Publishing: real servers over stdio and HTTP, every page of tools, and every refusal."""

from __future__ import annotations

import asyncio
import sys

import pytest
from sqlalchemy import func, select

from core.db import get_engine
from core.errors import SwitchboardError
from registry import LaunchSpec, definition_sha256, publish_version, tools_manifest_sha256
from registry.capture import PUBLISH_ORG
from registry.code import sha256_file
from registry.queries import server_versions, show_version
from registry.tables import mcp_server, mcp_server_version, mcp_tool_definition, server_version_status
from tests.registry.fixtures.poisoned_server import TOOLS as POISONED_TOOLS
from tests.registry.helpers import FIXTURES, fixture_http_server, publish_clean, stdio


async def _row_counts() -> dict[str, int]:
    engine = await get_engine()
    async with engine.connect() as conn:
        return {
            t.name: (await conn.execute(select(func.count()).select_from(t))).scalar()
            for t in (mcp_server, mcp_server_version, mcp_tool_definition, server_version_status)
        }


async def _refused(code: str, *args, **kwargs) -> SwitchboardError:
    before = await _row_counts()
    with pytest.raises(SwitchboardError) as err:
        await publish_version(*args, **kwargs)
    assert err.value.code == code, err.value.message
    assert await _row_counts() == before  # nothing written
    return err.value


async def test_stdio_publish_pins_every_tool_on_every_page_and_lints_each_poison(db):
    await publish_clean("orders", "1.0.0")  # another server, so mentions of its tools are found
    launch = stdio("poisoned_server.py", "2.0.0")
    info = await publish_version("poison", "2.0.0", launch, published_by="tess")

    assert info.status == "pending_review"
    assert info.tool_count == len(POISONED_TOOLS) == 10  # the fixture pages two tools at a time
    assert info.server_info["name"] == "poisoned" and info.server_info["version"] == "2.0.0"
    assert info.launch == {
        "transport": "stdio",
        "command": sys.executable,
        "args": launch.to_dict()["args"],
        "cwd": None,
        "code": {
            "kind": "script",
            "path": str(FIXTURES / "poisoned_server.py"),
            "sha256": sha256_file(FIXTURES / "poisoned_server.py"),
        },
    }
    by_name = {t.name: t for t in info.tools}
    for wire in POISONED_TOOLS:
        pinned = by_name[wire["name"]]
        assert pinned.definition == wire
        assert pinned.definition_sha256 == definition_sha256(wire)
    assert info.tools_manifest_sha256 == tools_manifest_sha256((t.name, t.definition_sha256) for t in info.tools)

    found = {name: {f.rule for f in tool.lint_findings} for name, tool in by_name.items()}
    assert found == {
        "clean_lookup": set(),
        "tag_smuggler": {"unicode-tag"},
        "bidi_trick": {"unicode-bidi"},
        "zero_width": {"unicode-invisible"},
        "english_injection": {"instruction-phrase"},
        "korean_injection": {"instruction-phrase"},
        "link_drop": {"url"},
        "mail_drop": {"email"},
        "shadow_orders": {"cross-server-tool"},
        "open_schema": {"schema-additional-properties"},
    }
    # stored, not just printed
    shown = await show_version("poison@2.0.0")
    assert {f.rule for f in shown.findings} == set().union(*found.values())
    assert [h.status for h in shown.history] == ["pending_review"]
    assert shown.history[0].changed_by == "tess"


async def test_republishing_a_version_is_refused_and_changes_nothing(db):
    await publish_clean("orders", "1.0.0")
    err = await _refused("CONFLICT", "orders", "1.0.0", stdio("clean_server.py", "1.0.0"), published_by="bob")
    assert "already published" in err.message and "immutable" in err.message
    # also refused when the server's tools are identical but captured anew (in-process)
    from tests.registry.fixtures.clean_server import build

    await _refused(
        "CONFLICT", "orders", "1.0.0", stdio("clean_server.py"), published_by="bob", connect_to=build("1.0.0")
    )
    [only] = await server_versions("orders")
    assert only.published_by == "alice"


@pytest.mark.parametrize("version", ["latest", "^1.2", "~1.2.0", ">=1.0.0", "1.2", "v1.2.0", "1.2.x", "01.2.0", ""])
async def test_non_semver_versions_are_refused(db, version):
    err = await _refused("INVALID_ARGUMENT", "orders", version, stdio("clean_server.py"), published_by="bob")
    assert "semver" in err.message


async def test_servers_that_break_the_rules_are_refused(db):
    """serverInfo.version mismatch, duplicate names, no tools, a non-object schema (spawned together)."""
    cases = {
        "mismatch": "version_mismatch_server.py",
        "dupes": "duplicate_names_server.py",
        "empty": "no_tools_server.py",
        "nonobj": "non_object_schema_server.py",
    }
    before = await _row_counts()
    results = await asyncio.gather(
        *(publish_version(name, "1.0.0", stdio(script), published_by="b") for name, script in cases.items()),
        return_exceptions=True,
    )
    errors = dict(zip(cases, results, strict=True))
    assert all(isinstance(e, SwitchboardError) and e.code == "INVALID_ARGUMENT" for e in results), errors
    assert "9.9.9" in errors["mismatch"].message and "1.0.0" in errors["mismatch"].message
    assert "lookup" in errors["dupes"].message and "more than once" in errors["dupes"].message
    assert "no tools" in errors["empty"].message
    assert "inputSchema.type" in errors["nonobj"].message and "object" in errors["nonobj"].message
    assert await _row_counts() == before


async def test_a_command_that_is_not_a_server_is_unavailable(db):
    err = await _refused(
        "UNAVAILABLE", "ghost", "1.0.0", LaunchSpec.stdio(["/nonexistent/mcp-server"]), published_by="bob"
    )
    assert "/nonexistent/mcp-server" in err.message
    err = await _refused(
        "UNAVAILABLE",
        "crash",
        "1.0.0",
        LaunchSpec.stdio([sys.executable, "-c", "import sys; sys.exit('boom-7')"]),
        published_by="bob",
    )
    assert "boom-7" in err.message  # the server's stderr is quoted


@pytest.mark.parametrize(
    ("name", "launch"),
    [
        ("Orders", ["x"]),
        ("orders__x", ["x"]),
        ("", ["x"]),
        ("orders", []),
    ],
)
async def test_bad_names_and_launch_specs_are_refused(db, name, launch):
    with pytest.raises(SwitchboardError) as err:
        await publish_version(name, "1.0.0", LaunchSpec.stdio(launch), published_by="bob")
    assert err.value.code == "INVALID_ARGUMENT"


def test_http_launch_specs_never_hold_credentials():
    with pytest.raises(SwitchboardError):
        LaunchSpec.http("http://user:secret@127.0.0.1:1/mcp")
    with pytest.raises(SwitchboardError):
        LaunchSpec.http("ftp://127.0.0.1/mcp")
    with pytest.raises(SwitchboardError):
        LaunchSpec.http("http://127.0.0.1:1/mcp", token_ref="lower-case")
    spec = LaunchSpec.http("http://127.0.0.1:1/mcp", token_ref="SB_TOKEN")
    assert spec.to_dict() == {"transport": "http", "url": "http://127.0.0.1:1/mcp", "token_ref": "SB_TOKEN"}


async def test_http_publish_with_a_bearer_token(db, sb_env, monkeypatch):
    from servers.kit.tokens import create_token

    token, _ = await create_token("acme", label="registry test")
    async with fixture_http_server(sb_env) as url:
        err = await _refused("UNAVAILABLE", "remote", "1.0.0", LaunchSpec.http(url), published_by="bob")
        assert url in err.message
        # the token is used for the connection and never stored; token_ref names where the host finds it
        monkeypatch.setenv("SB_REMOTE_TOKEN", token)
        info = await publish_version("remote", "1.0.0", LaunchSpec.http(url, "SB_REMOTE_TOKEN"), published_by="bob")
        assert info.launch == {"transport": "http", "url": url, "token_ref": "SB_REMOTE_TOKEN"}
        assert {t.name for t in info.tools} == {"get_order", "list_orders", "cancel_order"}
        assert token not in repr(await show_version("remote@1.0.0"))
        monkeypatch.delenv("SB_REMOTE_TOKEN")
        info = await publish_version("remote2", "1.0.0", LaunchSpec.http(url), published_by="bob", token=token)
        assert info.tool_count == 3


def test_publish_org_is_a_valid_tenant_id():
    from core.context import is_valid_identifier

    assert is_valid_identifier(PUBLISH_ORG)


async def test_http_publish_refused_by_the_server_says_so_and_what_to_pass(db, sb_env):
    """A walk: `registry publish crm 1.4.0 --url URL` without --token (or with a wrong one) said only
    'MCPError: Server returned an error response' (the server's 401 is not a JSON-RPC body)."""
    async with fixture_http_server(sb_env) as url:
        missing = await _refused("UNAVAILABLE", "remote", "1.0.0", LaunchSpec.http(url), published_by="bob")
        assert "HTTP 401" in missing.message and "--token" in missing.message, missing.message
        assert "no token was sent" in missing.message, missing.message
        wrong = await _refused(
            "UNAVAILABLE", "remote", "1.0.0", LaunchSpec.http(url, "SB_T"), published_by="bob", token="sbt_wrong"
        )
        assert "HTTP 401" in wrong.message and "refused the token" in wrong.message, wrong.message
        assert "sbt_wrong" not in wrong.message
