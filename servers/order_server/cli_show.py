"""``switchboard orders show``, ``list`` and ``backend``: one order, a tenant's orders, which backend answers."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from core.cliutil import console, hint_unknown_org, print_json, run, table
from servers.order_server.tables import ORDER_ID_PATTERN


def backend_label() -> str:
    """Where orders are read from: the built-in tables (and their database) or the mapping file."""
    from core.settings import get_settings
    from servers.order_server.backends import configured

    setting = configured()
    if setting == "tables":
        url = get_settings().resolved_database_url
        where = url.split("///", 1)[1] if url.startswith("sqlite") else url.split("@")[-1]  # never a password
        return f"built-in tables in {where}"
    return f"mapping file {Path(setting).expanduser().resolve()}"


def show_order(order_id: str, org: str, customer: str | None, json_output: bool) -> None:
    from core.context import RequestContext, customer_ref_problem, is_valid_identifier
    from core.errors import SwitchboardError, invalid, not_found
    from servers.order_server import service
    from servers.order_server.backends import close_backend

    async def _go() -> tuple[Any, Any]:
        if not is_valid_identifier(org):
            raise invalid("--org must be 1-128 letters, digits or ._:@- characters")
        if customer is not None and (problem := customer_ref_problem(customer)):
            raise invalid(f"--customer {problem}")
        if not re.fullmatch(ORDER_ID_PATTERN, order_id):
            raise invalid(f"{order_id!r} is not an order number (주문번호): 4-20 digits, e.g. 8841")
        _database_exists()
        ctx = RequestContext(org_id=org, customer_ref=customer)
        try:
            return await service.get_order(ctx, order_id), await service.get_shipping_status(ctx, order_id)
        except SwitchboardError as err:
            if err.code.value == "NOT_FOUND":
                raise not_found(f"{err.message}; looked in org {org}, {backend_label()}") from None
            raise
        finally:
            await close_backend()

    order, shipping = run(_go)
    if json_output:
        print_json(order.model_dump(mode="json"))
        return
    console.print(_summary(order))
    items = [(i.line_no, i.name, i.option or "", i.quantity, f"{i.amount_krw:,}") for i in order.items]
    console.print(table("Items", ["#", "product", "option", "qty", "KRW"], items))
    if shipping.events:
        events = [(e.at, e.status_label, e.location, e.description) for e in shipping.events]
        console.print(table("Tracking (newest first)", ["at", "status", "location", "event"], events))
    console.print(f"[dim]from {backend_label()}[/]")


def list_orders(org: str, customer: str | None, status: str | None, limit: int, json_output: bool) -> None:
    """A tenant's orders, newest first, from the built-in tables (what ``orders seed`` / ``import`` loaded)."""
    from sqlalchemy import func, select

    from core.context import customer_ref_problem, is_valid_identifier
    from core.db import get_engine
    from core.errors import invalid
    from servers.order_server import tables as t
    from servers.order_server.backends import configured
    from servers.order_server.models import ORDER_STATUS_LABELS, kst_iso
    from servers.order_server.phone import mask_name

    async def _go() -> list[dict[str, Any]]:
        if not is_valid_identifier(org):
            raise invalid("--org must be 1-128 letters, digits or ._:@- characters")
        if customer is not None and (problem := customer_ref_problem(customer)):
            raise invalid(f"--customer {problem}")
        if status is not None and status not in ORDER_STATUS_LABELS:
            raise invalid(f"--status {status!r} is not an order status: use one of {', '.join(ORDER_STATUS_LABELS)}")
        if not 1 <= limit <= 1000:
            raise invalid("--limit must be 1-1000")
        if configured() != "tables":
            raise invalid(
                f"orders list reads the built-in tables; orders come from {backend_label()}: list them in the shop's "
                "own system, and look one up with `switchboard orders show ORDER --org ORG`"
            )
        _database_exists()
        lines = (
            select(t.order_item.c.order_id, func.count().label("lines"))
            .where(t.order_item.c.org_id == org)
            .group_by(t.order_item.c.order_id)
            .subquery()
        )
        first = t.order_item.alias("first")
        query = (
            select(t.order, t.customer.c.name, lines.c.lines, first.c.product_name.label("first"))
            .join(t.customer, (t.customer.c.org_id == org) & (t.customer.c.customer_ref == t.order.c.customer_ref))
            .outerjoin(lines, lines.c.order_id == t.order.c.order_id)
            .outerjoin(
                first, (first.c.org_id == org) & (first.c.order_id == t.order.c.order_id) & (first.c.line_no == 1)
            )
            .where(t.order.c.org_id == org)
            .order_by(t.order.c.ordered_at.desc(), t.order.c.order_id.desc())
            .limit(limit)
        )
        if customer is not None:
            query = query.where(t.order.c.customer_ref == customer)
        if status is not None:
            query = query.where(t.order.c.status == status)
        engine = await get_engine()
        async with engine.connect() as conn:
            rows = (await conn.execute(query)).mappings().all()
            if not rows:  # a typo'd --org reads as "no orders": name the orgs that have some
                known = select(t.order.c.org_id).distinct().limit(10)
                hint_unknown_org(org, [r[0] for r in (await conn.execute(known)).all()], "orders")
        return [
            {
                "order_id": r["order_id"],
                "customer_ref": r["customer_ref"],
                "customer_name_masked": mask_name(r["name"]),
                "status": r["status"],
                "status_label": ORDER_STATUS_LABELS[r["status"]],
                "ordered_at": kst_iso(r["ordered_at"]),
                "total_krw": r["total_krw"],
                "items": r["lines"] or 0,
                "first_item": r["first"],
            }
            for r in rows
        ]

    orders = run(_go)
    if json_output:
        print_json({"org": org, "orders": orders})
        return
    if not orders:
        console.print(
            f"no orders in org {org}" + (f" for customer {customer}" if customer else "") + f" ({backend_label()})"
        )
        return
    # data, not markup: "[erased]" and "[NEW] 이어폰" are shown as they are

    rows = [
        (
            escape(o["order_id"]),
            escape(o["customer_ref"]),
            escape(o["customer_name_masked"]),
            o["status_label"],
            (o["ordered_at"] or "")[:16].replace("T", " "),
            f"{o['total_krw']:,}",
            escape(f"{o['first_item']} 외 {o['items'] - 1}건" if o["items"] > 1 else (o["first_item"] or "")),
        )
        for o in orders
    ]
    console.print(
        table(
            f"Orders of {org}, newest first",
            ["order", "customer", "name", "status", "ordered (KST)", "KRW", "items"],
            rows,
        )
    )
    if len(orders) == limit:
        console.print(f"[dim]the first {limit}; --limit N for more[/]")


