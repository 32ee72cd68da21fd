"""``switchboard chat``, ``host``, ``demo`` and ``import-legacy``. Heavy imports stay inside commands."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape

from core.cliutil import console, err_console, fail, print_json, run, table

AGENT_HELP = "The agent and optional version: cs-agent (newest approved) or cs-agent@2."
CHAT_CHANNELS = ("chat", "voice", "web")
PROVIDER_HELP = "Override the agent version's model provider: anthropic, openai or offline."


def _check_provider(provider: str | None) -> None:
    """An explicit --provider that cannot answer is an error (exit 2), never a silent offline run."""
    if provider is None:
        return
    from host.providers import explicit_provider_problem

    if problem := explicit_provider_problem(provider):
        fail("INVALID_ARGUMENT", problem)


def _short(sha: str | None, n: int = 12) -> str:
    return (sha or "")[:n]


# --- chat ----------------------------------------------------------------------------------


def chat(
    agent: str = typer.Option("cs-agent", "--agent", help=AGENT_HELP),
    org: str = typer.Option("demo", "--org", envvar="SWITCHBOARD_ORG", help="The tenant."),
    customer: str = typer.Option(None, "--customer", help="The customer (memories and orders are theirs)."),
    provider: str = typer.Option(None, "--provider", help=PROVIDER_HELP),
    language: str = typer.Option(None, "--language", help="ko or en (default: from the first message)."),
    channel: str = typer.Option(
        "chat", "--channel", help="Where answers are said: chat or voice (plain text), web (Markdown kept)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print every server event as a JSON line."),
) -> None:
    """Talk to an agent version in the terminal: tool calls, confirmations and escalations are shown.

    Type a message and press Enter. `/yes` and `/no` answer a confirmation, `/end` ends the
    session (summary and outcome), Ctrl-D quits. Lines can also be piped in.
    """
    if channel not in CHAT_CHANNELS:
        fail("INVALID_ARGUMENT", f"unknown channel {channel!r}: use one of {', '.join(CHAT_CHANNELS)}")
    if language not in (None, "ko", "en"):
        fail("INVALID_ARGUMENT", f"unknown language {language!r}: use ko or en")
    _check_provider(provider)
    run(lambda: _chat(agent, org, customer, provider, language, json_output, channel))


async def _chat(
    agent: str,
    org: str,
    customer: str | None,
    provider: str | None,
    language: str | None,
    json_output: bool,
    channel: str = "chat",
) -> None:
    import asyncio
    import json

    from host.engine import MAX_UTTERANCE
    from host.runtime import HostRuntime
    from host.warmup import warm_analysers

    runtime = HostRuntime(provider_override=provider, log_notes=False)  # its notes are printed below
    view = _ChatView(json_output)
    try:
        with console.status(f"connecting to the servers of {agent} and loading their models…", spinner="dots"):
            await runtime.warm(org, agent)  # so the first question does not wait for a model load
            await warm_analysers()
            conv = await runtime.start_session(
                org, agent, customer_ref=customer, channel=channel, language=language, emit=view.event
            )
        for note in runtime.notes:
            err_console.print(f"[yellow]note[/] {note}")
        if not json_output:
            console.print("[dim]Type a message; /yes /no answer a confirmation, /end ends the session.[/]")
        interactive = sys.stdin.isatty()
        while True:
            line = await asyncio.to_thread(_read_line, interactive and not json_output)
            if line is None or line.strip() in ("/end", "/quit", "/exit"):
                break
            text = line.strip()
            if not text:
                continue
            if not interactive and not json_output:
                console.print(f"[bold]고객>[/] {text}")
            if text.startswith("/") and text not in ("/yes", "/no") and " " not in text:
                # "/foo": a mistyped command, never said to the agent as the customer's words
                err_console.print(
                    f"[yellow]unknown command {escape(text)}[/]: /yes and /no answer a confirmation, /end ends"
                )
                continue
            if text in ("/yes", "/no"):
                if not conv.state.pending:
                    console.print("[yellow]there is no confirmation to answer[/]")
                    continue
                await conv.confirmation_response(text == "/yes")
            elif len(text) > MAX_UTTERANCE:  # one message too long: said, and the chat goes on
                err_console.print(
                    f"[red]error[/] [INVALID_ARGUMENT] the message is {len(text):,} characters; the limit is "
                    f"{MAX_UTTERANCE:,}: say it in shorter messages"
                )
                if json_output:
                    sys.stdout.write(json.dumps({"type": "message.refused", "code": "INVALID_ARGUMENT"}) + "\n")
            else:
                await conv.user_message(text)
        ended = await conv.end()
        if json_output:
            sys.stdout.write(json.dumps({"type": "chat.ended", **ended}, ensure_ascii=False) + "\n")
    finally:
        await runtime.close()


def _read_line(prompt: bool) -> str | None:
    try:
        return console.input("[bold]고객> [/]") if prompt else sys.stdin.readline() or None
    except EOFError:
        return None


class _ChatView:
    """Renders the engine's events in the terminal (or as JSON lines)."""

    def __init__(self, json_output: bool) -> None:
        self.json_output = json_output
        self.streaming = False
        self.streamed: set[str] = set()  # turns whose reply was printed as it streamed

    async def event(self, kind: str, payload: dict[str, Any]) -> None:
        if self.json_output:
            import json

            sys.stdout.write(json.dumps({"type": kind, **payload}, ensure_ascii=False, default=str) + "\n")
            sys.stdout.flush()
            return
        if kind == "assistant.delta":
            self.streamed.add(payload.get("turn_id") or "")
            if not self.streaming:
                console.print("[bold green]상담봇>[/] ", end="")
                self.streaming = True
            console.print(payload["text"], end="", markup=False, highlight=False)
            return
        if self.streaming and kind != "assistant.delta":
            console.print()
            self.streaming = False
        if kind == "session.started":
            disabled = payload.get("disabled_tools") or []
            console.print(
                f"[bold]{payload['agent']}[/] session {payload['session_id']} · provider {payload['provider']} · "
                f"{len(payload.get('tools', []))} tools · {payload.get('memories', 0)} memories recalled"
            )
            for item in disabled:
                console.print(f"  [red]disabled[/] {item['exposed_name']}: {item['reason']}")
        elif kind == "tool.started":
            where = f"{payload['server_name']}@{payload['server_version']}"
            digest = _short(payload["definition_sha256"])
            console.print(
                f"  [cyan]→ {payload['exposed_name']}[/] {payload.get('arguments')} [dim]{where} def {digest}[/]"
            )
        elif kind == "tool.completed":
            mark = "[green]✓[/]" if payload["ok"] else f"[red]✗ {payload.get('error_code')}[/]"
            console.print(f"  {mark} {payload['exposed_name']} [dim]{payload['latency_ms']:.0f} ms[/]")
        elif kind == "confirmation.requested":
            console.print(f"[bold yellow]상담봇 (확인)>[/] {payload['prompt']}  [dim](/yes, /no or a correction)[/]")
        elif kind == "escalated":
            console.print(f"  [magenta]⇪ escalated[/]: {payload['reason']} [dim](review {payload['review_id']})[/]")
        elif kind == "assistant.message":
            if payload.get("turn_id") not in self.streamed:  # e.g. the reply to an escalation
                console.print("[bold green]상담봇>[/] ", end="")
                console.print(payload.get("text") or "", markup=False, highlight=False)
            refs = payload.get("kb_references") or []
            if refs:
                cited = ", ".join(f"{r.get('title')} v{r.get('version')}#{r.get('chunk_id')}" for r in refs[:3])
                console.print(f"  [dim]KB: {cited}[/]")
        elif kind == "error":
            console.print(f"  [red]error[/] [{payload.get('code')}] {payload.get('message')}")
        elif kind == "session.ended":
            console.print(f"[bold]session ended[/]: {payload['outcome']} — {payload['summary']}")


