"""``switchboard audit``: tail, find, verify, export, checkpoint, prune, public-key."""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.markup import escape  # paths and values quoted in messages are data, not Rich markup

from core.cliutil import check_output_file, console, err_console, fail, print_json, run

T = TypeVar("T")
app = typer.Typer(
    help="The tamper-evident audit log: tail, find, verify, export, checkpoint, prune.", no_args_is_help=True
)
JSON_OPT = typer.Option(False, "--json", help="Machine-readable output.")


def _run(factory: Callable[[], Awaitable[T]]) -> T:
    """Run an audit coroutine; flush and close the appenders afterwards."""

    async def _go() -> T:
        from audit.log import close

        try:
            return await factory()
        finally:
            await close()

    return run(_go)


@contextmanager
def _progress(label: str, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    """A Rich progress line on stderr (interactive terminals only); yields an advance callback."""
    if not enabled or not err_console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda n: progress.advance(task, n)


def _when(value: str | None, flag: str) -> str | None:
    if value is None:
        return None
    from audit.timeparse import parse_time

    try:
        return parse_time(value)
    except ValueError as err:
        err_console.print(f"[bold red]error[/] [INVALID_ARGUMENT] {flag}: {escape(str(err))}")
        raise typer.Exit(2) from None


def _views(records: list[Any]) -> list[dict[str, Any]]:
    """Records as dicts with their sealed payloads opened (``[erased]`` for an erased subject)."""
    from audit.sealing import Opener

    opener = Opener()
    return [opener.open_row(r.to_dict()) for r in records]


# the payload column is a preview: the whole payload is in --json (up to 16 KiB per record)
_PREVIEW_CHARS = 160


def _preview(payload: str) -> str:
    if len(payload) <= _PREVIEW_CHARS:
        return payload
    return f"{payload[:_PREVIEW_CHARS]} (+{len(payload) - _PREVIEW_CHARS} chars: --json shows all)"


def _rows(records: list[Any]) -> list[tuple[str, ...]]:
    views = _views(records)
    return [
        (
            f"{r.org_id}#{r.seq}",
            r.occurred_at[5:19].replace("T", " "),
            r.source,
            r.tool_name or r.event_type,
            r.error_code or ("ok" if r.is_error is False else ""),
            "" if r.latency_ms is None else f"{r.latency_ms:.1f}",
            _preview(v["args_redacted"] or v["details_redacted"] or ""),
        )
        for r, v in zip(records, views, strict=True)
    ]


def _table(title: str, records: list[Any]) -> Any:
    """The records as the CLI's house table (core.cliutil.table): ids, event types and tool names are
    kept whole or folded onto the next line, never cut with an ellipsis; the payload column, a preview
    (``--json`` has it all), is shown when the terminal is wide enough for it."""
    from rich.text import Text

    from core.cliutil import table

    rows = _rows(records)
    names = ["record", "time (UTC)", "source", "tool / event", "outcome", "ms"]
    natural = sum(max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names))
    room = console.width - (3 * (len(names) + 1) + 1) - natural  # what a payload column would get
    wide = room >= 20
    if wide:
        names.append("arguments / details")
    # cells are data ("[erased]" is no Rich markup): plain Text, never read as markup
    cells = [[Text(cell) for cell in (row if wide else row[:-1])] for row in rows]
    out = table(title, names, cells)
    if wide:  # a payload is one long word (canonical JSON): it gets the room the other columns leave
        out.columns[-1].max_width = room
    return out


@app.command()
def tail(
    org: str = typer.Option(None, help="Only this org."),
    lines: int = typer.Option(20, "--lines", "-n", min=1, max=10_000, help="How many records to show."),
    follow: bool = typer.Option(False, "--follow", "-f", help="Keep printing new records (Ctrl-C to stop)."),
    interval: float = typer.Option(1.0, min=0.1, help="--follow: seconds between polls."),
    json_output: bool = JSON_OPT,
) -> None:
    """Show the newest audit records (redacted), oldest first."""
    from audit import store

    records = _run(lambda: store.tail(org, limit=lines))
    if not records and org is not None:
        _hint_org(org)
    if json_output:
        if not follow:
            print_json(_views(records))
            return
        for view in _views(records):
            _json_line(view)
    elif not records:
        console.print(f"no audit records{f' for org {escape(repr(org))}' if org else ' yet'}")
    else:
        console.print(_table("audit log", records))
    if not follow:
        return
    seen: dict[str, int] = {}
    for r in records:
        seen[r.org_id] = max(seen.get(r.org_id, 0), r.seq)
    try:
        _follow(org, seen, interval, json_output)
    except KeyboardInterrupt:
        return