def _database_exists() -> None:
    """A read-only command does not create an empty SQLite database: say where it looked instead."""
    from core.errors import not_found
    from core.settings import get_settings
    from servers.order_server.backends import configured

    url = get_settings().resolved_database_url
    if configured() == "tables" and url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        if not path.exists():
            raise not_found(
                f"no order database at {path}: load orders first (switchboard orders seed --org ORG, "
                "or orders import FILE.csv --org ORG), or set SWITCHBOARD_HOME to where they are"
            )


def _summary(order: Any) -> Table:
    rows: list[tuple[str, str]] = [
        ("order", order.order_id),
        ("status", f"{order.status_label} ({order.status})"),
        ("ordered at", order.ordered_at),
        ("customer", escape(order.customer_name_masked)),
        ("total", f"{order.amounts.total_krw:,} KRW"),
    ]
    if order.payment:
        rows.append(("payment", f"{order.payment.method_label} · {order.payment.status}"))
    ship = order.shipping
    rows.append(("shipping", " · ".join(x for x in (ship.status_label, ship.carrier, ship.tracking_number) if x)))
    if order.refund:
        refund = order.refund
        rows.append(("refund", f"{refund.refund_id} {refund.state_label}, due {refund.expected_completion_date}"))
    return table(f"Order {order.order_id}", ["field", "value"], rows)


def check_backend(mapping: Path | None, json_output: bool) -> None:
    import os

    from servers.order_server.backends import ENV, open_backend

    setting = str(mapping) if mapping else (os.environ.get(ENV, "").strip() or "tables")

    async def _go() -> dict[str, Any]:
        backend = open_backend(setting)
        try:
            sets = sorted(getattr(backend, "sets", ())) or ["(all)"]
            writes = backend.name == "tables" or "request_refund" in sets
            orgs = list(getattr(getattr(backend, "mapping", None), "orgs", ())) or ["(any)"]
            return {"backend": backend.name, "setting": setting, "orgs": orgs, "row_sets": sets, "writes": writes}
        finally:
            await backend.close()

    report = run(_go)
    if json_output:
        print_json(report)
        return
    console.print(f"[green]✓[/] order backend [bold]{report['backend']}[/] ({setting}) is valid")
    console.print(f"  tenants: {', '.join(report['orgs'])}")
    console.print(f"  row sets: {', '.join(report['row_sets'])}")
    console.print("  request_refund: " + ("writes" if report["writes"] else "[yellow]read-only[/] (not mapped)"))
