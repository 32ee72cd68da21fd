"""Commands the docs give, checked against the code they describe (a newcomer runs them literally)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_scale_out_publishes_the_version_each_server_reports():
    """A walk: `registry publish orders 1.1.0 --url …` failed: the server reports 1.3.0."""
    from servers import kb_server, memory_server, order_server

    reported = {"orders": order_server.__version__, "kb": kb_server.__version__, "memory": memory_server.__version__}
    text = (ROOT / "docs" / "scale-out.md").read_text(encoding="utf-8")
    published = re.findall(r"registry publish (orders|kb|memory) (\d+\.\d+\.\d+)", text)
    assert published, "docs/scale-out.md no longer shows a publish command"
    for server, version in published:
        assert version == reported[server], f"docs/scale-out.md publishes {server} {version}"


def test_kb_quick_start_uploads_the_bundled_korean_documents():
    """A walk: the quick start uploaded the project's own docs/ (English engineering notes) into
    a Korean customer-service KB."""
    text = (ROOT / "docs" / "kb.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("```", 2)[1]
    uploads = re.findall(r"switchboard kb upload \S+ (\S+)", quick)
    assert uploads, quick
    for target in uploads:
        folder = ROOT / target
        assert folder.is_dir(), target
        docs = sorted(folder.glob("*.md"))
        assert docs and all(re.search("[가-힣]", d.read_text(encoding="utf-8")) for d in docs), target
        assert any("환불" in d.read_text(encoding="utf-8") for d in docs)  # the search that follows finds it


def _scale_out_commands() -> list[str]:
    """The shell lines of docs/scale-out.md's "Running it", in order, continuations joined."""
    text = (ROOT / "docs" / "scale-out.md").read_text(encoding="utf-8")
    section = text.split("## Running it", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [" ".join(line.split()) for line in joined.splitlines() if line.strip()]


def _server_tools() -> dict[str, set[str]]:
    import asyncio

    from servers import catalog
    from servers.kit import ServerLaunch

    async def listed() -> dict[str, set[str]]:
        out = {}
        for name in ("orders", "kb", "memory"):
            tools = await catalog.build(name, launch=ServerLaunch(org_id="demo"), hooks=[]).list_tools()
            out[name] = {t.name for t in tools}
        return out

    return asyncio.run(listed())


def test_scale_out_serves_each_replica_for_the_balancer_url_it_is_published_at():
    """A walk: `serve orders --transport http --port 8765` (as the doc said) refused every request
    through the balancer with HTTP 421: the Host was lb:9001, not its own. kb and memory were
    'and kb, memory' on the same port."""
    lines = _scale_out_commands()
    served = {}
    for line in lines:
        m = re.match(r"switchboard serve (\w+) --transport http .*--port (\d+)", line)
        if m:
            allowed = re.search(r"--allowed-host (\S+)", line)
            assert allowed, f"no --allowed-host for the balancer: {line}"
            served[m.group(1)] = (m.group(2), allowed.group(1))
    published = {}
    for line in lines:
        m = re.match(r"switchboard registry publish (\w+) \S+ --url http://([^/]+)/mcp .*--token-ref (\w+)", line)
        if m:
            published[m.group(1)] = (m.group(2), m.group(3))
    assert set(served) == set(published) == {"orders", "kb", "memory"}, (served, published)
    assert len({port for port, _ in served.values()}) == 3, "two servers on one port"
    for name, (url_host, _ref) in published.items():
        assert served[name][1] == url_host, f"{name}: published at {url_host}, admits {served[name][1]}"
    # the balancer runs before `registry publish` connects to its URL
    first_publish = next(i for i, line in enumerate(lines) if line.startswith("switchboard registry publish"))
    haproxy = next(i for i, line in enumerate(lines) if line.startswith("haproxy -db -f"))
    assert haproxy < first_publish


def test_scale_out_approves_every_tool_and_binds_an_agent_before_the_workers_start():
    """A walk: the doc went from `registry publish` straight to `switchboard host --org demo`; the
    versions stayed pending_review and the first session was 'no agent cs-agent in org demo'."""
    lines = _scale_out_commands()
    tools = _server_tools()
    reviewed = {}
    for line in lines:
        m = re.match(r"switchboard registry review (\w+)@(\S+) --approve .*", line)
        if m:
            classes = dict(re.findall(r"--risk '?([\w*]+)=(\w+)'?", line))
            assert set(classes.values()) <= {"read", "write", "irreversible"}, line
            # every tool by name (docs/registry.md: a '*=read' would retry and run unconfirmed a tool not read)
            assert set(classes) == tools[m.group(1)], f"{m.group(1)}: {set(classes) ^ tools[m.group(1)]}"
            assert all(classes[t] == "irreversible" for t in ("request_refund", "confirm_refund") if t in classes)
            reviewed[m.group(1)] = m.group(2)
    published = dict(re.findall(r"switchboard registry publish (\w+) (\S+) ", "\n".join(lines)))
    assert reviewed == published
    draft = next(line for line in lines if line.startswith("switchboard registry agent draft cs-agent"))
    for server, version, tool in re.findall(r"--tool (\w+)@([\d.]+):(\w+)", draft):
        assert published[server] == version and tool in tools[server], (server, version, tool)
    order = [i for i, line in enumerate(lines) if line.startswith("switchboard registry agent approve cs-agent@1")]
    workers = [i for i, line in enumerate(lines) if line.startswith("switchboard host ")]
    assert order and len(workers) >= 2 and order[0] < min(workers)
    assert any(line.startswith("switchboard orders seed --org demo") for line in lines[: min(workers)])


def test_scale_out_workers_read_the_token_the_publish_names_and_serve_metrics():
    lines = _scale_out_commands()
    refs = set(re.findall(r"--token-ref (\w+)", "\n".join(lines)))
    assert refs == {"SWITCHBOARD_MCP_TOKEN"}
    exports = " ".join(line for line in lines if line.startswith("export "))
    assert 'SWITCHBOARD_MCP_TOKEN="$T"' in exports and "SWITCHBOARD_METRICS=1" in exports
    assert any(line.startswith("T=$(switchboard tokens create --trusted") for line in lines)
    assert any("/metrics" in line for line in lines)
