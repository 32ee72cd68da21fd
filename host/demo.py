"""``switchboard demo``: a scripted Korean customer call through the host, offline, end to end.

Sets up the demo tenant (orders, the demo KB, the customer's memories), publishes and approves
the bundled servers and freezes ``cs-agent`` in the registry, then runs the call with the
offline planner: greeting → refund status question → order number → '주문번호 8841로 조회해도
될까요?' → '네, 맞아요.' → an answer with a citation → '상담원 연결해 주세요' → escalation. It
prints the transcript, every tool call with its server version and pinned definition hash,
and the result of verifying the audit chain.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import invalid
from core.settings import get_settings

DEMO_ORG = "demo"
DEMO_CUSTOMER = "C-1001"  # 김민수, who ordered 8841 (servers/order_server/seed.py)
DEMO_AGENT = "cs-agent"
DEMO_SERVERS = ["orders", "kb", "memory"]
SCRIPT: list[tuple[str, float]] = [
    ("안녕하세요. 상담 도움을 요청합니다.", 0.92),
    ("환불 진행 상황을 알고 싶습니다.", 0.90),
    ("주문번호는 8841입니다.", 0.94),
    ("네, 맞아요.", 0.95),
    ("상담원 연결해 주세요", 0.93),
]
DEMO_MEMORIES = [
    "고객은 오후 2시 이후 통화를 선호함",
    "지난 상담에서 무선 블루투스 이어폰 색상 교환을 문의함",
]
# Everything Switchboard itself writes in a data directory (its home), by name; --reset deletes a
# home holding these only and refuses anything else. tests/host/test_demo_reset.py finds every name
# the code joins to the home and fails on one missing here.
HOME_ENTRIES = frozenset(
    {
        "switchboard.db",  # the SQLite database (core/settings.py), with the sidecars below
        "chroma",  # embedded vector store (servers/retrieval/chroma.py)
        "kb-index",  # KB version indexes and dense matrices (servers/kb_server/indexes.py, densefile.py)
        "kb-embed.lock",  # one embedder at a time (servers/kb_server/vectors.py)
        "kb-embed-remote.lock",  # the same with a Chroma server
        "keys",  # audit HMAC, signing and data-subject keys (audit/keys.py, audit/subjects.py)
        "audit-checkpoints",  # signed audit checkpoints (audit/checkpoints.py)
        "logs",  # spawned servers' stderr (host/connections.py, host/evals/stack.py)
        "console.key",  # the console's session-signing key: `switchboard host` (host/console/security.py)
        "evals",  # `switchboard eval run` reports (host/evals/report.py)
        "cluster",  # `switchboard host --cluster`: HAProxy config and socket (host/cluster.py)
    }
)
# SQLite's and Switchboard's files beside the database: WAL, shared memory, rollback journal, the
# migration lock (core/migrate.py) and the audit journal (audit/journal.py)
_DATABASE_SIDECAR = re.compile(r"switchboard\.db(?:-wal|-shm|-journal|\.migrate\.lock|\.audit-journal)")


def switchboard_made(name: str) -> bool:
    """True when ``name``, an entry of a home, is one Switchboard itself creates there."""
    return name in HOME_ENTRIES or _DATABASE_SIDECAR.fullmatch(name) is not None


@dataclass
class DemoReport:
    """Everything the demo did, for printing or ``--json``."""

    agent: str = ""
    agent_version_id: str = ""
    manifest_sha256: str = ""
    session_id: str = ""
    setup: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    ended: dict[str, Any] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    home: str = ""
    next_commands: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def reset_home() -> Path:
    """Delete the demo's data directory (SQLite only; refuses a directory holding other things)."""
    settings = get_settings()
    if settings.database_url and not settings.resolved_database_url.startswith("sqlite"):
        raise invalid("--reset works with the default SQLite store only: unset SWITCHBOARD_DATABASE_URL")
    home = settings.home
    if home.exists():
        strangers = [p.name for p in home.iterdir() if not switchboard_made(p.name)]
        if strangers:
            raise invalid(
                f"{home} holds files Switchboard did not create ({', '.join(sorted(strangers)[:5])}); "
                "point SWITCHBOARD_HOME at a dedicated demo directory, e.g. SWITCHBOARD_HOME=.sbhome/demo"
            )
        if others := not_demo_data(home / "switchboard.db"):
            raise invalid(
                f"{home} holds data that is not the demo's ({', '.join(others[:5])}); --reset would delete it. "
                "Run the demo in its own directory: SWITCHBOARD_HOME=.sbhome/demo switchboard demo --reset "
                "(or `make demo`)"
            )
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    return home


