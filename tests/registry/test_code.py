"""Publish records what a stdio server runs; the host refuses a pinned version whose code changed."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from core.errors import ErrorCode, SwitchboardError
from registry import LaunchSpec, publish_version
from registry.code import code_change, describe, fingerprint
from tests.registry.helpers import FIXTURES
from tests.registry.test_cli import sb

SWITCHBOARD = str(Path(sys.executable).parent / "switchboard")


def test_fingerprints_name_the_package_or_the_entry_file(tmp_path):
    package = fingerprint({"transport": "stdio", "command": SWITCHBOARD, "args": ["serve", "orders"]})
    assert package is not None and package["kind"] == "package" and package["distribution"] == "switchboard"
    module = fingerprint({"transport": "stdio", "command": sys.executable, "args": ["-m", "switchboard_cli"]})
    assert module == package
    script = tmp_path / "server.py"
    script.write_text("print('v1')\n", encoding="utf-8")
    relative = {"transport": "stdio", "command": sys.executable, "args": ["-u", "server.py"], "cwd": str(tmp_path)}
    recorded = fingerprint(relative)
    assert recorded["kind"] == "script" and recorded["path"] == str(script.resolve()) and len(recorded["sha256"]) == 64
    assert "script" in describe(recorded) and "package switchboard" in describe(package)
    # launchers found on PATH start something else: nothing is recorded rather than a wrong hash
    assert fingerprint({"transport": "stdio", "command": "npx", "args": ["-y", "@acme/mcp@1.0.0"]}) is None
    assert fingerprint({"transport": "http", "url": "http://127.0.0.1:1/mcp"}) is None
    assert "cannot tell" in describe(None)


def test_code_change_explains_what_differs(tmp_path):
    script = tmp_path / "server.py"
    script.write_text("print('v1')\n", encoding="utf-8")
    launch = {"transport": "stdio", "command": sys.executable, "args": [str(script)]}
    launch["code"] = fingerprint(launch)
    assert code_change(launch) is None
    script.write_text("print('v2: edited in place')\n", encoding="utf-8")
    assert "changed since publish" in code_change(launch)
    script.unlink()
    assert "gone" in code_change(launch)
    pkg = {"transport": "stdio", "command": SWITCHBOARD, "args": ["serve", "orders"]}
    older = {**pkg, "code": {"kind": "package", "distribution": "switchboard", "version": "0.0.0.dev1"}}
    assert "0.0.0.dev1 was published" in code_change(older) and "installed now" in code_change(older)
    other = {**pkg, "code": {"kind": "package", "distribution": "mcp-server-gone", "version": "1.0.0"}}
    assert "not installed" in code_change(other)
    assert code_change(pkg) is None  # published before fingerprints existed: nothing to compare


async def test_the_host_refuses_a_pinned_version_whose_file_was_edited_in_place(database_url, tmp_path):
    from host.connections import ServerConnection, ServerPin, default_connector

    folder = tmp_path / "orders-server"
    folder.mkdir()
    original = (FIXTURES / "clean_server.py").read_bytes()
    (folder / "server.py").write_bytes(original)
    launch = LaunchSpec.stdio([sys.executable, "server.py", "1.0.0"], cwd=str(folder))
    from tests.registry.fixtures.clean_server import build

    info = await publish_version("orders", "1.0.0", launch, published_by="tess", connect_to=build("1.0.0"))
    assert info.launch["code"]["kind"] == "script" and info.launch["code"]["path"] == str(folder / "server.py")

    spawned: list[str] = []

    def connector(pin, env):
        spawned.append(pin.version)
        return default_connector(pin, env)

    def connection() -> ServerConnection:
        pin = ServerPin("orders", "1.0.0", info.id, info.launch, info.server_info["name"])
        return ServerConnection(pin, org_id="acme", connector=connector)

    assert code_change(info.launch) is None  # unchanged: the host starts it (tests/host spawn such servers)
    (folder / "server.py").write_bytes(original + b"\n# 1.1.0 work, edited in place\n")
    edited = connection()
    with pytest.raises(SwitchboardError) as caught:
        await edited.connect()
    message = caught.value.message
    assert caught.value.code is ErrorCode.UNAVAILABLE and edited.state == "changed"
    assert "orders@1.0.0 is not started" in message and "changed since publish" in message
    assert "docs/registry.md" in message and "--server orders@NEW" in message
    assert spawned == []  # refused before anything was spawned: the edited code never ran

    (folder / "server.py").write_bytes(original)  # restoring the published code makes it usable again
    assert code_change(info.launch) is None


def test_publishing_over_an_edited_file_warns_about_the_older_version(db, tmp_path):
    from tests.registry.fixtures.clean_server import build
    from tests.registry.test_cli import _run

    server = tmp_path / "server.py"
    original = (FIXTURES / "clean_server.py").read_bytes()
    server.write_bytes(original)
    old = LaunchSpec.stdio([sys.executable, str(server), "1.0.0"])
    _run(publish_version("orders", "1.0.0", old, published_by="tess", connect_to=build("1.0.0")))
    server.write_bytes(original + b"\n# the 1.1.0 work, edited in place\n")
    published = sb("publish", "orders", "1.1.0", "--", sys.executable, str(server), "1.1.0").stdout
    said = " ".join(published.split())
    assert "code script" in said and "server.py" in said
    assert "orders@1.0.0:" in said and "changed since publish" in said and "hosts refuse to start it" in said
    assert said.count("hosts refuse to start it") == 1  # 1.1.0 runs what it was published with
    shown = " ".join(sb("show", "orders@1.0.0").stdout.split())
    assert "code script" in shown and "sha256" in shown


def test_a_copied_version_directory_keeps_its_own_fingerprint(tmp_path):
    """The documented layout: one directory per version, so publishing 1.1.0 never touches 1.0.0."""
    v1, v2 = tmp_path / "orders-1.0.0", tmp_path / "orders-1.1.0"
    v1.mkdir()
    (v1 / "server.py").write_text("VERSION = '1.0.0'\n", encoding="utf-8")
    shutil.copytree(v1, v2)
    (v2 / "server.py").write_text("VERSION = '1.1.0'\n", encoding="utf-8")
    first = {"transport": "stdio", "command": sys.executable, "args": ["server.py"], "cwd": str(v1)}
    first["code"] = fingerprint(first)
    second = {**first, "cwd": str(v2)}
    second["code"] = fingerprint(second)
    assert first["code"]["sha256"] != second["code"]["sha256"]
    assert code_change(first) is None and code_change(second) is None
