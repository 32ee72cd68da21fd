"""``switchboard customer erase``: one data-subject erase across every store.

This module sits above every package (like ``switchboard_cli.py``) because it is the one place
that may reach all of them in-process: the memory service's erase (``servers.memory_server``),
the host's conversation records (``host.erase``) and the audit log's crypto-shredding
(``audit.shred``). Servers never import the host and the host never imports servers; only this
orchestrator does both.

Order: memories, then conversation records, then the audit key (the audit tombstone is the last
record, so it also covers the calls made by the first two steps' stores). Each step is safe to
rerun; a failed step stops the run with the steps done so far reported.
"""

from __future__ import annotations

import getpass
import uuid
from typing import Any

import typer

from core.cliutil import confirm_destructive, console, print_json, run, table

app = typer.Typer(help="Data-subject requests across every store.", no_args_is_help=True)

CHROMA_NOTE = (
    "memory vectors live in the memory tables (counted under memories); chroma holds knowledge-base chunks only"
)


async def erase_customer(org_id: str, customer_ref: str, *, actor: str, retention_days: int | None = None) -> dict:
    """Erase ``customer_ref`` of ``org_id`` everywhere; returns the per-store report."""
    from audit.shred import shred_subject
    from host.erase import erase_customer_records
    from servers.memory_server.service import get_service, reset_services

    erasure_id = str(uuid.uuid4())
    report: dict[str, Any] = {"erasure_id": erasure_id, "org_id": org_id, "customer_ref": customer_ref}
    try:
        memory_erasure, removal = await get_service().erase_customer(org_id, customer_ref, actor)
    finally:
        await reset_services()
    report["memories"] = {
        "erasure_id": memory_erasure,
        "memories": removal.memories,
        "vectors": removal.vectors,
        "history_rows": removal.history_rows,
        "statement_values": removal.statement_values,
        "tombstones": removal.memories,
        "wal_checkpointed": removal.wal_checkpointed,
    }
    report["conversations"] = (
        await erase_customer_records(org_id, customer_ref, retention_days=retention_days)
    ).to_dict()
    report["chroma"] = {"removed": 0, "note": CHROMA_NOTE}
    report["audit"] = (await shred_subject(org_id, customer_ref, actor=actor, erasure_id=erasure_id)).to_dict()
    return report


def _check_id(label: str, value: str) -> None:
    from core.context import is_valid_identifier
    from core.errors import invalid

    if not is_valid_identifier(value):
        raise invalid(f"--{label} must be 1-128 letters, digits or ._:@- characters")


@app.command("erase")
def erase_cmd(
    org: str = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help="The tenant (org id)."),
    customer: str = typer.Option(..., "--customer", help="The customer to erase."),
    retention_days: int = typer.Option(
        None,
        "--retention-days",
        min=0,
        help="Keep conversations younger than this many days (default: SWITCHBOARD_ERASE_RETENTION_DAYS, 0).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Erase a customer everywhere: memories, conversation records, and their audit payloads.

    Memories, vectors, statement values and conversation records (sessions, turns, events,
    review items, summaries) are deleted; the customer's audit key is destroyed so every audit
    payload of theirs reads \\[erased] while the chain still verifies; a tombstone record is
    appended. Conversations under a retention hold are kept and reported with the date they go.
    """
    confirm_destructive(
        f"Erase everything about customer {customer} in {org}? This cannot be undone.", yes=yes, json_output=json_output
    )

    async def _go() -> dict:
        _check_id("org", org)
        _check_id("customer", customer)
        return await erase_customer(org, customer, actor=f"cli:{getpass.getuser()}", retention_days=retention_days)

    report = run(_go)
    if json_output:
        print_json(report)
        return
    console.print(f"[green]✓[/] erased customer [bold]{customer}[/] in {org} (erasure {report['erasure_id']})")
    mem, conv, aud = report["memories"], report["conversations"], report["audit"]
    held = f"{conv['held_sessions']} sessions held until {conv['held_until']}" if conv["held_sessions"] else "none"
    rows = [
        (
            "memories",
            f"{mem['memories']} memories, {mem['vectors']} vectors, {mem['history_rows']} history rows, "
            f"{mem['statement_values']} statement values; {mem['tombstones']} tombstones",
        ),
        (
            "conversations",
            f"{conv['sessions']} sessions, {conv['turns']} turns, {conv['events']} events, "
            f"{conv['review_items']} review items, {conv['audio_segments']} audio segments",
        ),
        ("retention hold", held),
        ("chroma", report["chroma"]["note"]),
        (
            "audit",
            f"{aud['records_shredded']} records shredded (key destroyed: {aud['key_destroyed']}); "
            f"tombstone seq {aud['tombstone_seq']}",
        ),
    ]
    console.print(table("Erased", ["store", "what"], rows))
    if not (mem["wal_checkpointed"] and conv["wal_checkpointed"]):
        console.print("[yellow]the SQLite WAL could not be truncated (a reader is busy): run the erase again later[/]")
