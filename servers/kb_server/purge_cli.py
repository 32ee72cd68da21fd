"""``switchboard kb purge-doc``: remove a document from every version and every file (kept apart
from :mod:`servers.kb_server.cli` for its size)."""

from __future__ import annotations

import getpass
import os
from typing import Any

import typer
from rich.markup import escape

from core.cliutil import console, err_console, print_json, run


def _actor() -> str:
    return os.environ.get("SWITCHBOARD_ACTOR") or f"cli:{getpass.getuser()}"


def register(app: typer.Typer, org_option: Any, json_option: Any) -> None:
    @app.command("purge-doc")
    def purge_doc(
        kb: str = typer.Argument(..., help="KB name or id."),
        doc_id: str = typer.Argument(..., help="The document id (see `kb show`, `kb versions`)."),
        org: str = org_option,
        reason: str = typer.Option(
            None, "--reason", help="Why (kept with the purge record and the audit event; not the document's content)."
        ),
        yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
        json_output: bool = json_option,
    ) -> None:
        """Purge a document from EVERY version: its text, chunks, vectors and index files.

        Unlike `kb delete-doc` (a new version without it, older versions keep it), this is for a
        document that must not be stored at all, e.g. a customer's letter uploaded by mistake.
        Versions keep their numbers and content hashes and answer for their other documents;
        `kb show` lists the purge (who, when, why). Cannot be undone.
        """
        from core.errors import invalid
        from servers.kb_server.purge import plan_purge, purge_document

        async def check() -> Any:
            if not reason or not reason.strip():
                raise invalid("give the reason for the purge with --reason (kept with the purge record)")
            return await plan_purge(org, kb, doc_id)

        plan = run(check)
        if not plan.already_purged and not yes:
            where = ", ".join(f"v{v}" for v in plan.versions) or "no version"
            err_console.print(
                f"purge {escape(doc_id)} from {escape(plan.kb_name)}: {plan.n_revisions} revision(s),"
                f" {plan.n_chunks} chunk(s), held by {where}; this cannot be undone"
            )
            if not typer.confirm("purge it?", default=False, err=True):
                err_console.print("aborted: nothing changed")
                raise typer.Exit(1)

        def show(step: str, done: int, total: int) -> None:
            if not json_output and total:
                err_console.print(f"  {step}: {done}/{total}", highlight=False)

        result = run(lambda: purge_document(org, kb, doc_id, actor=_actor(), reason=reason, progress=show))
        if json_output:
            print_json(result.to_dict())
            return
        if result.status == "already_purged":
            name = escape(result.kb_name)
            console.print(f"[yellow]=[/] {escape(doc_id)} was already purged from {name}: nothing changed")
            return
        held = ", ".join(map(str, result.versions)) or "-"
        console.print(
            f"[green]✓[/] purged {escape(doc_id)} from {escape(result.kb_name)} (versions"
            f" {held}): {result.revisions} revision(s), {result.chunks} chunk(s),"
            f" {result.vectors} vector(s), {result.index_dirs} index folder(s) rebuilt"
        )
        for note in result.notes:
            err_console.print(f"[yellow]![/] {escape(note)}")
