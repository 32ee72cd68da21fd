"""``switchboard memory``: list, search, show, erase and export a customer's memories."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

from core.cliutil import console, print_json, run, table, to_json

T = TypeVar("T")

app = typer.Typer(
    help="Customer memories: list, search, show, erase (data-subject requests) and export.",
    no_args_is_help=True,
)

OrgOpt = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help="The tenant (org id).")
CustomerOpt = typer.Option(None, "--customer", help="The customer whose memories to use.")
AgentOpt = typer.Option(
    None, "--agent", help="An agent id: narrows, or selects agent-level memories without --customer."
)
JsonOpt = typer.Option(False, "--json", help="Machine-readable output.")


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run a command with the memory service, then close its pooled connections."""

    async def _go() -> T:
        from servers.memory_server.service import reset_services

        try:
            return await factory()
        finally:
            await reset_services()

    return run(_go)


def _scope(org: str, customer: str | None, agent: str | None, run_id: str | None = None) -> Any:
    from core.context import RequestContext, is_valid_identifier
    from core.errors import invalid
    from servers.memory_server.scope import resolve_scope

    for label, value in (("org", org), ("customer", customer), ("agent", agent), ("run", run_id)):
        if value is not None and not is_valid_identifier(value):
            raise invalid(f"--{label} must be 1-128 letters, digits or ._:@- characters")
    scope = resolve_scope(RequestContext(org_id=org, customer_ref=customer), agent, run_id)
    import getpass
    from dataclasses import replace

    return replace(scope, actor=f"cli:{getpass.getuser()}")


def _filters(category: list[str] | None, agent: str | None, run_id: str | None) -> Any:
    from servers.memory_server.filters import parse_filters

    raw: dict[str, Any] = {}
    if category:
        raw["categories"] = category
    if agent:
        raw["agent_id"] = agent
    if run_id:
        raw["run_id"] = run_id
    return parse_filters(raw) if raw else None


def _row(doc: Any, score: float | None = None) -> list[Any]:
    text = doc.text if len(doc.text) <= 70 else doc.text[:67] + "..."
    row = [doc.id[:8], doc.observed_at.strftime("%Y-%m-%d %H:%M"), doc.status, doc.slot or "", text]
    if score is not None:
        row.insert(1, f"{score:.3f}")
    return row


def _out(doc: Any) -> dict[str, Any]:
    from servers.memory_server.models import MemoryOut

    return MemoryOut.of(doc).model_dump(mode="json")


def _require_customer_or_agent(customer: str | None, agent: str | None) -> None:
    if not customer and not agent:
        from core.errors import invalid

        raise invalid("pass --customer (a customer's memories) or --agent (an agent's own memories)")


@app.command("list")
def list_cmd(
    org: str = OrgOpt,
    customer: str = CustomerOpt,
    agent: str = AgentOpt,
    run_id: str = typer.Option(None, "--run", help="Only memories from this run/session."),
    category: list[str] = typer.Option(None, "--category", help="Only these categories (repeatable)."),
    include_superseded: bool = typer.Option(False, "--all", help="Include superseded memories."),
    limit: int = typer.Option(20, min=1, max=100, help="Page size."),
    cursor: str = typer.Option(None, help="next_cursor from the previous page."),
    oldest: bool = typer.Option(False, "--oldest", help="Oldest first (default newest first)."),
    json_output: bool = JsonOpt,
) -> None:
    """List memories, newest observation first, one page at a time."""

    async def _go() -> Any:
        from servers.memory_server.service import get_service

        _require_customer_or_agent(customer, agent)
        scope = _scope(org, customer, agent)
        return await get_service().list(
            scope,
            _filters(category, agent, run_id),
            limit=limit,
            cursor=cursor,
            include_superseded=include_superseded,
            order="oldest" if oldest else "newest",
        )

    page = _run(_go)
    if json_output:
        print_json({"items": [_out(d) for d in page.items], "next_cursor": page.next_cursor})
        return
    title = f"Memories of {customer or 'agent ' + str(agent)} ({org})"
    console.print(table(title, ["id", "observed", "status", "subject", "text"], [_row(d) for d in page.items]))
    if page.next_cursor:
        console.print(f"[dim]more: --cursor {page.next_cursor}[/]")


@app.command("search")
def search_cmd(
    query: str = typer.Argument(..., help="What to look for (Korean or English)."),
    org: str = OrgOpt,
    customer: str = CustomerOpt,
    agent: str = AgentOpt,
    top_k: int = typer.Option(5, "--top-k", min=1, max=50),
    include_superseded: bool = typer.Option(False, "--all", help="Include superseded memories."),
    as_of: datetime = typer.Option(None, "--as-of", help="What was known at this time (ISO date/time)."),
    mode: str = typer.Option("hybrid", help="hybrid, lexical or dense."),
    json_output: bool = JsonOpt,
) -> None:
    """Search memories with the same ranking the MCP tool uses."""

    async def _go() -> Any:
        from core.errors import invalid
        from servers.memory_server.filters import as_utc
        from servers.memory_server.ranking import RankOptions
        from servers.memory_server.service import get_service

        _require_customer_or_agent(customer, agent)
        if mode not in ("hybrid", "lexical", "dense"):
            raise invalid("--mode must be hybrid, lexical or dense")
        if not query.strip() or len(query) > 1000:
            raise invalid("the query must be 1-1000 characters")
        opts = RankOptions(
            top_k=top_k,
            filters=_filters(None, agent, None),
            include_superseded=include_superseded,
            as_of=as_utc(as_of).timestamp() if as_of else None,
            mode=mode,
        )
        return await get_service().search(_scope(org, customer, agent), query, opts)

    hits = _run(_go)
    if json_output:
        print_json({"query": query, "results": [{**_out(h.doc), "score": h.score} for h in hits]})
        return
    rows = [_row(h.doc, h.score) for h in hits]
    console.print(table(f"Search: {query}", ["id", "score", "observed", "status", "subject", "text"], rows))