def _hint_org(org: str) -> None:
    """Nothing found for ``org``: when it has no audit chain, name the orgs that have one (a typo)."""
    from audit import store
    from core.cliutil import hint_unknown_org

    hint_unknown_org(org, _run(store.list_orgs), "audit records")


def _follow(org: str | None, seen: dict[str, int], interval: float, json_output: bool) -> None:
    import asyncio

    from audit import store

    async def _loop() -> None:
        while True:
            await asyncio.sleep(interval)
            fresh = await store.tail(org, limit=1000, after=seen or None)
            fresh = [r for r in fresh if r.seq > seen.get(r.org_id, 0)]
            for r in fresh:
                seen[r.org_id] = max(seen.get(r.org_id, 0), r.seq)
                if json_output:
                    _json_line(_views([r])[0])
                else:
                    console.print("  ".join(c for c in _rows([r])[0] if c))

    _run(_loop)


def _json_line(value: dict[str, Any]) -> None:
    import json

    sys.stdout.write(json.dumps(value, ensure_ascii=False) + "\n")
    sys.stdout.flush()


@app.command()
def find(
    value: str = typer.Option(None, help="An exact personal value (phone, card, account, resident no., e-mail)."),
    text: str = typer.Option(None, help="Text to look for in the redacted arguments, results and details."),
    org: str = typer.Option(None, help="Only this org."),
    trace: str = typer.Option(None, help="A trace id."),
    session: str = typer.Option(None, help="A session id."),
    tool: str = typer.Option(None, help="A tool name."),
    event_type: str = typer.Option(None, "--type", help="An event type, e.g. tool_call."),
    since: str = typer.Option(None, help="Only records at or after: 2026-01-31, an ISO time, or 7d / 12h / 30m ago."),
    customer: str = typer.Option(None, help="Only this customer's records."),
    limit: int = typer.Option(50, min=1, max=10_000, help="At most this many records (the newest)."),
    json_output: bool = JSON_OPT,
) -> None:
    """Find the records that carried a value, without that value ever being stored.

    --value is matched through each org's keyed HMAC, so `find --value 010-1234-5678` finds calls
    whose arguments or results held that number in any spelling (01012345678, +82 10-1234-5678).
    """
    from audit import store

    since_ts = _when(since, "--since")
    records = _run(
        lambda: store.find(
            value=value,
            text=text,
            org_id=org,
            trace_id=trace,
            session_id=session,
            tool_name=tool,
            event_type=event_type,
            since=since_ts,
            customer_ref=customer,
            limit=limit,
        )
    )
    if not records and org is not None:
        _hint_org(org)
    if json_output:
        print_json(_views(records))
        return
    if not records:
        console.print("no matching audit records")
        _hint_customer_value(customer)
        return
    console.print(_table(f"{len(records)} matching audit records", records))


def _hint_customer_value(customer: str | None) -> None:
    """--customer given a phone, card or e-mail: references are opaque ids; --value finds the value."""
    from core.context import customer_ref_problem

    if customer and customer_ref_problem(customer):
        console.print(
            f"[yellow]![/] {escape(customer)} looks like personal data, and a customer reference is an opaque id "
            f"(C-1001): to find the records that carried it, use `switchboard audit find --value {escape(customer)}`",
            soft_wrap=True,
        )