# what the demo itself writes beside its own org: the audit log's system org, the registry's three
# servers, and the tenants `eval run` makes (eval-…)
_DEMO_SERVERS = frozenset({"orders", "kb", "memory"})
_DEMO_ORGS = frozenset({DEMO_ORG, "switchboard:system"})


def not_demo_data(database: Path) -> list[str]:
    """What the SQLite database at ``database`` holds that the demo did not make: other orgs (a
    token, orders, a KB of one), servers published besides the demo's three. A walk: `switchboard
    tokens create --org mine`, then `switchboard demo --reset` in the same (default) home, and the
    token was gone. Read with sqlite3 directly, before anything else opens the database."""
    import sqlite3

    if not database.is_file():
        return []
    found: set[str] = set()
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            columns = {r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')}
            if "org_id" in columns:
                for (org,) in conn.execute(f'SELECT DISTINCT org_id FROM "{table}" LIMIT 50'):
                    if org is None and table == "api_token":
                        found.add("a service token")
                    elif org is not None and org not in _DEMO_ORGS and not str(org).startswith("eval-"):
                        found.add(f"org {org}")
        if "mcp_server" in tables:
            for (name,) in conn.execute("SELECT name FROM mcp_server"):
                if name not in _DEMO_SERVERS:
                    found.add(f"server {name}")
    except sqlite3.Error:
        return ["a database the demo cannot read"]
    finally:
        conn.close()
    return sorted(found)


async def setup_tenant(step: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]]) -> Any:
    """Orders, KB, memories, registry: each step reports through ``step(label, coro_factory)``."""
    from core.db import get_engine
    from registry.demo import publish_and_approve_demo
    from servers.kb_server.demo import embed_demo, load_demo
    from servers.order_server.seed import seed

    await step("database migrated", get_engine)
    await step("demo orders seeded (order 8841: card refund in progress)", lambda: seed(DEMO_ORG))
    await step("demo knowledge base loaded (keyword index ready)", lambda: load_demo(DEMO_ORG))
    await step("demo knowledge base embedded (semantic search ready)", lambda: embed_demo(DEMO_ORG))
    await step(f"memories of customer {DEMO_CUSTOMER} added", _add_memories)
    return await step(
        "servers published and approved; cs-agent frozen",
        lambda: publish_and_approve_demo(DEMO_ORG, DEMO_SERVERS),
    )


async def _add_memories() -> int:
    from servers.memory_server.extract import from_text
    from servers.memory_server.scope import Scope
    from servers.memory_server.service import get_service

    scope = Scope(DEMO_ORG, DEMO_CUSTOMER, actor="demo")
    outcomes = await get_service().add(scope, [from_text(t) for t in DEMO_MEMORIES])
    return len(outcomes)


