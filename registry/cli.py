"""``switchboard registry``: publish and review server versions, freeze agent versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from core.cliutil import console, print_json, run, table
from core.clock import shown

app = typer.Typer(
    help="Server versions with pinned tool definitions, reviews, and frozen agent versions.", no_args_is_help=True
)
agent_app = typer.Typer(help="Agents and agent versions: draft, approve (freeze), show.", no_args_is_help=True)
app.add_typer(agent_app, name="agent")

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
BY_OPTION = typer.Option(None, "--by", help="Who is acting (default: $SWITCHBOARD_ACTOR or your user name).")
ORG_OPTION = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help="The tenant the agent belongs to.")


def _actor(by: str | None) -> str:
    from registry.publish import default_actor

    return by or default_actor()


def safe(value: Any) -> str:
    """Untrusted text for the terminal: invisible characters shown as \\uXXXX, Rich markup escaped."""
    from rich.markup import escape

    from registry.lint import visible

    return escape(visible("" if value is None else str(value)))


def _short(sha: str | None) -> str:
    return (sha or "")[:12]


STATUS_STYLE = {
    "approved": "green",
    "pending_review": "yellow",
    "rejected": "red",
    "deprecated": "magenta",
    "revoked": "bold red",
}


def _status(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def _print_findings(findings: list[Any]) -> None:
    if not findings:
        console.print("[green]✓[/] lint: no findings")
        return
    rows = [
        (
            f"[red]{f.severity}[/]" if f.severity == "high" else f.severity,
            f.rule,
            safe(f.tool),
            safe(f.path),
            safe(f.message),
            safe(f.excerpt),
        )
        for f in findings
    ]
    console.print(
        table(f"Lint findings ({len(findings)})", ["severity", "rule", "tool", "where", "what", "excerpt"], rows)
    )


def _print_version(info: Any, *, definitions: bool = False) -> None:
    from registry.launch import LaunchSpec

    console.print(f"[bold]{safe(info.ref)}[/]  {_status(info.status)}")
    console.print(f"  launch      {safe(LaunchSpec.from_dict(info.launch).describe())}")
    if info.launch.get("transport") == "stdio":
        from registry.code import describe

        console.print(f"  code        {safe(describe(info.launch.get('code')))}")
    server_info = info.server_info
    console.print(f"  serverInfo  {safe(server_info.get('name'))} {safe(server_info.get('version'))}")
    console.print(f"  protocol    {safe(info.protocol_version)}")
    console.print(f"  tools sha   {info.tools_manifest_sha256}")
    console.print(f"  published   {shown(info.published_at)} by {safe(info.published_by)}")
    rows = [
        (safe(t.name), t.risk_class or "—", _short(t.definition_sha256), len(t.lint_findings), safe(_first_line(t)))
        for t in info.tools
    ]
    console.print(table("Tools", ["tool", "risk", "definition sha256", "findings", "description"], rows))
    if info.history:
        hist = [(shown(h.changed_at), _status(h.status), safe(h.changed_by), safe(h.reason)) for h in info.history]
        console.print(table("Status history", ["when", "status", "by", "why"], hist))
    _print_findings(info.findings)
    if definitions:
        from core.cliutil import to_json

        for tool in info.tools:
            console.print(f"[bold cyan]{safe(tool.name)}[/] {tool.definition_sha256}")
            console.print(safe(to_json(tool.definition)), highlight=False)


def _first_line(tool: Any) -> str:
    text = str(tool.definition.get("description") or "").strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 60 else line[:59] + "…"


@app.command()
def publish(
    name: str = typer.Argument(..., help="Server name, e.g. orders."),
    version: str = typer.Argument(..., help="Exact semver version; must equal the server's serverInfo.version."),
    command: list[str] = typer.Argument(None, help="After `--`: the stdio launch command and its arguments."),
    url: str = typer.Option(None, "--url", help="Publish a Streamable HTTP server at this URL instead of stdio."),
    token: str = typer.Option(None, "--token", help="HTTP: bearer token for this connection (never stored)."),
    token_ref: str = typer.Option(
        None, "--token-ref", help="HTTP: environment variable the host reads the token from (stored)."
    ),
    description: str = typer.Option("", help="What the server is for (first publish only)."),
    owner: str = typer.Option("", help="Who owns the server (first publish only)."),
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Connect to a server, pin every tool definition by hash, and publish NAME@VERSION.

    Examples:
      switchboard registry publish orders 1.0.0 -- switchboard serve orders --trust-meta
      switchboard registry publish crm 2.1.0 --url https://crm.example/mcp --token $T --token-ref CRM_TOKEN
    """
    from core.errors import invalid
    from registry.launch import LaunchSpec
    from registry.publish import publish_version

    async def _go() -> Any:
        if url and command:
            raise invalid("give either --url or a launch command after `--`, not both")
        if url:
            launch = LaunchSpec.http(url, token_ref)
        else:
            if token or token_ref:
                raise invalid("--token and --token-ref are for --url servers")
            launch = LaunchSpec.stdio(command or [], cwd=str(Path.cwd()))
        kwargs = {"published_by": _actor(by), "token": token, "description": description, "owner": owner}
        if json_output:
            return await publish_version(name, version, launch, **kwargs)
        with console.status(f"Connecting to {safe(launch.describe())} and listing its tools…"):
            return await publish_version(name, version, launch, **kwargs)

    info = run(_go)
    if json_output:
        print_json(info)
        return
    console.print(f"[green]✓[/] published {safe(info.ref)}: {info.tool_count} tools, status {_status(info.status)}")
    _print_version(info)
    _warn_changed_versions(name)
    console.print(
        f"[dim]Next: review it with `switchboard registry review {safe(info.ref)} --approve --reason … "
        "--risk <tool>=read|write|irreversible …`[/]"
    )