@app.command()
def verify(
    org: str = typer.Option(None, help="Only this org (default: every org)."),
    from_seq: int = typer.Option(None, "--from-seq", min=1, help="Start at this seq (links to the one before)."),
    file: Path = typer.Option(None, "--file", help="Verify an export file offline, without the database."),
    checkpoint_dir: Path = typer.Option(None, "--checkpoint-dir", help="Signed checkpoints (default: under home)."),
    public_key: list[Path] = typer.Option(
        None, "--public-key", help="Checkpoint public key (PEM or base64); repeat for rotated keys."
    ),
    witness: list[Path] = typer.Option(
        None,
        "--witness",
        help="A witness's checkpoints (a directory, e.g. a clone of the witness git repo); repeatable. "
        "Default: SWITCHBOARD_AUDIT_WITNESS when it is a directory.",
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Also fail when a tool call has no recorded result, or an export file holds nothing to verify "
        "or does not sign its start and end.",
    ),
    json_output: bool = JSON_OPT,
) -> None:
    """Check every hash, link and seq, and the signed checkpoints (local and the witness's).

    Exit codes: 0 intact; 1 broken (the first broken seq and why), or with --strict a tool call
    without a recorded result; 2 bad usage; 3 records older than the checkpoint interval that no
    signed checkpoint covers; 4 the witness holds a checkpoint the database contradicts (e.g.
    restored from an older backup). Tool calls without a recorded result (a crash mid-call) are
    listed as a warning.
    """
    from audit.orphans import describe, print_unresolved, unresolved_calls
    from audit.verify import verify_all
    from audit.verify_file import verify_export
    from core.inputfile import not_regular_reason

    keys = [str(p) for p in public_key or []]
    for key_path in keys:
        if reason := not_regular_reason(Path(key_path)):  # a FIFO is not waited on, a folder is named
            err_console.print(f"[bold red]error[/] [INVALID_ARGUMENT] --public-key {escape(key_path)}: {reason}")
            raise typer.Exit(2)
    if file is not None:
        if reason := not_regular_reason(file):
            missing = reason.startswith("no such")
            code, what = ("NOT_FOUND", "no such export file") if missing else ("INVALID_ARGUMENT", reason)
            err_console.print(f"[bold red]error[/] [{code}] {escape(str(file))}: {what}")
            raise typer.Exit(2)
        cdir = str(checkpoint_dir) if checkpoint_dir else None

        async def _offline() -> list[Any]:
            return verify_export(file, public_keys=keys, checkpoint_dir=cdir, strict=strict)

        reports = run(_offline)
    else:
        for folder in witness or []:
            if not folder.is_dir():
                err_console.print(
                    f"[bold red]error[/] [INVALID_ARGUMENT] --witness {escape(str(folder))}: no such directory"
                )
                raise typer.Exit(2)
        with _progress("verifying", not json_output) as advance:
            reports = _run(
                lambda: verify_all(
                    org,
                    from_seq=from_seq,
                    checkpoint_dir=checkpoint_dir,
                    public_keys=keys,
                    progress=advance,
                    witness_dirs=list(witness) if witness else None,
                    require_coverage=True,
                )
            )
    if file is None and from_seq is not None and reports and all(_past_the_end(r, from_seq) for r in reports):
        ends = ", ".join(f"{r.org_id} ends at seq {r.head_seq}" for r in reports)
        fail(
            "INVALID_ARGUMENT",
            f"--from-seq {from_seq} is past the end of every chain ({ends}): nothing was verified; give a seq "
            "within a chain, or leave --from-seq out",
        )
    orphans = [] if file is not None else _run(lambda: unresolved_calls(org))
    journaled = 0 if file is not None else _journaled_waiting()
    ok = all(r.ok for r in reports) and not (strict and orphans)
    empty_strict = strict and file is not None and _nothing_verified(reports)
    ok = ok and not empty_strict  # --strict: a file that proves nothing does not pass
    if json_output:
        print_json(
            {
                "ok": ok,
                "orgs": [r.to_dict() for r in reports],
                "unresolved_calls": [describe(o) for o in orphans],
                "journaled_waiting": journaled,
            }
        )
    else:
        _print_reports(reports)
        if empty_strict:
            console.print("[bold red]✗[/] --strict: a file with nothing to verify does not pass")
        print_unresolved(orphans, strict=strict)
        if journaled:
            console.print(
                f"  [yellow]![/] {journaled} tool-call record(s) wait in the journal of a stopped server, not "
                "chained yet (not covered by this check): the next server or command that writes to the audit "
                "log chains them"
            )
    if not ok:
        raise typer.Exit(_exit_code(reports))


