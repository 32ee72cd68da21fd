"""``switchboard registry``: publish and review server versions, freeze agent versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from core.cliutil import console, print_json, run, table
from core.clock import shown
from registry.cli_common import BY_OPTION, JSON_OPTION, actor, print_version, safe, short, status_label

app = typer.Typer(
    help="Server versions with pinned tool definitions, reviews, and frozen agent versions.", no_args_is_help=True
)


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
        kwargs = {"published_by": actor(by), "token": token, "description": description, "owner": owner}
        if json_output:
            return await publish_version(name, version, launch, **kwargs)
        with console.status(f"Connecting to {safe(launch.describe())} and listing its tools…"):
            return await publish_version(name, version, launch, **kwargs)

    info = run(_go)
    if json_output:
        print_json(info)
        return
    console.print(
        f"[green]✓[/] published {safe(info.ref)}: {info.tool_count} tools, status {status_label(info.status)}"
    )
    print_version(info)
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
    approve: bool = typer.Option(False, "--approve", help="Approve the version (with --risk for every tool)."),
    reject: bool = typer.Option(False, "--reject", help="Reject the version (final: publish a new version after)."),
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
        if approve and reject:
            raise invalid("say --approve or --reject, not both: nothing was changed")
        if not approve and not reject:
            raise invalid("say --approve or --reject")
        name, version = parse_server_ref(ref)
        return await review_version(
            name,
            version,
            approve=approve,
            reason=reason,
            reviewer=actor(by),
            risks=_parse_risks(risk or []),
            accept_findings=accept_findings,
        )

    info = run(_go)
    if json_output:
        print_json(info)
        return
    console.print(f"[green]✓[/] {safe(info.ref)} is now {status_label(info.status)}")
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
            return await change_status(name, version, status, reason=reason, changed_by=actor(by))

        info = run(_go)
        if json_output:
            print_json(info)
        else:
            console.print(f"[green]✓[/] {safe(info.ref)} is now {status_label(info.status)}")

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
    from core.cliutil import require_store
    from registry.queries import all_servers

    require_store()  # only reads: an empty home gets no database
    result = run(all_servers)
    if json_output:
        print_json(result)
        return
    rows = [
        (
            safe(s.name),
            safe(s.latest_version),
            status_label(s.latest_status or ""),
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
            status_label(v.status),
            v.tool_count,
            short(v.tools_manifest_sha256),
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
    print_version(info, definitions=definitions)


# --------------------------------------------------------------------------------------------- agents


def _register() -> None:
    """The agent commands and the official registry format live in modules of their own."""
    from registry.cli_agents import agent_app
    from registry.cli_serverjson import register_serverjson_commands

    app.add_typer(agent_app, name="agent")
    register_serverjson_commands(app)


_register()
