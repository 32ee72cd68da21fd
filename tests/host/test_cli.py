"""The host's CLI: import-legacy, review list/show/resolve, and a piped `chat` session."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from host import cli
from host.review_cli import app as review_app
from tests.host.test_legacy import LEGACY

runner = CliRunner()
SCRIPT = str(Path(__file__).with_name("stdio_orders.py"))


def _app(*commands) -> typer.Typer:
    app = typer.Typer()
    for command in commands:
        app.command()(command)
    app.command("noop")(lambda: None)  # two commands keep Typer in group mode
    return app


def test_import_legacy_and_review_queue(sb_env):
    app = _app(cli.import_legacy)
    result = runner.invoke(app, ["import-legacy", str(LEGACY), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["imported"]["review_queue"] == 6 and report["skipped"] == []

    listed = runner.invoke(review_app, ["list", "--json"])
    assert listed.exit_code == 0, listed.output
    items = json.loads(listed.stdout)
    assert len(items) == 6 and {i["status"] for i in items} == {"Open"}
    item_id = items[0]["id"]

    shown = runner.invoke(review_app, ["show", item_id])
    assert shown.exit_code == 0 and "후속 지원 요청" in shown.stdout

    refused = runner.invoke(review_app, ["resolve", item_id, "--approve"])
    assert refused.exit_code == 2 and "nothing to approve" in refused.output
    done = runner.invoke(review_app, ["resolve", item_id, "--note", "called back", "--by", "kim", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["status"] == "Resolved"
    again = runner.invoke(review_app, ["resolve", item_id])
    assert again.exit_code == 2 and "CONFLICT" in again.output
    bad = runner.invoke(review_app, ["list", "--status", "Whatever"])
    assert bad.exit_code == 2


def test_import_legacy_reports_a_missing_folder(sb_env, tmp_path):
    result = runner.invoke(_app(cli.import_legacy), ["import-legacy", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output


@pytest.mark.parametrize(
    ("option", "value", "said"), [("--channel", "fax", "unknown channel 'fax'"), ("--language", "fr", "ko or en")]
)
def test_chat_refuses_an_unknown_channel_or_language_before_starting(sb_env, option, value, said):
    result = runner.invoke(_app(cli.chat), ["chat", "--org", "demo", option, value], input="/end\n")
    assert result.exit_code == 2, result.output
    assert "INVALID_ARGUMENT" in result.output and said in result.output


@pytest.mark.parametrize(
    ("provider", "said"),
    [
        ("gpt", "unknown model provider 'gpt'"),
        ("anthropic", "needs ANTHROPIC_API_KEY"),
        ("openai", "needs OPENAI_API_KEY"),
    ],
)
def test_an_explicit_provider_that_cannot_answer_is_an_error_not_a_traceback_or_a_silent_fallback(
    sb_env, monkeypatch, provider, said
):
    """A newcomer walk: `--provider gpt` printed a traceback; `--provider anthropic` without a key
    said so in a note and ran the offline planner, exit 0."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    result = runner.invoke(_app(cli.chat), ["chat", "--org", "demo", "--provider", provider], input="/end\n")
    assert result.exit_code == 2 and "INVALID_ARGUMENT" in result.output and said in result.output, result.output
    assert "Traceback" not in result.output


def test_chat_session_from_piped_input(sb_env):
    from core.db import dispose_engines
    from tests.host.servers import publish_agent

    async def publish() -> None:
        try:
            await publish_agent(
                "demo",
                {"orders": (None, "1.0.0", [sys.executable, SCRIPT])},
                ["orders@1.0.0:get_order:confirm", "orders@1.0.0:get_refund_status"],
                risks={"orders": {"*": "read"}},
            )
        finally:
            import audit

            await audit.close()
            await dispose_engines()

    asyncio.run(publish())
    # a message over the limit is refused alone: the chat goes on (a walk: it ended the chat, exit 2)
    lines = (
        "가" * 4100 + "\n환불 진행 상황을 알고 싶습니다.\n주문번호는 8841입니다.\n/yes\n상담원 연결해 주세요\n/end\n"
    )
    result = runner.invoke(
        _app(cli.chat), ["chat", "--agent", "cs-agent", "--org", "demo", "--customer", "c-1", "--json"], input=lines
    )
    assert result.exit_code == 0, result.output
    events = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    kinds = [e["type"] for e in events]
    assert kinds[0] == "session.started" and kinds[-1] == "chat.ended"
    assert kinds.count("message.refused") == 1 and "4,100 characters" in result.stderr
    prompt = next(e for e in events if e["type"] == "confirmation.requested")
    assert prompt["prompt"] == "주문번호 8841로 조회해도 될까요?"
    started = [e["exposed_name"] for e in events if e["type"] == "tool.started"]
    assert started == ["orders__get_order", "orders__get_refund_status"]
    assert any(e["type"] == "escalated" for e in events)
    assert events[-1]["outcome"] == "이관"


def test_chat_says_a_missing_api_key_once(sb_env):
    """A walk: `chat --agent refund-desk@1` without ANTHROPIC_API_KEY printed the fallback warning
    twice, once plain (the runtime's log) and once as the chat's `note`."""
    import os
    import subprocess

    from core.db import dispose_engines
    from tests.host.servers import publish_agent

    async def publish() -> None:
        try:
            await publish_agent(
                "demo",
                {"orders": (None, "1.0.0", [sys.executable, SCRIPT])},
                ["orders@1.0.0:get_order:confirm"],
                slug="refund-desk",
                model="anthropic:claude-sonnet-4-5",
            )
        finally:
            import audit

            await audit.close()
            await dispose_engines()

    asyncio.run(publish())
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY")}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("switchboard")), "chat", "--agent", "refund-desk@1", "--org", "demo"],
        input="/end\n",
        env={**env, **sb_env, "COLUMNS": "200"},
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    said = (done.stdout + done.stderr).count("ANTHROPIC_API_KEY is not set")
    assert said == 1, done.stderr