def _past_the_end(report: Any, from_seq: int) -> bool:
    """A report of a chain that ends before ``from_seq``: nothing of it was verified."""
    return report.ok and report.records == 0 and report.head_seq is not None and from_seq > report.head_seq


def _journaled_waiting() -> int:
    """Records in the write-ahead journals of stopped processes (SQLite; see audit/journal.py)."""
    from sqlalchemy.engine import make_url

    from audit.journal import pending_orphan_entries
    from core.settings import get_settings

    url = get_settings().resolved_database_url
    return pending_orphan_entries(make_url(url).database or "") if url.startswith("sqlite") else 0


def _exit_code(reports: list[Any]) -> int:
    """The most serious outcome: broken (1) over witness contradiction (4) over uncovered records (3)."""
    codes = {getattr(r, "exit_code", 1) for r in reports if not r.ok}
    for code in (1, 4, 3):
        if code in codes:
            return code
    return 1


def _nothing_verified(reports: list[Any]) -> bool:
    """An export file with no records and no checkpoints (a header only): nothing was checked."""
    from audit.verify_file import NO_ORG

    return len(reports) == 1 and reports[0].org_id == NO_ORG and reports[0].ok


def _print_reports(reports: list[Any]) -> None:
    from audit.verify_file import NO_ORG

    if not reports:
        console.print("no audit records yet")
    for r in reports:
        span = f"seq {r.first_seq}..{r.last_seq}" if r.first_seq is not None else "no records"
        if r.ok and r.org_id == NO_ORG:
            console.print("[yellow]![/] export file: no records, no checkpoints: nothing to verify")
        elif r.ok and not r.records and r.head_seq:  # verified from past its end (the warning says so)
            console.print(f"[yellow]-[/] {escape(r.org_id)}: nothing verified")
        elif r.ok:
            console.print(
                f"[green]✓[/] {r.org_id}: {r.records} records ({span}), {r.checkpoints_checked} checkpoints: intact"
            )
            if r.after_checkpoint:
                console.print(
                    f"    {r.after_checkpoint} records after the last signed checkpoint "
                    f"(seq {r.checkpointed_seq or 0}), since {r.uncovered_since}: "
                    "protected by the hash chain only until the next checkpoint"
                )
        else:
            name = "export file" if r.org_id == NO_ORG else r.org_id
            if r.broken_seq is not None:
                name += f": broken at seq {r.broken_seq}"
            elif r.first_problem.kind != "empty":
                name += ": not readable"
            console.print(f"[bold red]✗[/] {escape(name)}: {escape(r.reason or '')}")
            for p in sorted(r.problems, key=lambda p: p.seq or 0)[1:6]:
                console.print(f"    also seq {p.seq}: {p.reason}")
            if len(r.problems) > 6:
                console.print(f"    … {len(r.problems) - 6} more (see --json)")
        for warning in r.warnings:
            console.print(f"  [yellow]![/] {warning}")


async def _require_chain(org: str, done: str = "nothing was exported") -> None:
    """NOT_FOUND for an org with no audit records (a typo), naming the orgs that have some."""
    from audit import store
    from core.errors import not_found

    orgs = await store.list_orgs()
    if org not in orgs:
        hint = f"orgs with audit records: {', '.join(sorted(orgs)[:10])}" if orgs else "no org has audit records"
        raise not_found(f"no audit records for org {org!r} ({hint}): check --org; {done}")


