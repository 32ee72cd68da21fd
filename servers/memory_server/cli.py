"""``switchboard memory``: list, search, show, erase and export a customer's memories."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

from core.cliutil import console, print_json, run, table, to_json
from core.clock import shown
from core.ids import MIN_PREFIX, short_id

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


async def _hint_org(org: str) -> None:
    """No memories found: when ``org`` has none at all, name the orgs that have some (a typo'd --org)."""
    from core.cliutil import hint_unknown_org
    from servers.memory_server.presence import known_orgs

    hint_unknown_org(org, await known_orgs(), "memories")


async def _unknown_customer(org: str, customer: str | None) -> str | None:
    """After an empty list or search: a note when the org is known but nothing at all is stored
    about ``customer`` there (no memories, statements or erasures: often a typo'd --customer)."""
    from servers.memory_server.presence import presence

    if customer is None:
        return None
    org_known, customer_known = await presence(org, customer)
    if not org_known or customer_known:
        return None  # an unknown org is named by _hint_org
    return (
        f"nothing stored about customer {customer!r} in org {org!r} (no memories, statements or "
        "erasures): check --customer"
    )


def _note(line: str | None) -> None:
    if line:
        from rich.markup import escape

        from core.cliutil import err_console

        err_console.print(f"[yellow]{escape(line)}[/]", soft_wrap=True)


async def _known(org: str, customer: str, allow_missing: bool, done: str) -> None:
    """NOT_FOUND for an org the memory store does not know, and for an unknown customer unless
    ``allow_missing`` (an earlier erase counts as known)."""
    from core.errors import not_found
    from servers.memory_server.presence import known_orgs, presence

    org_known, customer_known = await presence(org, customer)
    if not org_known:
        orgs = await known_orgs()
        hint = f"orgs with memories here: {', '.join(orgs)}" if orgs else "no org has memories here"
        raise not_found(f"no memories of org {org!r} ({hint}): check --org; nothing was {done}")
    if not customer_known and not allow_missing:
        raise not_found(
            f"nothing remembered about customer {customer!r} in org {org!r}: check --customer, "
            f"or pass --allow-missing; nothing was {done}"
        )


def _scope(
    org: str, customer: str | None, agent: str | None, run_id: str | None = None, *, any_customer: bool = False
) -> Any:
    """The scope of a command; ``any_customer``: erase and export also take a reference that looks
    like personal data (so data stored under one before it was refused can still be erased)."""
    from core.context import RequestContext, customer_ref_problem, is_valid_identifier
    from core.errors import invalid
    from servers.memory_server.scope import resolve_scope

    for label, value in (("org", org), ("customer", customer), ("agent", agent), ("run", run_id)):
        if value is not None and not is_valid_identifier(value):
            raise invalid(f"--{label} must be 1-128 letters, digits or ._:@- characters")
    if customer is not None and not any_customer and (problem := customer_ref_problem(customer)):
        raise invalid(f"--customer {problem}")
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
    row = [short_id(doc.id), shown(doc.observed_at), doc.status, doc.slot or "", text]
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
        page = await get_service().list(
            scope,
            _filters(category, agent, run_id),
            limit=limit,
            cursor=cursor,
            include_superseded=include_superseded,
            order="oldest" if oldest else "newest",
        )
        unknown = None
        if not page.items:
            await _hint_org(org)
            unknown = None if cursor else await _unknown_customer(org, customer)
        return page, unknown

    page, unknown = _run(_go)
    _note(unknown)
    if json_output:
        print_json({"items": [_out(d) for d in page.items], "next_cursor": page.next_cursor})
        return
    if unknown:
        return
    title = f"Memories of {customer or 'agent ' + str(agent)} ({org})"
    console.print(table(title, ["id", "observed", "status", "subject", "text"], [_row(d) for d in page.items]))
    if page.next_cursor:
        console.print(f"[dim]more: --cursor {page.next_cursor}[/]")


@app.command("search")
def search_cmd(
    query: str = typer.Argument(None, help="What to look for (Korean or English); or use --file."),
    file: Path = typer.Option(
        None,
        "--file",
        help='Batch: a JSONL file of {"query": ..., "customer"?: ..., "id"?: ..., "asked_at"?: ...}; '
        "prints one JSON line per query.",
    ),
    org: str = OrgOpt,
    customer: str = CustomerOpt,
    agent: str = AgentOpt,
    top_k: int = typer.Option(5, "--top-k", min=1, max=50),
    include_superseded: bool = typer.Option(False, "--all", help="Include superseded memories."),
    as_of: datetime = typer.Option(None, "--as-of", help="What was known at this time (ISO date/time)."),
    asked_at: datetime = typer.Option(
        None,
        "--asked-at",
        help='When the question is asked (ISO date/time; default now): "two weeks ago" counts from it.',
    ),
    mode: str = typer.Option("hybrid", help="hybrid, lexical or dense."),
    json_output: bool = JsonOpt,
) -> None:
    """Search memories with the same ranking the MCP tool uses (one query, or a --file of them).

    A question that names a time ("지난주에", "two weeks ago", "on May 15") also ranks the memories
    observed then; a --file line may say when it is asked with "asked_at"."""
    if file is not None:
        from servers.memory_server.batch import search_file

        _run(lambda: search_file(file, org, customer, agent, top_k, include_superseded, mode, _scope))
        return

    async def _go() -> Any:
        from core.errors import invalid
        from servers.memory_server.filters import checked_epoch
        from servers.memory_server.ranking import RankOptions
        from servers.memory_server.service import get_service

        _require_customer_or_agent(customer, agent)
        if mode not in ("hybrid", "lexical", "dense"):
            raise invalid("--mode must be hybrid, lexical or dense")
        if not query or not query.strip() or len(query) > 1000:
            raise invalid("the query must be 1-1000 characters")
        opts = RankOptions(
            top_k=top_k,
            filters=_filters(None, agent, None),
            include_superseded=include_superseded,
            as_of=checked_epoch(as_of, "--as-of") if as_of else None,
            mode=mode,
            reference=checked_epoch(asked_at, "--asked-at") if asked_at else None,
        )
        from servers.memory_server.batch import keyword_only_note
        from servers.memory_server.reads import question_window

        scope = _scope(org, customer, agent)
        hits = await get_service().search(scope, query, opts)
        await keyword_only_note(get_service(), [scope], mode)
        unknown = None
        if not hits:
            await _hint_org(org)
            unknown = await _unknown_customer(org, customer)
        return hits, question_window(query, opts), unknown

    hits, window, unknown = _run(_go)
    _note(unknown)
    shown = window.as_json() if window else None
    if json_output:
        results = [{**_out(h.doc), "score": h.score} for h in hits]
        print_json({"query": query, "time_window": shown, "results": results})
        return
    rows = [_row(h.doc, h.score) for h in hits]
    console.print(table(f"Search: {query}", ["id", "score", "observed", "status", "subject", "text"], rows))
    if shown:
        console.print(f"[dim]time named: {shown['phrase']!r}, read as {shown['from']} … {shown['to']}[/]")


async def _memory_id(scope: Any, given: str) -> str:
    """The full id of a live or erased memory of this scope that ``given`` (id or printed prefix) names."""
    from sqlalchemy import select

    from core.ids import resolve_id
    from servers.memory_server.db import memory_engine
    from servers.memory_server.tables import memory_item, memory_tombstone

    live = select(memory_item.c.id).where(
        memory_item.c.org_id == scope.org_id, memory_item.c.customer_ref == scope.customer_ref
    )
    erased = select(memory_tombstone.c.memory_id).where(
        memory_tombstone.c.org_id == scope.org_id, memory_tombstone.c.customer_ref == scope.customer_ref
    )
    engine = await memory_engine()
    async with engine.connect() as conn:
        return await resolve_id(conn, given, live, erased, what="memory", hint="see `switchboard memory list`")


@app.command("show")
def show_cmd(
    memory_id: str = typer.Argument(
        ..., help=f"The memory id, or its first {MIN_PREFIX}+ characters as `memory list` prints it."
    ),
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
        full_id = await _memory_id(scope, memory_id)
        events, tomb = await service.history(scope, full_id)
        doc = None if tomb else await service.get(scope, full_id)
        return full_id, doc, events, tomb

    memory_id, doc, events, tomb = _run(_go)
    if json_output:
        print_json({"memory": _out(doc) if doc else None, "history": events, "erased": tomb})
        return
    if tomb:
        console.print(
            f"[yellow]erased[/] {memory_id} at {shown(tomb['deleted_at'], seconds=True)} by {tomb['deleted_by']}"
        )
        console.print(f"  content hash {tomb['content_hash']}")
        return
    console.print(f"[bold]{doc.text}[/]")
    console.print(
        f"  status {doc.status}  subject {doc.slot or '-'}  kind {doc.kind}  "
        f"categories {', '.join(doc.categories) or '-'}"
    )
    console.print(f"  observed {shown(doc.observed_at, seconds=True)}  created {shown(doc.created_at, seconds=True)}")
    if doc.superseded_by:
        console.print(f"  superseded by {doc.superseded_by} (valid to {shown(doc.valid_to, seconds=True)})")
    rows = [
        (shown(e["at"], seconds=True), e["event"], e["actor"], e["old_text"] or "", e["new_text"] or "") for e in events
    ]
    console.print(table("History", ["at", "event", "actor", "old text", "new text"], rows))


@app.command("erase")
def erase_cmd(
    org: str = OrgOpt,
    customer: str = typer.Option(..., "--customer", help="The customer whose data to erase."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    allow_missing: bool = typer.Option(
        False, "--allow-missing", help="Record the erase even when nothing of the customer is found."
    ),
    json_output: bool = JsonOpt,
) -> None:
    """Erase everything remembered about a customer (data-subject request) and report what was removed.

    An org or customer the memory store does not know is NOT_FOUND and nothing is written (a typo
    is not recorded as an erase), unless --allow-missing.

    Removes memories, vectors, search-index entries, history text and the customer's statement values;
    keeps only tombstones (memory id, content hash, time, who). On SQLite the freed pages are zeroed
    and the WAL is checkpointed, so the text is gone from the files too.
    """
    from core.cliutil import confirm_destructive

    confirm_destructive(
        f"Erase all memories and statement values of customer {customer} in {org}?", yes=yes, json_output=json_output
    )

    async def _go() -> Any:
        import getpass

        from servers.memory_server.service import get_service

        _scope(org, customer, None, any_customer=True)
        await _known(org, customer, allow_missing, "erased")
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
    allow_missing: bool = typer.Option(
        False, "--allow-missing", help="Write the (empty) report even when nothing of the customer is found."
    ),
    json_output: bool = JsonOpt,
) -> None:
    """Export everything remembered about a customer (memories with history, statement values) as JSON.

    An org or customer the memory store does not know is NOT_FOUND (an empty report for a typo
    would read as "we hold nothing"), unless --allow-missing.
    """
    from core.atomicwrite import write_atomic
    from core.cliutil import check_output_file

    check_output_file(output)

    async def _go() -> dict[str, Any]:
        from servers.memory_server.export import export_customer

        _scope(org, customer, None, any_customer=True)
        await _known(org, customer, allow_missing, "exported")
        return await export_customer(org, customer)

    data = _run(_go)
    text = to_json(data)
    if output:
        write_atomic(output, text + "\n")  # whole or not at all: a full disk leaves no partial export
        if json_output:
            print_json(
                {"output": str(output), "memories": len(data["memories"]), "statements": len(data["statements"])}
            )
        else:
            console.print(f"[green]✓[/] wrote {len(data['memories'])} memories to {output}")
        return
    print(text)


@app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="JSONL: one conversation (messages) or plain memory (text) per line."),
    org: str = OrgOpt,
    customer: str = typer.Option(None, "--customer", help="Customer for lines without a `customer` field."),
    infer: bool = typer.Option(
        False, "--infer/--verbatim", help="Extract facts from conversations, or store every message (default)."
    ),
    embed: bool = typer.Option(
        True, "--embed/--no-embed", help="Compute vectors now (progress bar), or leave them to the server."
    ),
    mapping: Path = typer.Option(None, "--mapping", help="Write the source id -> memory ids mapping (JSON) here."),
    json_output: bool = JsonOpt,
) -> None:
    """Import conversations or memories from JSONL: validated first, one transaction per record, resumable.

    A rerun skips records already done (state in FILE.import-state.jsonl) and returns the same mapping.
    """
    from core.atomicwrite import write_atomic
    from core.cliutil import check_output_file

    check_output_file(mapping, "--mapping")
    from servers.memory_server.importer import check_file

    # checked before the event loop runs: a Ctrl-C in a minute-long check stops it at once
    records, candidates_of = check_file(file, org, customer, infer, _scope, _progress(json_output))

    async def _go() -> Any:
        import getpass

        from servers.memory_server.batch import embed_pending
        from servers.memory_server.importer import import_records, state_path
        from servers.memory_server.service import get_service

        service = get_service()
        with _progress(json_output) as bar:
            task = bar.add_task("importing", total=len(records))
            report = await import_records(
                service,
                org,
                records,
                state_path(file),
                candidates_of=candidates_of,
                infer=infer,
                actor=f"cli:{getpass.getuser()}",
                progress=lambda n: bar.advance(task, n),
            )
            embedded = await embed_pending(service, bar) if embed and service.vectors else 0
        return report, embedded

    try:
        report, embedded = _run(_go)
    except KeyboardInterrupt:
        from core.cliutil import fail
        from servers.memory_server.importer import state_path

        fail(
            "UNAVAILABLE",
            f"interrupted: the records finished so far are kept ({state_path(file).name} lists them), "
            "and no record is half-written; run the same command again to resume",
            exit_code=130,
        )
    summary = {
        "records": report.records,
        "imported": report.imported,
        "skipped_already_done": report.skipped,
        "state_not_in_database": report.not_in_database,
        "memories_added": report.memories_added,
        "duplicates": report.duplicates,
        "vectors_computed": embedded,
    }
    if mapping is not None:
        write_atomic(mapping, to_json(report.mapping) + "\n")
    if json_output:
        print_json({**summary, "mapping": report.mapping})
        return
    console.print(table(f"Imported {file.name} into {org}", ["what", "count"], summary.items()))
    if mapping is not None:
        console.print(f"[green]✓[/] mapping written to {mapping}")


@app.command("status")
def status_cmd(
    org: str = typer.Option(None, "--org", envvar="SWITCHBOARD_ORG", help="One org (default: the whole database)."),
    json_output: bool = JsonOpt,
) -> None:
    """Memories, customers and vectors done/pending (pending is 0 when vectors are switched off)."""
    from core.cliutil import require_store

    require_store()  # only reads: an empty home gets no database

    async def _go() -> Any:
        from servers.memory_server.service import get_service
        from servers.memory_server.status import database_status

        status = await database_status(get_service(), org)
        if org is not None and not status["memories"]:
            await _hint_org(org)
        return status

    status = _run(_go)
    if json_output:
        print_json(status)
        return
    console.print(table(f"Memory status ({org or 'all orgs'})", ["what", "value"], status.items()))


def _progress(quiet: bool) -> Any:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from core.cliutil import err_console

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err_console,
        disable=quiet,
    )
