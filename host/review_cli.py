"""``switchboard review``: the human review queue (escalations and approval requests)."""

from __future__ import annotations

import getpass
import os

import typer

from core.cliutil import console, fail, print_json, run, table
from core.clock import shown
from core.ids import MIN_PREFIX, short_id

app = typer.Typer(
    help="The human review queue: escalated sessions and tool calls awaiting approval.", no_args_is_help=True
)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")


def _actor(by: str | None) -> str:
    return by or os.environ.get("SWITCHBOARD_ACTOR") or getpass.getuser()


@app.command("list")
def list_items(
    status: str = typer.Option("Open", "--status", help="Open, Approved, Rejected, Resolved, Executed or all."),
    kind: str = typer.Option(None, "--kind", help="escalation or approval."),
    org: str = typer.Option(None, "--org", help="Only this tenant."),
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many items."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List review items, newest first."""
    from host.records import REVIEW_STATUSES
    from host.store import RecordStore

    if status != "all" and status not in REVIEW_STATUSES:
        console.print(f"[red]unknown status {status!r}[/]: use one of {', '.join(REVIEW_STATUSES)} or all")
        raise typer.Exit(2)
    items = run(
        lambda: RecordStore().list_reviews(
            status=None if status == "all" else status, org_id=org, kind=kind, limit=limit
        )
    )
    if json_output:
        print_json(items)
        return
    rows = [
        (
            short_id(i["id"]),
            i["kind"],
            i["status"],
            i["reason"],
            short_id(i["session_id"]),
            i["owner"] or "",
            shown(i["created_at"]),
        )
        for i in items
    ]
    console.print(
        table(f"review queue ({status})", ["id", "kind", "status", "reason", "session", "owner", "created"], rows)
    )


@app.command("show")
def show(
    review_id: str = typer.Argument(
        ..., help=f"The review item id, or its first {MIN_PREFIX}+ characters as `review list` prints it."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Show a review item with its session's turns (what the customer and the agent said)."""
    from host.store import RecordStore

    async def _go() -> dict:
        store = RecordStore()
        item = await store.get_review(await store.review_id(review_id))
        detail = await store.session_detail(item["session_id"])
        return {"item": item, "session": detail["session"], "turns": detail["turns"]}

    data = run(_go)
    if json_output:
        data["session"].pop("state", None)
        print_json(data)
        return
    item, session = data["item"], data["session"]
    console.print(
        f"[bold]{item['kind']}[/] {item['id']} · [bold]{item['status']}[/] · {item['reason']} · "
        f"{shown(item['created_at'])}"
    )
    console.print(
        f"session {session['id']} · org {session['org_id']} · customer {session.get('customer_ref') or '-'} · "
        f"agent version {session['agent_version_id']} · outcome {session.get('outcome') or '-'}"
    )
    if item.get("payload"):
        console.print(f"payload: {item['payload']}")
    for turn in data["turns"]:
        if turn.get("transcript_text"):
            console.print(f"  [bold]고객[/] {turn['transcript_text']}")
        said = turn.get("confirm_prompt") or turn.get("answer_text")
        if said:
            console.print(f"  [green]상담봇[/] {said}")


@app.command("resolve")
def resolve(
    review_id: str = typer.Argument(..., help=f"The review item id, or its first {MIN_PREFIX}+ characters."),
    approve: bool = typer.Option(False, "--approve", help="Approve the pending tool call (approval items)."),
    reject: bool = typer.Option(False, "--reject", help="Reject the pending tool call (approval items)."),
    note: str = typer.Option("", "--note", help="What was done (kept with the item)."),
    by: str = typer.Option(None, "--by", help="Who resolves it (default: $SWITCHBOARD_ACTOR or your login)."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Resolve an escalation, or approve/reject a tool call waiting for an operator.

    An approved call runs on the customer's next turn, through the gateway, exactly as requested.
    """
    from host.store import RecordStore

    if approve and reject:
        fail("INVALID_ARGUMENT", "choose --approve or --reject, not both: nothing was changed")
    decision = "approve" if approve else "reject" if reject else "resolve"

    async def _go() -> dict:
        store = RecordStore()
        full_id = await store.review_id(review_id)
        return await store.resolve_review(full_id, decision=decision, by=_actor(by), note=note)

    item = run(_go)
    if json_output:
        print_json(item)
        return
    console.print(
        f"[green]✓[/] {item['kind']} {item['id']} is now [bold]{item['status']}[/] (by {item['resolved_by']})"
    )