@app.command()
def export(
    since: str = typer.Option(None, help="From the first record at or after: 2026-01-31, an ISO time, or 7d."),
    until: str = typer.Option(None, help="Up to the last record before this time."),
    org: str = typer.Option(None, help="Only this org."),
    output: Path = typer.Option(None, "--output", "-o", help="Write here instead of stdout."),
    no_sign: bool = typer.Option(False, "--no-sign", help="Do not add a signed export checkpoint."),
    decrypt: bool = typer.Option(
        False, "--decrypt", help="Add the readable payloads (\\[erased] for erased customers): plaintext on disk."
    ),
    checkpoint_dir: Path = typer.Option(None, "--checkpoint-dir", help="Signed checkpoints (default: under home)."),
    json_output: bool = JSON_OPT,
) -> None:
    """Export records with their hashes as JSON lines (check them offline with `verify --file`)."""
    from contextlib import nullcontext

    from audit.export import export_records
    from core.atomicwrite import atomic_output, write_failure

    since_ts, until_ts = _when(since, "--since"), _when(until, "--until")
    if since_ts and until_ts and until_ts <= since_ts:
        fail("INVALID_ARGUMENT", f"--until {until} is not after --since {since}: nothing was exported")
    check_output_file(output)  # before any work: a missing directory is named, nothing is written
    if org is not None:
        _run(lambda: _require_chain(org))  # before the file is made: a typo'd org writes nothing
    # -o: a temporary file renamed into place when complete, so a full disk or an error leaves no
    # cut-off export (with --decrypt, readable payloads) behind
    try:
        with (
            atomic_output(output) if output else nullcontext(sys.stdout) as handle,
            _progress("exporting", output is not None) as advance,
        ):
            summary = _run(
                lambda: export_records(
                    handle,
                    org_id=org,
                    since=since_ts,
                    until=until_ts,
                    sign_export=not no_sign,
                    checkpoint_dir=checkpoint_dir,
                    progress=advance,
                    decrypt=decrypt,
                )
            )
    except OSError as err:  # stdout redirected to a full disk
        fail(*write_failure(Path("standard output"), err))
    body = {
        "records": summary.records,
        "orgs": {o: {"first_seq": a, "last_seq": b} for o, (a, b) in summary.orgs.items()},
        "signed": summary.signed,
        "output": str(output) if output else "-",
    }
    if json_output and output:
        print_json(body)
    elif json_output:
        import json

        err_console.print(json.dumps(body, ensure_ascii=False))
    else:
        records, orgs = summary.records, len(summary.orgs)
        err_console.print(
            f"[green]✓[/] exported {records} record{'' if records == 1 else 's'}"
            f" from {orgs} org{'' if orgs == 1 else 's'}"
        )


@app.command()
def checkpoint(
    org: str = typer.Option(None, help="Only this org (default: every org)."),
    directory: Path = typer.Option(None, "--dir", help="Checkpoint directory (default: under home)."),
    json_output: bool = JSON_OPT,
) -> None:
    """Verify each chain since its last checkpoint, then sign its head (Ed25519) into the directory."""
    from audit.maintenance import create_checkpoints

    if org is not None:
        _run(lambda: _require_chain(org, "nothing was signed"))
    results = _run(lambda: create_checkpoints(org, directory=directory))
    if json_output:
        print_json(results)
        return
    if not results:
        console.print("no audit records yet: nothing to sign")
    for r in results:
        console.print(f"[green]✓[/] {r.org_id}: seq {r.seq} signed → {r.path}")


@app.command()
def prune(
    before: str = typer.Option(..., help="Remove records before: 2026-01-31, an ISO time, or 400d (ago)."),
    org: str = typer.Option(None, help="Only this org (default: every org)."),
    directory: Path = typer.Option(None, "--dir", help="Checkpoint directory (default: under home)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    json_output: bool = JSON_OPT,
) -> None:
    """Remove old records: the only way records leave. A signed checkpoint is written first."""
    from audit.maintenance import prune as do_prune

    before_ts = _when(before, "--before")
    if org is not None:
        _run(lambda: _require_chain(org, "nothing was removed"))
    if not yes and not typer.confirm(f"Permanently remove audit records before {before_ts}?"):
        raise typer.Exit(1)
    results = _run(lambda: do_prune(before_ts or "", org_id=org, directory=directory))
    if json_output:
        print_json(results)
        return
    if not results:
        console.print(f"nothing before {before_ts}")
    for r in results:
        console.print(f"[green]✓[/] {r.org_id}: removed {r.removed} records through seq {r.through_seq}")
        console.print(f"  signed checkpoint: {r.checkpoint_path}")


@app.command("public-key")
def public_key_cmd(json_output: bool = JSON_OPT) -> None:
    """Print the checkpoint public key (give it to auditors for `verify --public-key`)."""
    from audit.keys import key_id, public_pem, signing_key

    async def _key() -> Any:
        return signing_key()

    public = run(_key).public_key()
    if json_output:
        print_json({"key_id": key_id(public), "pem": public_pem(public)})
        return
    sys.stdout.write(public_pem(public))
    err_console.print(f"key id {key_id(public)}")
