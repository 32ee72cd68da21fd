"""The CLI's errors point a person at CLI commands, never at an MCP tool."""

from __future__ import annotations

from typer.testing import CliRunner

from servers.kb_server.cli import app

runner = CliRunner()


def test_searching_an_unknown_kb_suggests_kb_list_not_a_tool(sb_env, tmp_path):
    """A walk: `kb search --kb nokb` suggested "the list_knowledge_bases tool" to a CLI user."""
    assert runner.invoke(app, ["create", "고객센터", "--org", "acme"]).exit_code == 0
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"query": "환불"}\n', encoding="utf-8")
    for argv in (
        ["search", "환불", "--kb", "nokb", "--org", "acme"],
        ["search", "--file", str(queries), "--kb", "nokb", "--org", "acme"],
    ):
        result = runner.invoke(app, argv)
        text = " ".join(result.output.split())
        assert result.exit_code == 2, text
        assert "no knowledge base 'nokb'" in text and "switchboard kb list --org acme" in text, text
        assert "list_knowledge_bases" not in text and "tool" not in text, text


async def test_the_mcp_tool_still_names_its_tool(database_url):
    import pytest

    from core.errors import SwitchboardError
    from servers.kb_server.lookups import resolve_targets

    with pytest.raises(SwitchboardError, match="list_knowledge_bases tool"):
        await resolve_targets("acme", ["nokb"])
