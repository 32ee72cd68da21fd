"""``switchboard registry agent``: draft, approve (freeze), show and list agent versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from core.cliutil import console, print_json, run, table
from core.clock import shown
from registry.cli_common import BY_OPTION, JSON_OPTION, ORG_OPTION, actor, safe, short

agent_app = typer.Typer(help="Agents and agent versions: draft, approve (freeze), show.", no_args_is_help=True)


@agent_app.command("create")
def agent_create(
    slug: str = typer.Argument(..., help="Agent slug, e.g. cs-agent."),
    org: str = ORG_OPTION,
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Create an agent in an org (its versions are drafted and approved next)."""
    from registry.agents import create_agent

    info = run(lambda: create_agent(org, slug, created_by=actor(by)))
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
    max_calls_per_turn: int = typer.Option(
        None,
        "--max-calls-per-turn",
        help="Per-tool call limit per turn for the --tool options without max=N (default 3; with --from: "
        "a copied tool keeps its own).",
    ),
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
            return await draft_from(org, slug, source, changes, drafted_by=actor(by))
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
            drafted_by=actor(by),
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
    if copied_from is not None and info.kbs and not copied_from.kbs:
        names = ", ".join(safe(k.kb_name or k.kb_id) for k in info.kbs)
        console.print(
            f"[yellow]![/] {safe(copied_from.ref)} as copied pinned no KB (it searched every active KB); "
            f"this draft, {safe(info.ref)}, searches only {names}. Pin the others too (--kb NAME@VERSION) to keep them."
        )
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

        evals.append(await gate_before_approve(org, slug, number, actor=actor(by), override_reason=override_gate))
        return await approve_agent_version(org, slug, number, approved_by=actor(by))

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
    from core.cliutil import hint_unknown_org
    from registry.queries import agents_with_versions, orgs_with_agents

    result = run(lambda: agents_with_versions(org))
    if not result:  # a typo'd --org reads as "no agents": name the orgs that have some
        hint_unknown_org(org, run(orgs_with_agents), "agents")
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
            short(v.manifest_sha256),
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
            (safe(k.kb_name or k.kb_id), safe(k.kb_version), short(k.content_sha256) or "unverified") for k in info.kbs
        ]
        console.print(table("Knowledge bases", ["kb", "version", "content sha256"], kb_rows))
    if manifest and info.manifest:
        from core.cliutil import to_json

        console.print("[bold]Manifest[/]")
        # line by line: the JSON's own line breaks stay breaks (any inside a value are escaped by JSON)
        console.print("\n".join(safe(line) for line in to_json(info.manifest).splitlines()), highlight=False)
