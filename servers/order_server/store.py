"""Read queries, always scoped to the caller's tenant (and customer, when the context names one).

Every query is one SQLAlchemy Core statement with named parameters, defined once here. They run
through a :class:`Session`: on PostgreSQL (and inside write transactions) an SQLAlchemy
connection; for reads on SQLite a long-lived ``sqlite3`` connection per process executing the
same statements compiled once, because the async driver's per-query thread hop and a connection
per call cost several times the whole MCP round trip (see bench/order_server.py). SQLite in WAL
mode never blocks readers, so these microsecond reads do not stall the event loop.

An order outside the scope is reported exactly like a missing one.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import Date, DateTime, Select, bindparam, select
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from core.context import RequestContext
from core.db import get_engine, is_sqlite
from core.errors import SwitchboardError, not_found
from servers.order_server.phonekey import phone_key
from servers.order_server.tables import customer, order, order_item, payment, refund, shipment, shipment_event

RECENT_ORDERS = 10
SHIPPING_EVENTS = 10

Row = dict[str, Any]


def order_not_found(order_id: str) -> SwitchboardError:
    """The one error for an order that is missing, another tenant's or another customer's."""
    return not_found(f"no order {order_id} for this account: check the order number (주문번호)")


def _scoped(query: Select, by_customer: bool) -> Select:
    query = query.where(order.c.org_id == bindparam("org_id"))
    return query.where(order.c.customer_ref == bindparam("customer_ref")) if by_customer else query


def _header(by_customer: bool) -> Select:
    return _scoped(
        select(
            order,
            customer.c.name.label("customer_name"),
            payment.c.method.label("pay_method"),
            payment.c.status.label("pay_status"),
            payment.c.amount_krw.label("pay_amount_krw"),
            payment.c.paid_at.label("paid_at"),
            shipment.c.carrier_code,
            shipment.c.carrier_name,
            shipment.c.tracking_number,
            shipment.c.status.label("ship_status"),
            shipment.c.shipped_at,
            shipment.c.delivered_at,
        )
        .join(customer, (customer.c.org_id == order.c.org_id) & (customer.c.customer_ref == order.c.customer_ref))
        .outerjoin(payment, (payment.c.org_id == order.c.org_id) & (payment.c.order_id == order.c.order_id))
        .outerjoin(shipment, (shipment.c.org_id == order.c.org_id) & (shipment.c.order_id == order.c.order_id))
        .where(order.c.order_id == bindparam("order_id")),
        by_customer,
    )


def _by_phone(by_customer: bool) -> Select:
    return _scoped(
        select(
            order.c.order_id,
            order.c.customer_ref,
            order.c.ordered_at,
            order.c.status,
            order.c.total_krw,
            customer.c.name.label("customer_name"),
        )
        .join(customer, (customer.c.org_id == order.c.org_id) & (customer.c.customer_ref == order.c.customer_ref))
        .where(customer.c.phone_key == bindparam("phone_key"))
        .order_by(order.c.ordered_at.desc(), order.c.order_id.desc())
        .limit(RECENT_ORDERS + 1),
        by_customer,
    )


def _item_names(by_customer: bool) -> Select:
    newest = _by_phone(by_customer).with_only_columns(order.c.order_id).scalar_subquery()
    return (
        select(order_item.c.order_id, order_item.c.product_name)
        .where(order_item.c.org_id == bindparam("org_id"), order_item.c.order_id.in_(newest))
        .order_by(order_item.c.order_id, order_item.c.line_no)
    )


def _of_order(table: Any) -> Any:
    return (table.c.org_id == bindparam("org_id")) & (table.c.order_id == bindparam("order_id"))


HEADER = {False: _header(False), True: _header(True)}
BY_PHONE = {False: _by_phone(False), True: _by_phone(True)}
ITEM_NAMES = {False: _item_names(False), True: _item_names(True)}
ITEMS = select(order_item).where(_of_order(order_item)).order_by(order_item.c.line_no)
REFUNDS = select(refund).where(_of_order(refund)).order_by(refund.c.requested_at.desc(), refund.c.refund_id.desc())
EVENTS = (
    select(shipment_event)
    .where(_of_order(shipment_event))
    .order_by(shipment_event.c.occurred_at.desc(), shipment_event.c.seq.desc())
    .limit(SHIPPING_EVENTS)
)


class Session(Protocol):
    async def rows(self, statement: Select, params: dict[str, Any]) -> list[Row]: ...


class ConnectionSession:
    """Statements on an SQLAlchemy connection (PostgreSQL; write transactions)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def rows(self, statement: Select, params: dict[str, Any]) -> list[Row]:
        return [dict(r) for r in (await self.conn.execute(statement, params)).mappings()]


def _converter(column_type: Any) -> Any:
    if isinstance(column_type, DateTime):
        return lambda v: None if v is None else datetime.fromisoformat(v)
    if isinstance(column_type, Date):
        return lambda v: None if v is None else date.fromisoformat(v)
    return None