@app.command("show")
def show_cmd(
    memory_id: str = typer.Argument(..., help="The memory id (full id, as `list --json` prints it)."),
    org: str = OrgOpt,
    customer: str = CustomerOpt,
    agent: str = AgentOpt,
    json_output: bool = JsonOpt,
) -> None:
    """Show one memory with its history (or the tombstone of an erased one)."""

    async def _go() -> Any:
        from servers.memory_server.service import get_service

        _require_customer_or_agent(customer, agent)
        scope = _scope(org, customer, agent)
        service = get_service()
        events, tomb = await service.history(scope, memory_id)
        doc = None if tomb else await service.get(scope, memory_id)
        return doc, events, tomb

    doc, events, tomb = _run(_go)
    if json_output:
        print_json({"memory": _out(doc) if doc else None, "history": events, "erased": tomb})
        return
    if tomb:
        console.print(f"[yellow]erased[/] {memory_id} at {tomb['deleted_at']} by {tomb['deleted_by']}")
        console.print(f"  content hash {tomb['content_hash']}")
        return
    console.print(f"[bold]{doc.text}[/]")
    console.print(
        f"  status {doc.status}  subject {doc.slot or '-'}  kind {doc.kind}  "
        f"categories {', '.join(doc.categories) or '-'}"
    )
    console.print(f"  observed {doc.observed_at.isoformat()}  created {doc.created_at.isoformat()}")
    if doc.superseded_by:
        console.print(f"  superseded by {doc.superseded_by} (valid to {doc.valid_to})")
    rows = [(e["at"], e["event"], e["actor"], e["old_text"] or "", e["new_text"] or "") for e in events]
    console.print(table("History", ["at", "event", "actor", "old text", "new text"], rows))


@app.command("erase")
def erase_cmd(
    org: str = OrgOpt,
    customer: str = typer.Option(..., "--customer", help="The customer whose data to erase."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_output: bool = JsonOpt,
) -> None:
    """Erase everything remembered about a customer (data-subject request) and report what was removed.

    Removes memories, vectors, search-index entries, history text and the customer's statement values;
    keeps only tombstones (memory id, content hash, time, who). On SQLite the freed pages are zeroed
    and the WAL is checkpointed, so the text is gone from the files too.
    """
    if not yes and not json_output:
        typer.confirm(f"Erase all memories and statement values of customer {customer} in {org}?", abort=True)
    elif not yes:
        from core.cliutil import err_console

        err_console.print("[red]error[/] [INVALID_ARGUMENT] add --yes to erase without a prompt")
        raise typer.Exit(2)

    async def _go() -> Any:
        import getpass

        from servers.memory_server.service import get_service

        _scope(org, customer, None)
        return await get_service().erase_customer(org, customer, f"cli:{getpass.getuser()}")

    erasure_id, removal = _run(_go)
    report = {
        "erasure_id": erasure_id,
        "org_id": org,
        "customer_ref": customer,
        "memories": removal.memories,
        "vectors": removal.vectors,
        "history_rows": removal.history_rows,
        "statement_values": removal.statement_values,
        "tombstones": removal.memories,
        "wal_checkpointed": removal.wal_checkpointed,
        "note": "memories only: `switchboard customer erase` also erases the audit payloads and conversations",
    }
    if json_output:
        print_json(report)
        return
    console.print(f"[green]✓[/] erased customer [bold]{customer}[/] in {org} (erasure {erasure_id})")
    rows = [(k, v) for k, v in report.items() if k not in ("erasure_id", "org_id", "customer_ref", "note")]
    console.print(table("Removed", ["what", "count"], rows))
    if not removal.wal_checkpointed:
        console.print(
            "[yellow]the WAL could not be checkpointed (a reader is busy): "
            "run `switchboard memory erase` again later[/]"
        )
    console.print(
        "[yellow]memories only: the audit log and conversation records still hold this customer's calls; "
        f"run `switchboard customer erase --org {org} --customer {customer}` to erase those too[/]"
    )


@app.command("export")
def export_cmd(
    org: str = OrgOpt,
    customer: str = typer.Option(..., "--customer", help="The customer whose data to export."),
    output: Path = typer.Option(None, "--output", "-o", help="Write to this file instead of stdout."),
    json_output: bool = JsonOpt,
) -> None:
    """Export everything remembered about a customer (memories with history, statement values) as JSON."""

    async def _go() -> dict[str, Any]:
        from servers.memory_server.export import export_customer

        _scope(org, customer, None)
        return await export_customer(org, customer)

    data = _run(_go)
    text = to_json(data)
    if output:
        output.write_text(text + "\n", encoding="utf-8")
        if json_output:
            print_json(
                {"output": str(output), "memories": len(data["memories"]), "statements": len(data["statements"])}
            )
        else:
            console.print(f"[green]✓[/] wrote {len(data['memories'])} memories to {output}")
        return
    print(text)
