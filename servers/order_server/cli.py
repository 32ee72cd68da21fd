"""``switchboard orders``: seed the demo shop, import orders from CSV, look an order up, check a backend."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

from core.cliutil import console, err_console, fail, print_json, run, table

app = typer.Typer(
    help="Order data: seed the demo shop, import orders from CSV, list them, look one up, check the backend.",
    no_args_is_help=True,
)

ORG_HELP = "The tenant (org id) the data belongs to."
MAX_SHOWN = 50


@app.command()
def seed(
    org: str = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help=ORG_HELP),
    anchor: str = typer.Option(
        None,
        help="Date the demo story is set on (YYYY-MM-DD, default today). 2026-01-22 matches the legacy call records.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Load the demo shop (Korean customers and products; order 8841 with a refund in progress).

    Safe to run again: orders and customers that exist are left as they are.
    """
    from core.errors import invalid
    from servers.order_server.seed import STORY_ORDER
    from servers.order_server.seed import seed as run_seed

    def _go():
        try:
            day = date.fromisoformat(anchor) if anchor else None
        except ValueError:
            raise invalid(f"--anchor {anchor!r} is not a date: use YYYY-MM-DD") from None
        return run_seed(org, anchor=day)

    report = run(_go)
    if json_output:
        print_json(report)
        return
    console.print(
        f"[green]✓[/] org [bold]{report.org_id}[/]: {report.orders_created} orders and "
        f"{report.customers_created} customers created, {report.orders_present} orders already present "
        f"(story date {report.anchor})"
    )
    console.print(
        f"  Try: switchboard serve orders --org {report.org_id}  → get_refund_status order_id={STORY_ORDER}",
        style="dim",
    )


@app.command("import")
def import_orders(
    csv_file: Path = typer.Argument(..., help="CSV file, one row per order line (see docs/orders.md for columns)."),
    org: str = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help=ORG_HELP),
    encoding: str = typer.Option("auto", help="auto (UTF-8, then CP949), or a Python codec name."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; load nothing."),
    upsert: bool = typer.Option(
        False, "--upsert", help="Update orders and customers that exist (lines, payment, shipment; refunds kept)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Bulk-load orders from CSV, all or nothing.

    If any row is rejected, nothing is loaded and every rejected row is listed with its reason (exit code 1).
    Re-importing a corrected export: add --upsert, and existing orders are overwritten from the file.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from servers.order_server.importer import import_csv

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
        disable=json_output,
    )
    tasks: dict[str, int] = {}

    def on_progress(phase: str, done: int, total: int) -> None:
        if phase not in tasks:
            label = "validating rows" if phase == "validate" else "loading orders"
            tasks[phase] = progress.add_task(label, total=total)
        progress.update(tasks[phase], completed=done, total=total)

    with progress:
        report = run(
            lambda: import_csv(
                org, csv_file, encoding=encoding, dry_run=dry_run, upsert=upsert, on_progress=on_progress
            )
        )
    if not report.rows and not report.rejected:  # a header and nothing else: no import happened
        fail("INVALID_ARGUMENT", f"{csv_file} has no rows under its header: nothing to load")
    if json_output:
        print_json(report)
    else:
        _print_report(report, dry_run)
    if report.rejected:
        raise typer.Exit(1)


def _print_report(report, dry_run: bool) -> None:
    if report.rejected:
        shown = report.rejected[:MAX_SHOWN]
        rows = [(r.line, r.order_id, r.reason) for r in shown]
        console.print(table(f"Rejected rows ({len(report.rejected)})", ["line", "order_id", "reason"], rows))
        if len(report.rejected) > MAX_SHOWN:
            console.print(f"  … and {len(report.rejected) - MAX_SHOWN} more (use --json for all)")
        console.print(f"[bold red]✗[/] nothing loaded: fix the {len(report.rejected)} rejected rows and run again")
    elif dry_run:
        console.print(f"[green]✓[/] {report.rows} rows, {report.orders} orders: all valid (dry run, nothing loaded)")
    else:
        created = report.orders - report.orders_updated
        console.print(
            f"[green]✓[/] loaded {report.orders} orders ({report.rows} rows) into org [bold]{report.org_id}[/]: "
            f"{created} new, {report.orders_updated} updated; {report.customers_created} new customers, "
            f"{report.customers_updated} updated"
        )


@app.command()
def show(
    order_id: str = typer.Argument(..., help="The order number (주문번호), e.g. 8841."),
    org: str = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help=ORG_HELP),
    customer: str = typer.Option(None, "--customer", help="Only if it is this customer's order."),
    json_output: bool = typer.Option(False, "--json", help="The get_order tool's result, as JSON."),
) -> None:
    """Look one order up the way the get_order tool does (over the configured backend).

    Handy to check a mapping file: SWITCHBOARD_ORDERS_BACKEND=shop.toml switchboard orders show 5001 --org hanbit
    """
    from servers.order_server.cli_show import show_order

    show_order(order_id, org, customer, json_output)


@app.command("list")
def list_command(
    org: str = typer.Option(..., "--org", envvar="SWITCHBOARD_ORG", help=ORG_HELP),
    customer: str = typer.Option(None, "--customer", help="Only this customer's orders, e.g. C-1001."),
    status: str = typer.Option(None, "--status", help="Only orders in this status, e.g. delivered or shipped."),
    limit: int = typer.Option(50, "--limit", help="At most this many (1-1000)."),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """List a tenant's orders, newest first: number, customer, status, total, items.

    Reads the built-in tables (what `orders seed` and `orders import` loaded); names are masked.
    """
    from servers.order_server.cli_show import list_orders

    list_orders(org, customer, status, limit, json_output)


@app.command("backend")
def backend_check(
    mapping: Path = typer.Argument(
        None, help="A mapping file to check (default: SWITCHBOARD_ORDERS_BACKEND, or the built-in tables)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Check which backend the order server uses and that its mapping file is valid."""
    from servers.order_server.cli_show import check_backend

    check_backend(mapping, json_output)