async def run_call(report: DemoReport, *, on_event: Callable[[str, dict[str, Any]], Awaitable[None]] | None) -> None:
    """The scripted call through a real host runtime (stdio servers, gateway, audit)."""
    from host.runtime import HostRuntime
    from host.warmup import warm_analysers

    runtime = HostRuntime(provider_override="offline")

    async def collect(kind: str, payload: dict[str, Any]) -> None:
        report.events.append({"type": kind, **payload})
        if on_event is not None:
            await on_event(kind, payload)

    try:
        # connect and warm the pinned servers before the customer speaks (as `switchboard host` does)
        await runtime.warm(DEMO_ORG, DEMO_AGENT)
        await warm_analysers()  # the host's own: the reply reader and the KB tokenizer
        conv = await runtime.start_session(
            DEMO_ORG, DEMO_AGENT, customer_ref=DEMO_CUSTOMER, channel="유선", language="ko", emit=collect
        )
        report.agent = conv.profile.ref
        report.agent_version_id = conv.profile.agent_version_id
        report.manifest_sha256 = conv.profile.manifest_sha256
        report.session_id = conv.session_id
        tools = {t.exposed_name: t for t in conv.layer.exposed_tools()}
        for tool in tools.values():
            if not tool.enabled:
                report.notes.append(f"{tool.exposed_name} is disabled: {tool.disabled_reason}")
        for text, confidence in SCRIPT:
            result = await conv.user_message(text, asr_confidence=confidence)
            report.transcript.append({"role": "customer", "text": text, "asr_confidence": confidence})
            for call in result.tool_calls:
                tool = tools.get(call["exposed_name"])
                report.tool_calls.append({**call, "policy": tool.effective_policy if tool else None})
            if result.confirm_prompt:
                report.transcript.append({"role": "agent", "text": result.confirm_prompt, "kind": "confirm"})
            elif result.answer:
                report.transcript.append(
                    {
                        "role": "agent",
                        "text": result.answer,
                        "kind": "escalation" if result.escalated else "answer",
                        "kb_references": result.kb_references,
                        "error": result.error,
                    }
                )
        report.ended = await conv.end()
        report.notes.extend(runtime.notes)
        if not any(item.get("kind") == "confirm" for item in report.transcript):
            report.notes.append("no tool call needed the customer's confirmation (see the pinned policies)")
    finally:
        await runtime.close()
    report.failures.extend(check_call(report))


def check_call(report: DemoReport) -> list[str]:
    """What the scripted call promised and did not do (empty when the demo did what it says)."""
    failures = [
        f"tool call {c['exposed_name']} failed: {c.get('error_code')} {c.get('error') or ''}".rstrip()
        for c in report.tool_calls
        if not c["ok"]
    ]
    failures += [note for note in report.notes if " is disabled: " in note]
    answers = [t for t in report.transcript if t["role"] == "agent" and t.get("kind") == "answer"]
    if not any(t.get("kb_references") for t in answers):
        failures.append("no answer cited the knowledge base (expected a [출처: …] citation for the refund question)")
    if not any(t.get("kind") == "confirm" for t in report.transcript):
        failures.append("no tool call asked the customer to confirm the order number")
    if not any(t.get("kind") == "escalation" for t in report.transcript):
        failures.append("'상담원 연결해 주세요' did not escalate to a human")
    return failures


def next_commands(home: Path, database_url: str | None = None) -> list[str]:
    """The commands to carry on with the demo's data (printed after the demo). With the data in
    ``database_url`` (SWITCHBOARD_DATABASE_URL), that is exported too: a new shell without it reads
    the empty SQLite store of the home. Its password is never printed: ``***`` to fill in."""
    from shlex import quote

    exports = [f"export SWITCHBOARD_HOME={quote(str(home))}"]
    if database_url:
        from sqlalchemy.engine import make_url

        parsed = make_url(database_url)
        shown = parsed.render_as_string(hide_password=True)
        note = "  # put the password in place of ***" if parsed.password else ""
        exports.append(f"export SWITCHBOARD_DATABASE_URL={quote(shown)}{note}")
    return [
        *exports,
        f"switchboard chat --customer {DEMO_CUSTOMER}",
        f"switchboard kb search '환불은 언제 되나요?' --org {DEMO_ORG}",
        f"switchboard memory list --org {DEMO_ORG} --customer {DEMO_CUSTOMER}",
        f"switchboard audit verify --org {DEMO_ORG}",
    ]


async def verify_audit() -> list[dict[str, Any]]:
    from audit import verify_all

    return [r.to_dict() for r in await verify_all(DEMO_ORG)]


async def run_demo(
    *,
    reset: bool,
    step: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]],
    on_event: Callable[[str, dict[str, Any]], Awaitable[None]] | None = None,
) -> DemoReport:
    started = time.perf_counter()
    report = DemoReport()
    if reset:
        home = reset_home()
        report.setup.append({"step": f"fresh data directory {home}"})
    report.home = str(get_settings().home)
    await setup_tenant(step)
    await run_call(report, on_event=on_event)
    report.audit = await step("audit chain verified", verify_audit)
    broken = [a for a in report.audit if not a["ok"]]
    report.failures += [f"audit chain of org {a['org_id']} is broken: {a['reason']}" for a in broken]
    report.next_commands = next_commands(get_settings().home, get_settings().database_url)
    report.seconds = round(time.perf_counter() - started, 1)
    return report