# --- host ----------------------------------------------------------------------------------


def host(
    port: int = typer.Option(8770, "--port", help="TCP port."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="Address to listen on (loopback by default)."),
    org: str = typer.Option(
        None, "--org", envvar="SWITCHBOARD_ORG", help="Tenant for clients without a token (omit to require tokens)."
    ),
    require_token: bool = typer.Option(False, "--require-token", help="Refuse clients without a bearer token."),
    provider: str = typer.Option(None, "--provider", help=PROVIDER_HELP),
    json_output: bool = typer.Option(False, "--json", help="Print the listening address as JSON."),
    max_connections: int = typer.Option(
        None, "--max-connections", help="Open WebSockets allowed across ALL workers on this database (0: no limit)."
    ),
    max_connections_per_org: int = typer.Option(
        None, "--max-connections-per-org", help="Open WebSockets per tenant across all workers (0: no limit)."
    ),
    turns_per_minute: int = typer.Option(
        None, "--turns-per-minute", help="Turns per tenant per minute across all workers (0: no limit)."
    ),
) -> None:
    """Serve the WebSocket conversation API (/v1/ws) plus GET /v1/sessions/{id},
    /v1/customers/{ref}/sessions and /healthz.

    Run several on one database behind a load balancer (docs/scale-out.md): any worker carries
    on any session, and the limits hold across all of them (also from SWITCHBOARD_HOST_* env).
    """
    _check_provider(provider)
    import uvicorn

    from host.app import create_app
    from host.limits import LimitSettings
    from host.runtime import HostRuntime
    from host.worker import Worker

    if not org and not require_token:
        require_token = True
    shared = LimitSettings.from_env(
        max_connections=max_connections,
        max_connections_per_org=max_connections_per_org,
        turns_per_minute=turns_per_minute,
    )
    worker = Worker(address=f"{bind}:{port}", limits=shared)
    app = create_app(
        HostRuntime(provider_override=provider), default_org=org, require_token=require_token, worker=worker
    )
    from host.oauth_api import with_oauth

    app = with_oauth(app, f"http://{bind}:{port}", require_token=require_token)  # OAuth when configured
    if json_output:
        print_json({"url": f"ws://{bind}:{port}/v1/ws", "org": org, "require_token": require_token})
    else:
        who = f"org {org} without a token" if org and not require_token else "bearer tokens only"
        console.print(f"[green]✓[/] host on ws://{bind}:{port}/v1/ws ({who}); Ctrl-C stops it")
    uvicorn.run(app, host=bind, port=port, log_level="warning", ws_per_message_deflate=False)


