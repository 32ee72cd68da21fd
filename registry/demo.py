"""The demo's registry setup: publish the Switchboard servers, approve them, freeze ``cs-agent``.

Idempotent: a server version already published is reused (after checking that the live server
still lists exactly the pinned tools), an approved version stays approved, and an agent version
is approved anew only when the wanted bindings differ from the newest approved one.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import sys
from pathlib import Path

from core.db import get_engine
from core.errors import ErrorCode, SwitchboardError, conflict
from registry.agents import agent_version_info, approve_agent_version, create_agent, draft_agent_version, get_agent
from registry.capture import capture_server
from registry.hashing import definition_sha256, hashed_definition, tool_wire_dict, tools_manifest_sha256
from registry.launch import LaunchSpec
from registry.models import APPROVED, PENDING_REVIEW, AgentVersionInfo, ServerVersionInfo
from registry.pinned import load_agent_version
from registry.publish import publish_capture
from registry.review import review_version
from registry.specs import DEFAULT_TIMEOUT_MS, ToolSpec
from registry.store import find_version_row, version_info

DEMO_AGENT = "cs-agent"
DEMO_ACTOR = "demo"
DEMO_MODEL = "offline:planner"
PROMPT_PATH = Path(__file__).parent / "prompts" / "cs_agent.md"
# Tools the customer confirms before each call ("주문번호 8841로 조회해도 될까요?").
CONFIRM_TOOLS = frozenset({"get_order", "request_refund", "confirm_refund"})
IRREVERSIBLE_TOOLS = frozenset({"request_refund", "confirm_refund", "delete_memory", "delete_all_memories"})
READ_PREFIXES = ("get_", "find_", "search", "list_", "lookup")
# read-only tools whose names say otherwise: verify_caller compares a phone and a name and changes
# nothing; classed as a write, an anonymous caller could never be verified (host/callercheck.py)
READ_TOOLS = frozenset({"verify_caller"})
# Search servers embed queries; their first call on a cold, busy machine can take well over 10 s.
SLOW_SERVERS = frozenset({"kb", "memory"})
SLOW_TIMEOUT_MS = 30_000


def demo_risk_class(tool: str) -> str:
    """The demo reviewer's risk class, decided from the tool's name (never its annotations)."""
    if tool in IRREVERSIBLE_TOOLS or tool.startswith(("delete_", "cancel_", "erase_")):
        return "irreversible"
    if tool in READ_TOOLS or tool.startswith(READ_PREFIXES) or tool.endswith("_history"):
        return "read"
    return "write"


def demo_policy(tool: str) -> str:
    """Confirm with the customer before order lookups, refunds and irreversible actions."""
    return "confirm" if tool in CONFIRM_TOOLS or demo_risk_class(tool) == "irreversible" else "never"


def switchboard_launch(name: str) -> LaunchSpec:
    """How the host starts a bundled server: this venv's ``switchboard serve <name> --trust-meta``."""
    return LaunchSpec.stdio([str(Path(sys.executable).parent / "switchboard"), "serve", name, "--trust-meta"])


def importable_servers(names: list[str]) -> list[str]:
    """The names whose catalog module imports (servers still being written are skipped)."""
    from servers.catalog import SERVERS

    found = []
    for name in names:
        target = SERVERS.get(name)
        if target is None:
            continue
        module = target.split(":")[0]
        try:
            if importlib.util.find_spec(module) is None:
                continue
            importlib.import_module(module)
        except Exception:  # a half-written server is not part of the demo
            continue
        found.append(name)
    return found


async def ensure_server_version(name: str, launch: LaunchSpec) -> ServerVersionInfo:
    """Publish the live server's version (or reuse it when identical) and approve it."""
    capture = await capture_server(launch)
    version = str(capture.server_info.get("version", ""))
    engine = await get_engine()
    async with engine.connect() as conn:
        existing = await find_version_row(conn, name, version)
    if existing is None:
        info = await publish_capture(
            name, version, launch, capture, published_by=DEMO_ACTOR, description=f"Switchboard {name} server"
        )
    else:
        hashes = [
            (d["name"], definition_sha256(d)) for d in (hashed_definition(tool_wire_dict(t)) for t in capture.tools)
        ]
        if tools_manifest_sha256(hashes) != existing["tools_manifest_sha256"]:
            raise conflict(
                f"the live {name} server differs from the published {name}@{version}: "
                "a changed tool needs a new server version (bump its version)"
            )
        async with engine.connect() as conn:
            info = await version_info(conn, name, version)
    if info.status == PENDING_REVIEW:
        risks = {t.name: demo_risk_class(t.name) for t in info.tools}
        info = await review_version(
            name,
            version,
            approve=True,
            reason="demo setup: reviewed by the demo script",
            reviewer=DEMO_ACTOR,
            risks=risks,
            accept_findings=True,
        )
    if info.status != APPROVED:
        raise conflict(f"{name}@{version} is {info.status}: the demo needs an approved version")
    return info


def _wanted(servers: list[ServerVersionInfo]) -> list[ToolSpec]:
    return [
        ToolSpec(
            s.server,
            s.version,
            t.name,
            demo_policy(t.name),
            timeout_ms=SLOW_TIMEOUT_MS if s.server in SLOW_SERVERS else DEFAULT_TIMEOUT_MS,
        )
        for s in servers
        for t in sorted(s.tools, key=lambda t: t.name)
    ]


def _same_bindings(info: AgentVersionInfo, wanted: list[ToolSpec], prompt_sha: str) -> bool:
    have = {
        (t.server_name, t.server_version, t.tool_name, t.policy, t.timeout_ms, t.max_calls_per_turn) for t in info.tools
    }
    want = {(w.server, w.version, w.tool, w.policy, w.timeout_ms, w.max_calls_per_turn) for w in wanted}
    model = f"{info.model_provider}:{info.model_id}"
    return have == want and info.system_prompt_sha256 == prompt_sha and model == DEMO_MODEL


async def publish_and_approve_demo(
    org: str, servers: list[str], *, launches: dict[str, LaunchSpec] | None = None
) -> AgentVersionInfo:
    """Publish and approve each importable Switchboard server in ``servers``; freeze cs-agent for ``org``.

    ``launches`` names how to reach a server (e.g. Streamable HTTP behind a balancer) instead of
    spawning it over stdio. Returns the approved cs-agent version (an existing one when nothing changed).
    """
    from core.canonical import sha256_hex

    names = importable_servers(servers)
    how = {n: (launches or {}).get(n) or switchboard_launch(n) for n in names}
    published = list(await asyncio.gather(*(ensure_server_version(n, how[n]) for n in names)))
    try:
        await get_agent(org, DEMO_AGENT)
    except SwitchboardError as err:
        if err.code != ErrorCode.NOT_FOUND:
            raise
        await create_agent(org, DEMO_AGENT, created_by=DEMO_ACTOR)
    prompt = PROMPT_PATH.read_text(encoding="utf-8")
    wanted = _wanted(published)
    try:
        current = await load_agent_version(org, DEMO_AGENT)
    except SwitchboardError as err:
        if err.code != ErrorCode.NOT_FOUND:
            raise
    else:
        latest = await agent_version_info(org, DEMO_AGENT, current.version)
        if _same_bindings(latest, wanted, sha256_hex(prompt)):
            return latest
    draft = await draft_agent_version(
        org, DEMO_AGENT, model=DEMO_MODEL, system_prompt=prompt, tools=wanted, drafted_by=DEMO_ACTOR
    )
    return await approve_agent_version(org, DEMO_AGENT, draft.version, approved_by=DEMO_ACTOR)
