"""``switchboard customer erase``: one data-subject erase across every store.

This module sits above every package (like ``switchboard_cli.py``) because it is the one place
that may reach all of them in-process: the memory service's erase (``servers.memory_server``),
the host's conversation records (``host.erase``), the order store's pseudonymisation
(``servers.order_server.erase``) and the audit log's crypto-shredding (``audit.shred``). Servers
never import the host and the host never imports servers; only this orchestrator does both.

First a look-up that writes nothing: an org no store knows (a typo) is NOT_FOUND, and so is a
customer no store knows in that org, unless ``--allow-missing`` (an earlier erase of the customer
counts as found: a rerun succeeds and says so). Then, in order: memories, conversation records,
the order store (the orders stay, the customer is pseudonymised), the tokens bound to the
customer (revoked, labels cleared), then the audit key (the audit
tombstone is the last record, so it also covers the calls made by the earlier steps' stores).
Each step is safe to rerun; a failed step stops the run with the steps done so far reported.
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


STORES = ("memories", "conversations", "orders", "audit")


async def _holds(conn: Any, queries: dict[str, list[Any]]) -> list[str]:
    """The stores (keys of ``queries``) where one of the queries returns a row."""
    found = []
    for store, store_queries in queries.items():
        for query in store_queries:
            if (await conn.execute(query.limit(1))).first() is not None:
                found.append(store)
                break
    return found


def _where(table: Any, org_id: str, customer_ref: str | None) -> Any:
    from sqlalchemy import select

    query = select(table.c.org_id).where(table.c.org_id == org_id)
    return query if customer_ref is None else query.where(table.c.customer_ref == customer_ref)


async def _presence(org_id: str, customer_ref: str | None) -> list[str]:
    """The stores other than orders that hold anything of the org (or of the customer there)."""
    from audit.schema import audit_chain_head, audit_event
    from core.db import get_engine
    from host.records import sessions
    from servers.memory_server import tables as memory

    tables = [memory.memory_scope, memory.memory_item, memory.memory_tombstone, memory.statement_value]
    if customer_ref is None:  # an earlier erase is counted apart (_earlier_erasures), org settings only here
        tables += [memory.memory_erasure, memory.statement_definition]
    queries = {
        "memories": [_where(t, org_id, customer_ref) for t in tables],
        "conversations": [_where(sessions, org_id, customer_ref)],
        "audit": [_where(audit_chain_head if customer_ref is None else audit_event, org_id, customer_ref)],
    }
    engine = await get_engine()
    async with engine.connect() as conn:
        return await _holds(conn, queries)


async def _earlier_erasures(org_id: str, customer_ref: str) -> int:
    """How many erases of this customer are on record: the memory store's erasure rows, else the
    audit tombstones (``subject_erased``, org-sealed) that name the customer."""
    from sqlalchemy import func, select

    from core.db import get_engine
    from servers.memory_server.tables import memory_erasure

    query = select(func.count()).where(memory_erasure.c.org_id == org_id, memory_erasure.c.customer_ref == customer_ref)
    engine = await get_engine()
    async with engine.connect() as conn:
        rows = int((await conn.execute(query)).scalar_one())
    if rows:
        return rows
    from audit import find

    tombstones = await find(event_type="subject_erased", org_id=org_id, limit=10_000)
    return sum(1 for r in tombstones if isinstance(r.details, dict) and r.details.get("customer_ref") == customer_ref)


async def look_up(org_id: str, customer_ref: str, *, allow_missing: bool = False) -> dict[str, Any]:
    """Where the org and the customer are known, before anything is erased; writes nothing.

    NOT_FOUND for an org no store knows (whatever ``allow_missing`` says: erasing there would
    start a new audit chain for a typo), and for a customer no store knows in the org, unless
    ``allow_missing`` or an earlier erase of the customer is on record.
    """
    from core.errors import not_found
    from core.settings import get_settings
    from servers.order_server.erase import order_presence

    looked = "memories, conversations, orders, audit log"
    unknown_org = not_found(
        f"no data for org {org_id!r} in any store ({looked}): check --org; nothing was erased or recorded"
    )
    if not get_settings().store_exists():  # checked before the database is opened (and created)
        raise not_found("no Switchboard data here: check SWITCHBOARD_HOME; nothing was erased or recorded")
    org_orders, customer_orders = await order_presence(org_id, customer_ref)
    if not org_orders and not await _presence(org_id, None):
        raise unknown_org
    found = await _presence(org_id, customer_ref) + (["orders"] if customer_orders else [])
    found = [s for s in STORES if s in found]
    earlier = await _earlier_erasures(org_id, customer_ref)
    if not found and not earlier and not allow_missing:
        raise not_found(
            f"nothing found for customer {customer_ref!r} in org {org_id!r} ({looked}, earlier erases): "
            "check --customer, or pass --allow-missing to record the erase anyway; nothing was erased or recorded"
        )
    return {
        "found_in": found,
        "already_erased": earlier > 0,
        "earlier_erasures": earlier,
        "missing_allowed": allow_missing and not found and not earlier,
    }


async def erase_customer(
    org_id: str,
    customer_ref: str,
    *,
    actor: str,
    retention_days: int | None = None,
    allow_missing: bool = False,
) -> dict:
    """Erase ``customer_ref`` of ``org_id`` everywhere; returns the per-store report.

    NOT_FOUND (nothing written) for an unknown org, or an unknown customer without ``allow_missing``.
    """
    from audit.shred import shred_subject
    from host.erase import erase_customer_records
    from servers.kit.tokens import revoke_customer_tokens
    from servers.memory_server.service import get_service, reset_services
    from servers.order_server.erase import pseudonymise_customer

    lookup = await look_up(org_id, customer_ref, allow_missing=allow_missing)
    erasure_id = str(uuid.uuid4())
    report: dict[str, Any] = {
        "erasure_id": erasure_id,
        "org_id": org_id,
        "customer_ref": customer_ref,
        "lookup": lookup,
    }
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
    report["orders"] = (await pseudonymise_customer(org_id, customer_ref)).to_dict()
    report["tokens"] = await revoke_customer_tokens(org_id, customer_ref)
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
    allow_missing: bool = typer.Option(
        False,
        "--allow-missing",
        help="Record the erase even when no store knows the customer (the org must exist).",
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Erase a customer everywhere: memories, conversation records, orders' personal fields, audit payloads.

    Memories, vectors, statement values and conversation records (sessions, turns, events,
    review items, summaries) are deleted; orders are kept (business records) but the customer's
    name, phone numbers, recipient, delivery region, tracking places and refund reasons become
    \\[erased]; tokens bound to the customer are revoked; the customer's audit key is destroyed
    so every audit payload of theirs reads \\[erased] while the chain still verifies; a
    tombstone record is appended. Conversations under
    a retention hold are kept and reported with the date they go. An org or customer that no
    store knows is NOT_FOUND (exit 2, nothing written); a rerun after an erase succeeds.
    """
    confirm_destructive(
        f"Erase everything about customer {customer} in {org}? This cannot be undone.", yes=yes, json_output=json_output
    )

    async def _go() -> dict:
        _check_id("org", org)
        _check_id("customer", customer)
        return await erase_customer(
            org,
            customer,
            actor=f"cli:{getpass.getuser()}",
            retention_days=retention_days,
            allow_missing=allow_missing,
        )

    report = run(_go)
    if json_output:
        print_json(report)
        return
    _print_report(report)


