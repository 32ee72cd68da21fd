"""What the ``switchboard registry`` commands share: options, safe terminal text, version printing."""

from __future__ import annotations

from typing import Any

import typer

from core.cliutil import console, table
from core.clock import shown

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")
BY_OPTION = typer.Option(None, "--by", help="Who is acting (default: $SWITCHBOARD_ACTOR or your user name).")
ORG_OPTION = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help="The tenant the agent belongs to.")


def actor(by: str | None) -> str:
    from registry.publish import default_actor

    return by or default_actor()


def safe(value: Any) -> str:
    """Untrusted text for the terminal: invisible characters shown as \\uXXXX, Rich markup escaped."""
    from rich.markup import escape

    from registry.lint import visible

    return escape(visible("" if value is None else str(value)))


def short(sha: str | None) -> str:
    return (sha or "")[:12]


STATUS_STYLE = {
    "approved": "green",
    "pending_review": "yellow",
    "rejected": "red",
    "deprecated": "magenta",
    "revoked": "bold red",
}


def status_label(status: str) -> str:
    return f"[{STATUS_STYLE.get(status, 'white')}]{status}[/]"


def print_findings(findings: list[Any]) -> None:
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


def print_version(info: Any, *, definitions: bool = False) -> None:
    from registry.launch import LaunchSpec

    console.print(f"[bold]{safe(info.ref)}[/]  {status_label(info.status)}")
    console.print(f"  launch      {safe(LaunchSpec.from_dict(info.launch).describe())}")
    if info.launch.get("transport") == "stdio":
        from registry.code import code_change, describe

        console.print(f"  code        {safe(describe(info.launch.get('code')))}")
        change = code_change(info.launch)
        if change:
            console.print(f"  [yellow]![/]           {safe(change)}; hosts refuse to start it")
    server_info = info.server_info
    console.print(f"  serverInfo  {safe(server_info.get('name'))} {safe(server_info.get('version'))}")
    console.print(f"  protocol    {safe(info.protocol_version)}")
    console.print(f"  tools sha   {info.tools_manifest_sha256}")
    console.print(f"  published   {shown(info.published_at)} by {safe(info.published_by)}")
    rows = [
        (safe(t.name), t.risk_class or "—", short(t.definition_sha256), len(t.lint_findings), safe(first_line(t)))
        for t in info.tools
    ]
    console.print(table("Tools", ["tool", "risk", "definition sha256", "findings", "description"], rows))
    if info.history:
        hist = [(shown(h.changed_at), status_label(h.status), safe(h.changed_by), safe(h.reason)) for h in info.history]
        console.print(table("Status history", ["when", "status", "by", "why"], hist))
    print_findings(info.findings)
    if definitions:
        from core.cliutil import to_json

        for tool in info.tools:
            console.print(f"[bold cyan]{safe(tool.name)}[/] {tool.definition_sha256}")
            console.print(safe(to_json(tool.definition)), highlight=False)


def first_line(tool: Any) -> str:
    text = str(tool.definition.get("description") or "").strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 60 else line[:59] + "…"
