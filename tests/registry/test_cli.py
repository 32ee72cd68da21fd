"""``switchboard registry`` end to end through the real CLI (in-process Typer runner)."""

from __future__ import annotations

import asyncio
import json
import sys

from typer.testing import CliRunner

from switchboard_cli import build_app
from tests.registry.helpers import FIXTURES, publish_clean

runner = CliRunner()
app = build_app()


def sb(*args: str, ok: bool = True):
    result = runner.invoke(app, ["registry", *args])
    if ok:
        assert result.exit_code == 0, (result.output, result.exception)
    return result


def sb_json(*args: str):
    """Run with --json (before any `--`, which starts a launch command) and parse stdout."""
    cut = args.index("--") if "--" in args else len(args)
    return json.loads(sb(*args[:cut], "--json", *args[cut:]).stdout)


def _run(coro):
    async def main():
        from audit import close
        from core.db import dispose_engines

        try:
            return await coro
        finally:
            await close()
            await dispose_engines()  # pooled connections belong to this event loop

    return asyncio.run(main())


def test_publish_review_diff_show_and_freeze_an_agent(db, tmp_path):
    clean = str(FIXTURES / "clean_server.py")
    published = sb_json("publish", "orders", "1.0.0", "--by", "tess", "--", sys.executable, clean, "1.0.0")
    assert published["status"] == "pending_review" and published["tool_count"] == 3
    assert published["launch"]["args"] == [clean, "1.0.0"]

    again = sb("publish", "orders", "1.0.0", "--", sys.executable, clean, "1.0.0", ok=False)
    assert again.exit_code == 2 and "CONFLICT" in again.output and "already published" in again.output
    bad = sb("publish", "orders", "latest", "--", sys.executable, clean, ok=False)
    assert bad.exit_code == 2 and "semver" in bad.output

    _run(publish_clean("orders", "1.1.0"))
    no_risk = sb("review", "orders@1.0.0", "--approve", "--reason", "ok", ok=False)
    assert no_risk.exit_code == 2 and "risk class" in no_risk.output
    reviewed = sb_json(
        "review",
        "orders@1.0.0",
        "--approve",
        "--reason",
        "checked",
        "--by",
        "rita",
        "--risk",
        "*=read",
        "--risk",
        "cancel_order=irreversible",
    )
    assert reviewed["status"] == "approved"
    assert {t["name"]: t["risk_class"] for t in reviewed["tools"]} == {
        "cancel_order": "irreversible",
        "get_order": "read",
        "list_orders": "read",
    }

    diff = sb_json("diff", "orders@1.0.0", "orders@1.1.0")
    assert diff["added"] == ["request_refund"] and diff["removed"] == ["cancel_order"]
    changed = {c["name"]: c for c in diff["changed"]}
    assert changed["get_order"]["fields"] == ["description"]
    assert "+Includes shipping." in changed["get_order"]["description_diff"]
    [schema_change] = changed["list_orders"]["schema_changes"]["inputSchema"]
    assert schema_change == {"op": "changed", "path": "/properties/limit/maximum", "old": 50, "new": 100}
    human = sb("diff", "orders@1.0.0", "orders@1.1.0").stdout
    assert "+ request_refund" in human and "- cancel_order" in human and "~ get_order" in human

    servers = sb_json("servers")
    assert servers == [
        {
            "name": "orders",
            "description": "",
            "owner": "",
            "version_count": 2,
            "latest_version": "1.1.0",
            "latest_status": "pending_review",
        }
    ]
    assert [v["version"] for v in sb_json("versions", "orders")] == ["1.1.0", "1.0.0"]
    shown = sb("show", "orders@1.0.0", "--definitions").stdout
    assert "irreversible" in shown and "Status history" in shown and '"inputSchema"' in shown

    prompt = tmp_path / "prompt.md"
    prompt.write_text("주문번호를 확인한 뒤 조회하세요.", encoding="utf-8")
    org = ["--org", "acme"]
    sb("agent", "create", "cs-agent", *org)
    drafted = sb_json(
        "agent",
        "draft",
        "cs-agent",
        *org,
        "--model",
        "anthropic:claude-sonnet-4-5",
        "--prompt-file",
        str(prompt),
        "--tool",
        "orders@1.0.0:get_order:confirm",
        "--tool",
        "orders@1.0.0:cancel_order:approve:5000",
        "--param",
        "temperature=0.2",
    )
    assert drafted["state"] == "draft" and drafted["version"] == 1
    assert drafted["model_params"] == {"temperature": 0.2}
    approved = sb_json("agent", "approve", "cs-agent@1", *org, "--by", "omar")
    assert approved["state"] == "approved" and len(approved["manifest_sha256"]) == 64
    shown = sb_json("agent", "show", "cs-agent@1", *org)
    assert shown["manifest"] == approved["manifest"]
    assert [t["exposed_name"] for t in shown["manifest"]["tools"]] == ["orders__cancel_order", "orders__get_order"]
    human = sb("agent", "show", "cs-agent", *org).stdout
    assert "Manifest" in human and approved["manifest_sha256"] in human
    assert "\\u000A" not in human and '\n  "format": "switchboard.agent-manifest/1",' in human  # printed as JSON reads
    frozen = sb("agent", "approve", "cs-agent@1", *org, ok=False)
    assert frozen.exit_code == 2 and "frozen" in frozen.output
    listed = sb_json("agent", "list", *org)
    assert [(v["slug"], v["version"], v["state"]) for v in listed] == [("cs-agent", 1, "approved")]
    typo = sb("agent", "list", "--org", f"{org[1]}-typo")  # empty, and the orgs with agents are named
    assert f"orgs that have some: {org[1]}" in " ".join(typo.output.split())

    revoked = sb_json("revoke", "orders@1.0.0", "--reason", "CVE-4", "--by", "sec")
    assert revoked["status"] == "revoked" and revoked["history"][-1]["changed_by"] == "sec"
    final = sb("reinstate", "orders@1.0.0", "--reason", "oops", ok=False)
    assert final.exit_code == 2 and "revoked" in final.output


def test_untrusted_text_is_shown_safely(db):
    from registry.capture import Capture
    from registry.publish import publish_capture
    from tests.registry.helpers import stdio

    tool = {
        "name": "evil",
        "description": "[bold red]fake[/] \u202eoops\u202c",
        "inputSchema": {"type": "object", "additionalProperties": False},
    }
    _run(publish_capture("evil", "1.0.0", stdio("x.py"), Capture({"version": "1.0.0"}, None, [tool]), published_by="e"))
    out = sb("show", "evil@1.0.0").stdout
    assert "[bold red]fake[/]" in out  # markup shown literally, not rendered
    assert "\\u202E" in out and "\u202e" not in out  # direction controls made visible