def _audit_line(aud: dict[str, Any]) -> str:
    """What the audit step did, in words (a False "key destroyed" read as a failure to a newcomer)."""
    if aud["key_destroyed"]:
        done = f"{aud['records_shredded']} records shredded: the customer's key is destroyed"
    elif aud["records_shredded"]:
        done = f"{aud['records_shredded']} records already unreadable: their key was destroyed by an earlier erase"
    else:
        done = "no audit record held this customer's data (no key to destroy)"
    return f"{done}; tombstone seq {aud['tombstone_seq']}"


def _orders_line(orders: dict[str, Any]) -> str:
    if orders["customers_pseudonymised"]:
        who = f"{orders['customers_pseudonymised']} customer pseudonymised"
    elif orders["customers_already_pseudonymised"]:
        who = "customer already pseudonymised"
    else:
        who = "no customer record"
    line = f"{who}, {orders['orders_kept']} orders kept (business records), {orders['fields_cleared']} fields cleared"
    return f"{line}; {orders['note']}" if orders["note"] else line


def _tokens_line(tokens: dict[str, int]) -> str:
    if not tokens["revoked"] and not tokens["labels_cleared"]:
        return "no token bound to the customer"
    revoked, cleared = tokens["revoked"], tokens["labels_cleared"]
    return (
        f"{revoked} token{'s' if revoked != 1 else ''} bound to the customer revoked, "
        f"{cleared} label{'s' if cleared != 1 else ''} cleared"
    )


def _print_report(report: dict[str, Any]) -> None:
    from rich.markup import escape

    customer, org, lookup = escape(report["customer_ref"]), escape(report["org_id"]), report["lookup"]
    console.print(f"[green]✓[/] erased customer [bold]{customer}[/] in {org} (erasure {report['erasure_id']})")
    if lookup["already_erased"]:
        n = lookup["earlier_erasures"]
        console.print(
            f"customer {customer} was already erased ({n} earlier erase{'s' if n != 1 else ''}): "
            "this run removed whatever was found since"
        )
    elif lookup["missing_allowed"]:
        console.print(f"[yellow]nothing was found for {customer} in {org}: the erase is recorded (--allow-missing)[/]")
    mem, conv, aud, orders = report["memories"], report["conversations"], report["audit"], report["orders"]
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
        ("orders", _orders_line(orders)),
        ("tokens", _tokens_line(report["tokens"])),
        ("chroma", report["chroma"]["note"]),
        (
            "audit",
            _audit_line(aud),
        ),
    ]
    console.print(table("Erased", ["store", "what"], rows))
    if not (mem["wal_checkpointed"] and conv["wal_checkpointed"] and orders["wal_checkpointed"]):
        console.print("[yellow]the SQLite WAL could not be truncated (a reader is busy): run the erase again later[/]")
