"""The newcomer's first hour (issue 18), walked literally in CI on one fresh data home.

Follows README.md and the docs as a developer would: `make demo`'s command, the next commands
the demo prints (executed as printed), a KB from three files, a new agent version with
`--from`, a chat with a cited answer, an HTTP server with a customer token called by a real MCP
client, and the traps the issue found (a read-only command in the wrong home, `--org` over
HTTP, a 401 without a body). Every step runs the installed `switchboard` console script.
Steps share the home, so they run in file order; a failed step makes the later ones fail.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SB = str(Path(sys.executable).with_name("switchboard"))
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


class Walk:
    """One shell: an environment (SWITCHBOARD_HOME after the `export`) and a working directory."""

    def __init__(self, tmp: Path) -> None:
        self.cwd = tmp / "work"
        self.cwd.mkdir()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        self.env.update({"ANONYMIZED_TELEMETRY": "False", "COLUMNS": "200", "HOME": str(tmp / "user")})
        self.env["PATH"] = f"{Path(SB).parent}{os.pathsep}{self.env.get('PATH', '')}"
        self.demo_home = tmp / "checkout" / ".sbhome" / "demo"
        self.demo_output = ""

    def sb(
        self, *args: str, stdin: str | None = None, timeout: float = 240, check: bool = True
    ) -> subprocess.CompletedProcess:
        proc = subprocess.run(
            [SB, *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            timeout=timeout,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"switchboard {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def shell_line(self, line: str, **kwargs) -> subprocess.CompletedProcess | None:
        """Run one printed command line as a user would paste it (export changes this shell)."""
        words = shlex.split(line)
        if words[0] == "export":
            key, _, value = words[1].partition("=")
            self.env[key] = value
            return None
        assert words[0] == "switchboard", line
        return self.sb(*words[1:], **kwargs)


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Walk:
    return Walk(tmp_path_factory.mktemp("newcomer"))


def test_readme_says_how_to_put_the_cli_on_path_and_where_demo_data_lives() -> None:
    assert "source .venv/bin/activate" in README
    assert "export SWITCHBOARD_HOME" in README
    assert re.search(
        r"^demo: install\n\tSWITCHBOARD_HOME=\$\(SWITCHBOARD_DEMO_HOME\) \$\(VENV\)/bin/switchboard demo --reset$",
        MAKEFILE,
        re.M,
    ), "the walk runs exactly what `make demo` runs"


def test_a_read_only_command_in_the_wrong_home_says_where_it_looked_and_creates_nothing(walk: Walk) -> None:
    # docs/host.md's chat command, typed before pointing SWITCHBOARD_HOME at the demo's data
    proc = walk.sb("chat", "--customer", "C-1001", stdin="안녕하세요\n", check=False)
    default_home = Path(walk.env["HOME"]) / ".local" / "share" / "switchboard"
    assert proc.returncode == 2  # NOT_FOUND, the exit status of every error
    assert "NOT_FOUND" in proc.stderr and str(default_home) in proc.stderr
    assert "export SWITCHBOARD_HOME" in proc.stderr
    assert not (default_home / "switchboard.db").exists(), "a read-only command created a database"
    for args in (["kb", "list", "--org", "demo"], ["memory", "list", "--org", "demo", "--customer", "C-1001"]):
        assert walk.sb(*args, check=False).returncode == 2
    assert not (default_home / "switchboard.db").exists()


def test_make_demo_answers_with_a_citation_and_prints_its_home_and_next_commands(walk: Walk) -> None:
    walk.env["SWITCHBOARD_HOME"] = str(walk.demo_home)  # what the Makefile's demo target sets
    started = time.perf_counter()
    proc = walk.sb("demo", "--reset", timeout=420)
    walk.env.pop("SWITCHBOARD_HOME")  # the user's own shell does not have it
    out = proc.stdout
    walk.demo_output = out
    assert "[출처:" in out, out
    assert "UNAVAILABLE" not in out and "failed" not in out.lower(), out
    assert "kb__search" in out and "✓ audit verify" in out
    assert f"export SWITCHBOARD_HOME={walk.demo_home}" in out
    assert time.perf_counter() - started < 420


def test_the_printed_next_commands_work_as_printed(walk: Walk) -> None:
    lines = walk.demo_output.split("Carry on with it", 1)[1].splitlines()[1:]
    commands = [line.strip() for line in lines if line.strip().startswith(("export ", "switchboard "))]
    assert commands[0].startswith("export SWITCHBOARD_HOME=") and len(commands) >= 4
    for line in commands:
        stdin = "배송비는 얼마인가요?\n/end\n" if " chat " in f" {line} " else None
        proc = walk.shell_line(line, stdin=stdin)
        if proc is not None:
            assert proc.stdout.strip(), line
    assert walk.env["SWITCHBOARD_HOME"] == str(walk.demo_home)


def test_a_kb_from_three_files_is_searchable_and_kb_search_json_matches_the_mcp_tool(walk: Walk) -> None:
    docs = walk.cwd / "사내문서"
    docs.mkdir()
    (docs / "콜백.md").write_text(
        "# 콜백 예약\n\n콜백 예약은 평일 오전 9시부터 오후 6시까지 가능합니다.\n"
        "주말과 공휴일에는 콜백 예약을 받지 않습니다.\n",
        encoding="utf-8",
    )
    (docs / "as.txt").write_text(
        "A/S 접수 안내\n\n무상 A/S 기간은 구매일로부터 1년입니다. 접수 문의: 010-1234-5678, help@example.com\n",
        encoding="utf-8",
    )
    (docs / "store.html").write_text(
        "<html><body><h1>매장 안내</h1><p>강남 매장은 매일 오전 10시부터 오후 9시까지 영업합니다.</p></body></html>",
        encoding="utf-8",
    )
    walk.sb("kb", "create", "사내문서", "--org", "demo", "--description", "콜백·A/S·매장")
    walk.sb("kb", "upload", "사내문서", *(str(p) for p in sorted(docs.iterdir())), "--org", "demo")
    query = "콜백 예약은 주말에도 되나요?"
    result = json.loads(walk.sb("kb", "search", query, "--org", "demo", "--kb", "사내문서", "--json").stdout)
    assert set(result) == {"query", "hits", "searched"}
    assert result["hits"][0]["title"] == "콜백 예약" and "주말" in result["hits"][0]["text"]
    assert [s["kb_name"] for s in result["searched"]] == ["사내문서"]
    assert {h["title"] for h in result["hits"]} <= {"콜백 예약", "A/S 접수 안내", "매장 안내"}

    # the same query through the MCP tool over stdio: the same keys, hit for hit
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    async def via_mcp() -> dict:
        transport = StdioTransport(SB, ["serve", "kb", "--org", "demo"], env=walk.env, cwd=str(walk.cwd))
        async with Client(transport) as client:
            return (await client.call_tool("search", {"query": query, "kb_ids": ["사내문서"]})).structured_content

    import asyncio

    tool = asyncio.run(via_mcp())
    assert set(tool) == set(result)
    assert [set(h) for h in tool["hits"]] == [set(h) for h in result["hits"]]
    assert [h["chunk_id"] for h in tool["hits"]] == [h["chunk_id"] for h in result["hits"]]


def test_a_new_agent_version_from_the_approved_one(walk: Walk) -> None:
    walk.sb("registry", "agent", "draft", "cs-agent", "--from", "cs-agent@1", "--org", "demo")
    walk.sb("registry", "agent", "approve", "cs-agent@2", "--org", "demo")
    shown = json.loads(walk.sb("registry", "agent", "show", "cs-agent@2", "--org", "demo", "--json").stdout)
    assert len(shown["tools"]) == len(
        json.loads(walk.sb("registry", "agent", "show", "cs-agent@1", "--org", "demo", "--json").stdout)["tools"]
    )


def test_chat_answers_with_a_cited_answer(walk: Walk) -> None:
    proc = walk.sb("chat", "--customer", "C-1001", stdin="교환 배송비는 얼마인가요?\n/end\n")
    assert "KB:" in proc.stdout and "[출처:" in proc.stdout, proc.stdout
    assert "✗" not in proc.stdout, proc.stdout


def test_http_server_with_a_customer_token_and_a_real_mcp_client(walk: Walk) -> None:
    refused = walk.sb("serve", "memory", "--transport", "http", "--org", "demo", check=False)
    assert refused.returncode == 2 and "tokens create" in refused.stderr
    token = json.loads(walk.sb("tokens", "create", "--org", "demo", "--customer", "C-1001", "--json").stdout)
    assert token["customer_ref"] == "C-1001"
    server = subprocess.Popen(
        [SB, "serve", "memory", "--transport", "http", "--port", "0"],
        env=walk.env,
        cwd=walk.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/mcp)", line)
        assert match, f"serve --transport http did not print its URL: {line!r}"
        url = match.group(1)
        _wait_listening(url)
        import httpx

        anonymous = httpx.post(url, json={}, headers={"accept": "application/json, text/event-stream"})
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"].startswith("Bearer")
        assert anonymous.json()["error"] == "invalid_token" and "tokens create" in anonymous.json()["error_description"]

        out = _call_http(url, token["token"], "search_memories", {"query": "통화 선호 시간"})
        assert "search_memories" in out["tools"] and not out["is_error"], out
        assert "오후 2시" in out["text"], out
    finally:
        server.terminate()  # SIGTERM, as systemd, docker and `kill PID` stop a server
        server.wait(15)
    # its last records were signed on the way out: a walk found them "broken" after a SIGTERM
    verified = walk.sb("audit", "verify", "--org", "demo", check=False)
    assert verified.returncode == 0 and "intact" in verified.stdout, verified.stdout + verified.stderr


def _wait_listening(url: str, timeout: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer")


def _call_http(url: str, token: str, tool: str, arguments: dict) -> dict:
    """openai-agents' MCPServerStreamableHttp when tests/.openai-agents exists, else fastmcp's Client."""
    agents_py = os.environ.get("SWITCHBOARD_TEST_OPENAI_AGENTS_PY")
    if agents_py and Path(agents_py).exists():
        script = Path(__file__).with_name("openai_agents_client.py")
        proc = subprocess.run(
            [agents_py, str(script), "http", url, token, tool, json.dumps(arguments, ensure_ascii=False)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)
    import asyncio

    from fastmcp import Client
    from fastmcp.client.auth import BearerAuth

    async def go() -> dict:
        async with Client(url, auth=BearerAuth(token)) as client:
            tools = [t.name for t in await client.list_tools()]
            result = await client.call_tool_mcp(tool, arguments)
        return {"tools": tools, "is_error": bool(result.is_error), "text": result.content[0].text}

    return asyncio.run(go())