# --- demo ----------------------------------------------------------------------------------


def demo(
    reset: bool = typer.Option(False, "--reset", help="Start from an empty data directory (SWITCHBOARD_HOME)."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Run the offline demo: set up the demo shop, publish and approve the servers, then a scripted
    Korean call through the host (confirmation, KB citation, escalation) and verify the audit log."""
    from host.demo import DemoReport

    report: DemoReport = run(lambda: _demo(reset, json_output))
    if json_output:
        print_json({**report.to_dict(), "ok": report.ok})
    else:
        _print_demo(report)
        _print_demo_outcome(report)
    if not report.ok:
        raise typer.Exit(1)


def _print_demo_outcome(report: Any) -> None:
    """The failures (exit 1), or where the data lives and what to run next."""
    for failure in report.failures:
        err_console.print(f"[bold red]✗ demo failed[/]: {failure}", soft_wrap=True)
    if report.failures:
        err_console.print("[dim]The server logs are under the data directory's logs/ folder.[/]")
        return
    console.print(f"\n[bold]Your demo data is in[/] {report.home}")
    console.print("Carry on with it (the CLI uses this directory only when SWITCHBOARD_HOME names it):")
    for command in report.next_commands:
        console.print(f"  {command}", markup=False, highlight=False, soft_wrap=True)


async def _demo(reset: bool, json_output: bool) -> Any:
    from host.demo import run_demo

    async def step(label: str, factory: Any) -> Any:
        started = time.perf_counter()
        if json_output:
            return await factory()
        with console.status(f"{label}…", spinner="dots"):
            result = await factory()
        console.print(f"[green]✓[/] {label} [dim]({time.perf_counter() - started:.1f} s)[/]")
        return result

    return await run_demo(reset=reset, step=step)


def _print_demo(report: Any) -> None:
    from rich.panel import Panel

    console.print()
    lines = []
    for item in report.transcript:
        if item["role"] == "customer":
            lines.append(f"[bold]고객[/]    {item['text']}  [dim](ASR {item['asr_confidence']:.2f})[/]")
        else:
            tag = {"confirm": "  [yellow][확인 요청][/]", "escalation": "  [magenta][상담원 연결][/]"}.get(
                item.get("kind"), ""
            )
            lines.append(f"[bold green]상담봇[/]  {item['text']}{tag}")
    console.print(Panel("\n".join(lines), title=f"{report.agent} · session {report.session_id}", expand=False))
    console.print("[bold]Tool calls[/] (each through the gateway: pinned definition, policy, audit pair)")
    for i, c in enumerate(report.tool_calls, 1):
        result = "[green]ok[/]" if c["ok"] else f"[red]{c.get('error_code')}[/]"
        console.print(
            f"  {i}. [cyan]{c['exposed_name']}[/] · {c['server_name']}@{c['server_version']} · "
            f"def {_short(c['definition_sha256'])} · {c.get('policy')} · {result} · [dim]{c['latency_ms']:.0f} ms[/]"
        )
    console.print(f"agent version {report.agent_version_id} · manifest {_short(report.manifest_sha256, 16)}")
    ended = report.ended
    console.print(f"session ended: outcome [bold]{ended.get('outcome')}[/] · summary: {ended.get('summary')}")
    for audit in report.audit:
        if audit["ok"]:
            console.print(
                f"[green]✓ audit verify[/] org {audit['org_id']}: {audit['records']} records, "
                f"chain intact (seq {audit['first_seq']}..{audit['last_seq']})"
            )
        else:
            where = f"broken at seq {audit['broken_seq']}: {audit['reason']}"
            console.print(f"[red]✗ audit verify[/] org {audit['org_id']}: {where}")
    for note in report.notes:
        console.print(f"[yellow]note[/] {note}")
    console.print(f"[dim]demo finished in {report.seconds:.1f} s[/]")


# --- import-legacy ---------------------------------------------------------------------------


def import_legacy(
    directory: Path = typer.Argument(..., help="Folder with sessions.csv, turns.csv, event_logs.csv, ..."),
    agent_version: str = typer.Option(
        "legacy",
        "--agent-version",
        help="Link the rows to this agent version id or its first 8+ characters (default: the built-in legacy one).",
    ),
    org: str = typer.Option(
        None, "--org", help="Put every session in this org (sessions.csv's org_id is then kept in its metadata)."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Check and report; write nothing."),
    json_output: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Load CSV exports of the existing call-center tables, keeping their ids, linked to a legacy agent version.

    DIRECTORY is read from where you stand, e.g. `switchboard import-legacy tests/host/data/legacy --org demo`
    from the repository root.
    """
    from host.legacy import import_legacy as do_import

    report = run(lambda: do_import(directory, agent_version_id=agent_version, dry_run=dry_run, org_id=org))
    if json_output:
        print_json(report.to_dict())
        return
    console.print(f"[dim]read {report.directory}[/]")
    verb = "would import" if dry_run else "imported"
    rows = [(name, count) for name, count in report.imported.items()]
    console.print(table(f"{verb} (agent version {report.agent_version_id})", ["table", "rows"], rows))
    if report.skipped:
        skipped = [(s["table"], s["line"], s["id"] or "", s["reason"]) for s in report.skipped]
        console.print(table(f"skipped {len(report.skipped)} row(s)", ["table", "line", "id", "reason"], skipped))
    for warning in report.warnings:
        console.print(f"[yellow]note[/] {warning}")