def _warn_changed_versions(name: str) -> None:
    """Older versions whose code changed since their publish (a file edited in place) are refused by hosts."""
    from registry.code import changed_versions

    for version, change in run(lambda: changed_versions(name)):
        console.print(
            f"[yellow]![/] {safe(name)}@{safe(version)}: {safe(change)}; hosts refuse to start it. "
            "Keep each version's code side by side (docs/registry.md)."
        )


def _parse_risks(items: list[str]) -> dict[str, str]:
    from core.errors import invalid

    risks: dict[str, str] = {}
    for item in items:
        tool, sep, risk = item.partition("=")
        if not sep or not tool or not risk:
            raise invalid(f"--risk {item!r}: write <tool>=read|write|irreversible (or *=<class> for the rest)")
        risks[tool] = risk
    return risks


@app.command()
def review(
    ref: str = typer.Argument(..., help="NAME@VERSION, e.g. orders@1.0.0."),
    approve: bool = typer.Option(None, "--approve/--reject", help="Approve or reject the version."),
    reason: str = typer.Option(..., "--reason", help="Why: kept in the status history."),
    risk: list[str] = typer.Option(
        None, "--risk", help="Approving: TOOL=read|write|irreversible for every tool; *=CLASS for the rest."
    ),
    accept_findings: bool = typer.Option(
        False, "--accept-findings", help="Approve although high-severity lint findings exist (you read them)."
    ),
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Approve (setting each tool's risk class) or reject a server version pending review."""
    from core.errors import invalid
    from registry.names import parse_server_ref
    from registry.review import review_version

    async def _go() -> Any:
        if approve is None:
            raise invalid("say --approve or --reject")
        name, version = parse_server_ref(ref)
        return await review_version(
            name,
            version,
            approve=approve,
            reason=reason,
            reviewer=_actor(by),
            risks=_parse_risks(risk or []),
            accept_findings=accept_findings,
        )

    info = run(_go)
    if json_output:
        print_json(info)
        return
    console.print(f"[green]✓[/] {safe(info.ref)} is now {_status(info.status)}")
    if info.status == "approved":
        rows = [(safe(t.name), t.risk_class) for t in info.tools]
        console.print(table("Risk classes", ["tool", "risk"], rows))


def _status_command(status: str, verb: str):
    def command(
        ref: str = typer.Argument(..., help="NAME@VERSION."),
        reason: str = typer.Option(..., "--reason", help="Why: kept in the status history."),
        by: str = BY_OPTION,
        json_output: bool = JSON_OPTION,
    ) -> None:
        from registry.names import parse_server_ref
        from registry.review import change_status

        async def _go() -> Any:
            name, version = parse_server_ref(ref)
            return await change_status(name, version, status, reason=reason, changed_by=_actor(by))

        info = run(_go)
        if json_output:
            print_json(info)
        else:
            console.print(f"[green]✓[/] {safe(info.ref)} is now {_status(info.status)}")

    command.__doc__ = f"{verb} (recorded with who and why)."
    return command


app.command("deprecate")(
    _status_command("deprecated", "Deprecate an approved server version: frozen agents keep it, approvals refuse it")
)
app.command("revoke")(_status_command("revoked", "Revoke a server version for good: hosts refuse to use it"))
app.command("reinstate")(_status_command("approved", "Reinstate a deprecated server version as approved"))


@app.command()
def diff(
    old: str = typer.Argument(..., help="NAME@VERSION (older)."),
    new: str = typer.Argument(..., help="NAME@VERSION (newer)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """What changed between two versions: tools added, removed, and each changed tool's fields."""
    from core.errors import invalid
    from registry.diff import diff_versions, short_json
    from registry.names import parse_server_ref

    async def _go() -> Any:
        (name_a, ver_a), (name_b, ver_b) = parse_server_ref(old), parse_server_ref(new)
        if name_a != name_b:
            raise invalid("diff compares two versions of one server: NAME@A NAME@B")
        return await diff_versions(name_a, ver_a, ver_b)

    result = run(_go)
    if json_output:
        print_json(result)
        return
    console.print(f"[bold]{safe(result.server)}[/] {safe(result.old_version)} → {safe(result.new_version)}")
    for tool in result.added:
        console.print(f"  [green]+ {safe(tool)}[/] (added)")
    for tool in result.removed:
        console.print(f"  [red]- {safe(tool)}[/] (removed)")
    for change in result.changed:
        console.print(f"  [yellow]~ {safe(change.name)}[/] changed: {', '.join(change.fields)}")
        for line in change.description_diff:
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else "dim"
            console.print(f"      [{style}]{safe(line)}[/]", highlight=False)
        for field_name, changes in change.schema_changes.items():
            rows = [(c.op, safe(c.path), safe(short_json(c.old)), safe(short_json(c.new))) for c in changes]
            console.print(table(f"    {field_name}", ["change", "path", "old", "new"], rows))
        for field_name, values in change.other_changes.items():
            console.print(f"      {field_name}: {safe(short_json(values['old']))} → {safe(short_json(values['new']))}")
    if not (result.added or result.removed or result.changed):
        console.print("  [dim]no tool changes[/]")
    console.print(f"[dim]{len(result.unchanged)} tools unchanged[/]")


@app.command()
def servers(json_output: bool = JSON_OPTION) -> None:
    """Every registered server and its newest version."""
    from registry.queries import all_servers

    result = run(all_servers)
    if json_output:
        print_json(result)
        return
    rows = [
        (
            safe(s.name),
            safe(s.latest_version),
            _status(s.latest_status or ""),
            s.version_count,
            safe(s.owner),
            safe(s.description),
        )
        for s in result
    ]
    console.print(table("Servers", ["server", "latest", "status", "versions", "owner", "description"], rows))


@app.command()
def versions(name: str = typer.Argument(..., help="Server name."), json_output: bool = JSON_OPTION) -> None:
    """Every version of a server, newest first, with its status."""
    from registry.queries import server_versions

    result = run(lambda: server_versions(name))
    if json_output:
        print_json(result)
        return
    rows = [
        (
            safe(v.version),
            _status(v.status),
            v.tool_count,
            _short(v.tools_manifest_sha256),
            shown(v.published_at),
            safe(v.published_by),
        )
        for v in result
    ]
    console.print(
        table(f"Versions of {safe(name)}", ["version", "status", "tools", "tools sha256", "published", "by"], rows)
    )


@app.command()
def show(
    ref: str = typer.Argument(..., help="NAME@VERSION."),
    definitions: bool = typer.Option(False, "--definitions", help="Print every pinned definition in full."),
    json_output: bool = JSON_OPTION,
) -> None:
    """One server version: launch spec, pinned tools, risk classes, status history, lint findings."""
    from registry.queries import show_version

    info = run(lambda: show_version(ref))
    if json_output:
        print_json(info)
        return
    _print_version(info, definitions=definitions)


# --------------------------------------------------------------------------------------------- agents


@agent_app.command("create")
def agent_create(
    slug: str = typer.Argument(..., help="Agent slug, e.g. cs-agent."),
    org: str = ORG_OPTION,
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create an agent in an org (its versions are drafted and approved next)."""
    from registry.agents import create_agent

    info = run(lambda: create_agent(org, slug, created_by=_actor(by)))
    if json_output:
        print_json(info)
        return
    console.print(f"[green]✓[/] agent {safe(slug)} created in org {safe(org)}")
    console.print(
        f"[dim]Next: switchboard registry agent draft {safe(slug)} --org {safe(org)} "
        "--model … --prompt-file … --tool …[/]"
    )


@agent_app.command("draft")
def agent_draft(
    slug: str = typer.Argument(..., help="Agent slug."),
    org: str = ORG_OPTION,
    source: str = typer.Option(
        None, "--from", help="SLUG@N to copy: model, prompt, tools and KB pins; the other flags change parts."
    ),
    model: str = typer.Option(
        None, "--model", help="provider:model, e.g. anthropic:claude-sonnet-4-5 or offline:planner."
    ),
    prompt_file: Path = typer.Option(
        None, "--prompt-file", help="UTF-8 file with the system prompt.", exists=True, dir_okay=False
    ),
    tool: list[str] = typer.Option(
        None,
        "--tool",
        help="SERVER@VERSION:TOOL[:never|:confirm|:approve][:TIMEOUT_MS][:max=N]; repeat. "
        "With --from: adds the tool or replaces its binding.",
    ),
    drop_tool: list[str] = typer.Option(
        None, "--drop-tool", help="With --from: leave out this tool (exposed name, e.g. orders__get_order); repeat."
    ),
    server: list[str] = typer.Option(
        None, "--server", help="With --from: move every tool of a server to NAME@VERSION, e.g. orders@1.1.0."
    ),
    kb: list[str] = typer.Option(None, "--kb", help="KB@VERSION to pin; repeat. With --from: adds or re-pins."),
    drop_kb: list[str] = typer.Option(None, "--drop-kb", help="With --from: unpin this KB (name or id); repeat."),
    param: list[str] = typer.Option(
        None, "--param", help="Model parameter KEY=VALUE (JSON value); repeat. With --from: merged over the copy."
    ),
    max_calls_per_turn: int = typer.Option(3, "--max-calls-per-turn", help="Default per-tool call limit per turn."),
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Draft the agent's next version (or replace its open draft). Drafts change until approved.

    Examples:
      switchboard registry agent draft cs-agent --org demo --from cs-agent@1 --server orders@1.1.0
      switchboard registry agent draft cs-agent --org demo --from cs-agent@2 --kb faq@4 --drop-tool memory__add_memory
      switchboard registry agent draft cs-agent --org demo --model offline:planner --prompt-file p.txt --tool …
    """
    from core.errors import invalid
    from registry.agents import draft_agent_version
    from registry.drafts import DraftChanges, draft_from
    from registry.specs import KbSpec, ToolSpec, parse_model_params

    async def _go() -> Any:
        prompt = None
        if prompt_file is not None:
            try:
                prompt = prompt_file.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise invalid(f"{prompt_file} is not UTF-8 text") from None
        tools = [ToolSpec.parse(t, max_calls_per_turn=max_calls_per_turn) for t in tool or []]
        kbs = [KbSpec.parse(k) for k in kb or []]
        params = parse_model_params(param or [])
        if source:
            changes = DraftChanges(model, prompt, tools, drop_tool or [], server or [], kbs, drop_kb or [], params)
            return await draft_from(org, slug, source, changes, drafted_by=_actor(by))
        if drop_tool or server or drop_kb:
            raise invalid("--drop-tool, --server and --drop-kb change a copy: add --from SLUG@N")
        if model is None or prompt is None:
            raise invalid(
                "a new draft needs --model and --prompt-file, or --from SLUG@N to copy an earlier version "
                f"(see `switchboard registry agent list --org {org}`)"
            )
        draft = await draft_agent_version(
            org,
            slug,
            model=model,
            system_prompt=prompt,
            tools=tools,
            kbs=kbs,
            model_params=params,
            drafted_by=_actor(by),
        )
        return None, draft

    copied_from, info = run(_go)
    if json_output:
        print_json({**_asdict(info), "copied_from": copied_from.ref if copied_from else None})
        return
    origin = f" from {safe(copied_from.ref)}" if copied_from else ""
    console.print(
        f"[green]✓[/] draft {safe(info.ref)} saved{origin} ({len(info.tools)} tools, {len(info.kbs)} KB pins)"
    )
    _print_agent_version(info)
    if not info.tools:
        console.print("[yellow]![/] this draft binds no tools: approval will refuse it until it has some (--tool …)")
        return
    console.print(f"[dim]Next: switchboard registry agent approve {safe(info.ref)} --org {safe(org)}[/]")


def _asdict(info: Any) -> dict[str, Any]:
    from dataclasses import asdict

    return asdict(info)


@agent_app.command("approve")
def agent_approve(
    ref: str = typer.Argument(..., help="SLUG@N, e.g. cs-agent@1."),
    org: str = ORG_OPTION,
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
    override_gate: str = typer.Option(
        None, "--override-gate", help="Approve below the org's eval gate: the reason (audited)."
    ),
) -> None:
    """Freeze a draft: check its bindings, compute its manifest; it never changes afterwards."""
    from core.errors import invalid
    from registry.agents import approve_agent_version
    from registry.names import parse_agent_ref

    async def _go() -> Any:
        slug, number = parse_agent_ref(ref)
        if number is None:
            raise invalid(f"say which version to approve: {slug}@<n> (see `registry agent show {slug}`)")
        from registry.gate import gate_before_approve  # issue 15: the eval gate

        evals.append(await gate_before_approve(org, slug, number, actor=_actor(by), override_reason=override_gate))
        return await approve_agent_version(org, slug, number, approved_by=_actor(by))

    evals: list[Any] = []
    info = run(_go)
    if json_output:
        print_json(info)
        return
    console.print(f"[green]✓[/] {safe(info.ref)} approved and frozen; manifest sha256 {info.manifest_sha256}")
    console.print(f"  latest eval: {evals[0].line() if evals and evals[0] else 'none (see `switchboard eval run`)'}")
    _print_agent_version(info)


@agent_app.command("show")
def agent_show(
    ref: str = typer.Argument(..., help="SLUG@N, or SLUG for the newest version."),
    org: str = ORG_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Show an agent version: model, tools with policies, KB pins and (once approved) the manifest."""
    from registry.agents import agent_version_info
    from registry.names import parse_agent_ref

    async def _go() -> Any:
        slug, number = parse_agent_ref(ref)
        return await agent_version_info(org, slug, number)

    info = run(_go)
    if json_output:
        print_json(info)
        return
    _print_agent_version(info, manifest=True)


@agent_app.command("list")
def agent_list(org: str = ORG_OPTION, json_output: bool = JSON_OPTION) -> None:
    """Agents of an org with their versions."""
    from registry.queries import agents_with_versions

    result = run(lambda: agents_with_versions(org))
    if json_output:
        print_json(result)
        return
    rows = [
        (
            safe(v.slug),
            v.version,
            v.state,
            safe(f"{v.model_provider}:{v.model_id}"),
            len(v.tools),
            _short(v.manifest_sha256),
        )
        for v in result
    ]
    console.print(
        table(f"Agents of {safe(org)}", ["agent", "version", "state", "model", "tools", "manifest sha256"], rows)
    )


def _print_agent_version(info: Any, *, manifest: bool = False) -> None:
    state = "[green]approved[/]" if info.state == "approved" else "[yellow]draft[/]"
    console.print(f"[bold]{safe(info.ref)}[/] ({safe(info.org_id)})  {state}")
    console.print(f"  model       {safe(info.model_provider)}:{safe(info.model_id)} {safe(info.model_params or '')}")
    console.print(f"  prompt sha  {info.system_prompt_sha256}")
    if info.approved_at:
        console.print(f"  approved    {shown(info.approved_at)} by {safe(info.approved_by)}")
        console.print(f"  manifest    {info.manifest_sha256}")
    rows = [
        (
            safe(t.exposed_name),
            safe(f"{t.server_name}@{t.server_version}"),
            safe(t.tool_name),
            t.policy,
            t.timeout_ms,
            t.max_calls_per_turn,
        )
        for t in info.tools
    ]
    console.print(table("Tools", ["exposed name", "server", "tool", "policy", "timeout ms", "max/turn"], rows))
    if info.kbs:
        kb_rows = [
            (safe(k.kb_name or k.kb_id), safe(k.kb_version), _short(k.content_sha256) or "unverified") for k in info.kbs
        ]
        console.print(table("Knowledge bases", ["kb", "version", "content sha256"], kb_rows))
    if manifest and info.manifest:
        from core.cliutil import to_json

        console.print("[bold]Manifest[/]")
        console.print(safe(to_json(info.manifest)), highlight=False)


# issue 13: the official MCP Registry format (server.json export/import, the read-only v0.1 API)
from registry.cli_serverjson import register_serverjson_commands  # noqa: E402

register_serverjson_commands(app)