class _Compiled:
    """A statement compiled once for SQLite: SQL text, parameter order and column converters."""

    __slots__ = ("converters", "defaults", "names", "positions", "sql")

    def __init__(self, statement: Select) -> None:
        compiled = statement.compile(dialect=sqlite_dialect.dialect())
        self.sql = compiled.string
        self.positions = tuple(compiled.positiontup or ())
        self.defaults = {k: v for k, v in compiled.params.items() if v is not None}
        self.names = tuple(c.key for c in statement.selected_columns)
        self.converters = tuple((i, f) for i, c in enumerate(statement.selected_columns) if (f := _converter(c.type)))


_compiled: dict[int, tuple[Select, _Compiled]] = {}  # id → (statement kept alive, compiled)


class SqliteSession:
    """Statements on a process-wide read-only ``sqlite3`` connection (autocommit: every read sees the latest commit)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    async def rows(self, statement: Select, params: dict[str, Any]) -> list[Row]:
        entry = _compiled.get(id(statement))
        if entry is None:
            entry = _compiled[id(statement)] = (statement, _Compiled(statement))
        compiled = entry[1]
        values = tuple(params[p] if p in params else compiled.defaults[p] for p in compiled.positions)
        out = []
        for raw in self.conn.execute(compiled.sql, values).fetchall():
            row = list(raw)
            for index, convert in compiled.converters:
                row[index] = convert(row[index])
            out.append(dict(zip(compiled.names, row, strict=True)))
        return out


_sqlite_readers: dict[str, tuple[sqlite3.Connection, int]] = {}  # path → (connection, inode)
_reader_lock = threading.Lock()


def _sqlite_reader(path: str) -> sqlite3.Connection:
    """The process's read connection to ``path``, reopened if the file was replaced (e.g. a reset)."""
    inode = os.stat(path).st_ino
    entry = _sqlite_readers.get(path)
    if entry is not None and entry[1] == inode:
        return entry[0]
    with _reader_lock:
        entry = _sqlite_readers.get(path)
        if entry is not None and entry[1] == inode:
            return entry[0]
        if entry is not None:
            entry[0].close()
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA query_only=ON")
        conn.execute("PRAGMA busy_timeout=2000")
        _sqlite_readers[path] = (conn, inode)
        return conn


def close_readers() -> None:
    """Close the per-process SQLite read connections (server shutdown, tests)."""
    with _reader_lock:
        for conn, _ in _sqlite_readers.values():
            conn.close()
        _sqlite_readers.clear()


@asynccontextmanager
async def read_session() -> AsyncIterator[Session]:
    """A session for reads on the configured database (migrated on first use)."""
    engine = await get_engine()
    path = engine.url.database if is_sqlite(engine) else None
    if path and path != ":memory:":
        yield SqliteSession(_sqlite_reader(path))
        return
    async with engine.connect() as conn:
        yield ConnectionSession(conn)


def _scope(ctx: RequestContext) -> tuple[bool, dict[str, Any]]:
    params: dict[str, Any] = {"org_id": ctx.org_id}
    if ctx.customer_ref:
        params["customer_ref"] = ctx.customer_ref
    return bool(ctx.customer_ref), params


async def order_header(session: Session, ctx: RequestContext, order_id: str) -> Row:
    """The order joined with its customer, payment and shipment; NOT_FOUND outside the scope."""
    by_customer, params = _scope(ctx)
    rows = await session.rows(HEADER[by_customer], params | {"order_id": order_id})
    if not rows:
        raise order_not_found(order_id)
    return rows[0]


async def order_items(session: Session, org_id: str, order_id: str) -> list[Row]:
    return await session.rows(ITEMS, {"org_id": org_id, "order_id": order_id})


async def order_refunds(session: Session, org_id: str, order_id: str) -> list[Row]:
    """Every refund of the order, newest first."""
    return await session.rows(REFUNDS, {"org_id": org_id, "order_id": order_id})


async def shipment_events(session: Session, org_id: str, order_id: str) -> list[Row]:
    return await session.rows(EVENTS, {"org_id": org_id, "order_id": order_id})


async def orders_by_phone(session: Session, ctx: RequestContext, phone_e164: str) -> list[Row]:
    """The newest orders (up to RECENT_ORDERS + 1) of the customers with this phone number.

    Each row carries ``item_names``: the product names of its lines, in line order.
    """
    by_customer, params = _scope(ctx)
    params["phone_key"] = phone_key(ctx.org_id, phone_e164)
    rows = await session.rows(BY_PHONE[by_customer], params)
    if not rows:
        return rows
    names: dict[str, list[str]] = {r["order_id"]: [] for r in rows}
    for line in await session.rows(ITEM_NAMES[by_customer], params):
        if line["order_id"] in names:
            names[line["order_id"]].append(line["product_name"])
    for row in rows:
        row["item_names"] = names[row["order_id"]]
    return rows


def scoped_order_lock(ctx: RequestContext, order_id: str) -> tuple[Select, dict[str, Any]]:
    """SELECT ... FOR UPDATE of the order in the caller's scope (serialises refund requests)."""
    by_customer, params = _scope(ctx)
    statement = _scoped(select(order.c.order_id).where(order.c.order_id == bindparam("order_id")), by_customer)
    return statement.with_for_update(), params | {"order_id": order_id}
