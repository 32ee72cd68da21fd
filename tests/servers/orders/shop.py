"""A shop's own order system, unlike Switchboard's tables, as a SQL database and as a REST API.

One data set, two renderings: :func:`create_sql_shop` writes it into a schema of the shop's own
(Korean status words, integer order ids, local-format phone numbers, naive Korea-time
timestamps) on PostgreSQL (a database of its own on the test cluster) or SQLite;
:class:`RestShop` serves it from a real uvicorn server on 127.0.0.1 (an ephemeral port).
The mapping files the order server reads are in ``SQL_MAPPING`` and ``REST_MAPPING``.
"""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SHOP = "hanbit"
OTHER_SHOP = "dure"
TOKEN = "shop-api-token-0123456789"
KST_NOW = datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=9)  # the shop stores naive Korea time


def _kst(days_ago: float) -> datetime:
    return (KST_NOW - timedelta(days=days_ago)).replace(microsecond=0)


MEMBERS = [
    {"member_no": "M-01", "shop_code": SHOP, "full_name": "김민수", "mobile": "010-1234-5678"},
    {"member_no": "M-02", "shop_code": SHOP, "full_name": "이영희", "mobile": "010-9876-5432"},
    {"member_no": "M-09", "shop_code": OTHER_SHOP, "full_name": "박철수", "mobile": "010-1234-5678"},
]
ORDERS = [
    # delivered two days ago: refundable (청약철회), with tracking history
    {
        "id": 5001, "shop_code": SHOP, "member_no": "M-01", "state": "배송완료", "created": _kst(6),
        "total": 58000, "delivery_fee": 3000, "coupon": 5000, "pay_type": "CARD", "ship_state": "DONE",
        "courier": "CJ대한통운", "invoice_no": "612345678901", "shipped": _kst(4), "delivered": _kst(2),
    },
    # paid yesterday, not shipped: refundable (a cancellation)
    {
        "id": 5002, "shop_code": SHOP, "member_no": "M-01", "state": "결제완료", "created": _kst(1),
        "total": 12000, "delivery_fee": 0, "coupon": 0, "pay_type": "KAKAO", "ship_state": None,
        "courier": None, "invoice_no": None, "shipped": None, "delivered": None,
    },
    # another member's order
    {
        "id": 5003, "shop_code": SHOP, "member_no": "M-02", "state": "배송중", "created": _kst(3),
        "total": 30000, "delivery_fee": 3000, "coupon": 0, "pay_type": "CARD", "ship_state": "MOVING",
        "courier": "한진택배", "invoice_no": "512345678902", "shipped": _kst(1), "delivered": None,
    },
    # another shop in the same database
    {
        "id": 5004, "shop_code": OTHER_SHOP, "member_no": "M-09", "state": "결제완료", "created": _kst(1),
        "total": 9000, "delivery_fee": 0, "coupon": 0, "pay_type": "CARD", "ship_state": None,
        "courier": None, "invoice_no": None, "shipped": None, "delivered": None,
    },
    # a state the mapping does not translate
    {
        "id": 5009, "shop_code": SHOP, "member_no": "M-02", "state": "보류", "created": _kst(9),
        "total": 1000, "delivery_fee": 0, "coupon": 0, "pay_type": "CARD", "ship_state": None,
        "courier": None, "invoice_no": None, "shipped": None, "delivered": None,
    },
]  # fmt: skip
LINES = [
    {"order_id": 5001, "seq": 1, "product": "무선 블루투스 이어폰", "opt": "화이트", "qty": 1, "price": 45000},
    {"order_id": 5001, "seq": 2, "product": "이어팁 세트", "opt": None, "qty": 3, "price": 5000},
    {"order_id": 5002, "seq": 1, "product": "텀블러", "opt": "500ml", "qty": 1, "price": 12000},
    {"order_id": 5003, "seq": 1, "product": "요가 매트", "opt": None, "qty": 1, "price": 27000},
    {"order_id": 5004, "seq": 1, "product": "다른 가게 상품", "opt": None, "qty": 1, "price": 9000},
    {"order_id": 5009, "seq": 1, "product": "보류 상품", "opt": None, "qty": 1, "price": 1000},
]
TRACKING = [
    {"order_id": 5001, "at": _kst(4), "code": "MOVING", "place": "곤지암 허브", "note": "간선 상차"},
    {"order_id": 5001, "at": _kst(3), "code": "OUT", "place": "서울 강남", "note": "배송 출발"},
    {"order_id": 5001, "at": _kst(2), "code": "DONE", "place": "서울 강남", "note": "문 앞 배송 완료"},
    {"order_id": 5003, "at": _kst(1), "code": "MOVING", "place": "대전 HUB", "note": "간선 하차"},
]
REFUNDS: list[dict[str, Any]] = []

SCHEMA = """
CREATE TABLE members (member_no VARCHAR(20) PRIMARY KEY, shop_code VARCHAR(20) NOT NULL,
    full_name VARCHAR(50) NOT NULL, mobile VARCHAR(20) NOT NULL);
CREATE TABLE orders (id BIGINT PRIMARY KEY, shop_code VARCHAR(20) NOT NULL, member_no VARCHAR(20) NOT NULL,
    state VARCHAR(20) NOT NULL, created TIMESTAMP NOT NULL, total INTEGER NOT NULL, delivery_fee INTEGER NOT NULL,
    coupon INTEGER NOT NULL, pay_type VARCHAR(10), ship_state VARCHAR(10), courier VARCHAR(30),
    invoice_no VARCHAR(30), shipped TIMESTAMP, delivered TIMESTAMP);
CREATE TABLE order_lines (order_id BIGINT NOT NULL, seq INTEGER NOT NULL, product VARCHAR(100) NOT NULL,
    opt VARCHAR(100), qty INTEGER NOT NULL, price INTEGER NOT NULL, PRIMARY KEY (order_id, seq));
CREATE TABLE tracking (order_id BIGINT NOT NULL, at TIMESTAMP NOT NULL, code VARCHAR(10) NOT NULL,
    place VARCHAR(50) NOT NULL, note VARCHAR(100) NOT NULL);
CREATE TABLE refund_requests (ref VARCHAR(32) PRIMARY KEY, order_id BIGINT NOT NULL, status VARCHAR(10) NOT NULL,
    amount INTEGER NOT NULL, memo VARCHAR(500) NOT NULL, idem_key VARCHAR(128) UNIQUE,
    created TIMESTAMP WITH TIME ZONE NOT NULL);
"""

VALUES = """
[values.order.status]
"결제완료" = "paid"
"상품준비중" = "preparing"
"배송중" = "shipped"
"배송완료" = "delivered"
"주문취소" = "cancelled"

[values.order.ship_status]
MOVING = "in_transit"
OUT = "out_for_delivery"
DONE = "delivered"

[values.order.pay_method]
CARD = "card"
KAKAO = "kakaopay"

[values.events.status]
MOVING = "in_transit"
OUT = "out_for_delivery"
DONE = "delivered"

[values.refunds.status]
REQ = "requested"
ING = "processing"
DONE = "completed"
NO = "rejected"
"""

SQL_MAPPING = (
    '''
kind = "sql"
orgs = ["hanbit", "dure"]
timezone = "Asia/Seoul"

[sql]
url = "${SHOP_DB_URL}"
param_types = { order_id = "int" }

[sql.queries]
order = """
SELECT CAST(o.id AS VARCHAR(20)) AS order_id, o.member_no AS customer_ref, o.state AS status,
       o.created AS ordered_at, m.full_name AS customer_name, o.total AS total_krw,
       o.delivery_fee AS shipping_fee_krw, o.coupon AS discount_krw, o.pay_type AS pay_method,
       o.created AS paid_at, o.ship_state AS ship_status, o.courier AS carrier_name,
       o.invoice_no AS tracking_number, o.shipped AS shipped_at, o.delivered AS delivered_at
FROM orders o JOIN members m ON m.member_no = o.member_no
WHERE o.id = :order_id AND o.shop_code = :org_id
"""
items = """
SELECT seq AS line_no, product AS product_name, opt AS option_text, qty AS quantity, price AS unit_price_krw
FROM order_lines WHERE order_id = :order_id ORDER BY seq
"""
events = """
SELECT at AS occurred_at, code AS status, place AS location, note AS description
FROM tracking WHERE order_id = :order_id
"""
refunds = """
SELECT ref AS refund_id, status, amount AS amount_krw, memo AS reason, created AS requested_at
FROM refund_requests WHERE order_id = :order_id
"""
orders_by_phone = """
SELECT CAST(o.id AS VARCHAR(20)) AS order_id, o.member_no AS customer_ref, o.created AS ordered_at,
       o.state AS status, o.total AS total_krw, m.full_name AS customer_name
FROM orders o JOIN members m ON m.member_no = o.member_no
WHERE m.mobile = :phone_dashed AND o.shop_code = :org_id
"""
refund_by_key = """
SELECT r.ref AS refund_id, CAST(r.order_id AS VARCHAR(20)) AS order_id, r.status, r.amount AS amount_krw,
       r.memo AS reason, r.created AS requested_at
FROM refund_requests r JOIN orders o ON o.id = r.order_id
WHERE r.idem_key = :idempotency_key AND o.shop_code = :org_id
"""
request_refund = """
INSERT INTO refund_requests (ref, order_id, status, amount, memo, idem_key, created)
VALUES (:refund_id, :order_id, 'REQ', :amount_krw, :reason, :idempotency_key, :requested_at)
"""
'''
    + VALUES
)

BRIEF_FIELDS = {
    "order_id": "orderNo",
    "customer_ref": "member.no",
    "customer_name": "member.name",
    "status": "state",
    "ordered_at": "createdAt",
    "total_krw": "amount.total",
}
ORDER_FIELDS = BRIEF_FIELDS | {
    "shipping_fee_krw": "amount.deliveryFee",
    "discount_krw": "amount.coupon",
    "pay_method": "payment.type",
    "paid_at": "createdAt",
    "ship_status": "delivery.state",
    "carrier_name": "delivery.courier",
    "tracking_number": "delivery.invoiceNo",
    "shipped_at": "delivery.shippedAt",
    "delivered_at": "delivery.deliveredAt",
}
REFUND_FIELDS = {
    "refund_id": "ref",
    "status": "status",
    "amount_krw": "amount",
    "reason": "memo",
    "requested_at": "createdAt",
}
REST_SETS: dict[str, tuple[str, dict[str, str]]] = {  # row set → (request settings, fields)
    "order": ('path = "/orders/{order_id}"\nquery = { shop = "{org_id}" }\nat = "data"', ORDER_FIELDS),
    "items": (
        'at = "data.lines"',
        {
            "line_no": "seq",
            "product_name": "product",
            "option_text": "option",
            "quantity": "qty",
            "unit_price_krw": "price",
        },
    ),
    "events": (
        'at = "data.delivery.history"',
        {"occurred_at": "at", "status": "code", "location": "place", "description": "note"},
    ),
    "refunds": ('path = "/orders/{order_id}/refunds"\nquery = { shop = "{org_id}" }\nat = "data"', REFUND_FIELDS),
    "orders_by_phone": (
        'path = "/orders"\nquery = { shop = "{org_id}", mobile = "{phone_local}" }\nat = "data"',
        BRIEF_FIELDS,
    ),
    "refund_by_key": (
        'path = "/refunds"\nquery = { shop = "{org_id}", key = "{idempotency_key}" }\nat = "data"',
        {"order_id": "orderNo"} | REFUND_FIELDS,
    ),
    "request_refund": (
        'method = "POST"\npath = "/orders/{order_id}/refunds"\nquery = { shop = "{org_id}" }\n'
        'body = { amount = "{amount_krw}", memo = "{reason}", ref = "{refund_id}" }\nat = "data"',
        REFUND_FIELDS,
    ),
}


def _rest_set(name: str) -> str:
    settings, fields = REST_SETS[name]
    lines = "\n".join(f'{ours} = "{theirs}"' for ours, theirs in fields.items())
    return f"[rest.{name}]\n{settings}\n[rest.{name}.fields]\n{lines}\n"


REST_MAPPING = (
    """
kind = "rest"
orgs = ["hanbit", "dure"]
timezone = "Asia/Seoul"

[rest]
base_url = "${SHOP_API_URL}"
timeout_seconds = 5
headers = { Authorization = "Bearer ${SHOP_API_TOKEN}" }

"""
    + "\n".join(_rest_set(name) for name in REST_SETS)
    + VALUES
)


def write_mapping(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the SQL shop -----------------------------------------------------------------------------


async def create_sql_shop(directory: Path) -> str:
    """A new shop database with the data set: PostgreSQL in the postgres pass, SQLite otherwise."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    if os.environ.get("SWITCHBOARD_TEST_BACKEND") == "postgres":
        import asyncpg

        admin = os.environ["SWITCHBOARD_TEST_PG_ADMIN_URL"]
        name = f"sbshop_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        url = admin.rsplit("/", 1)[0] + "/" + name
    else:
        url = f"sqlite:///{directory / 'shop.db'}"
    from core.settings import normalise_database_url

    engine = create_async_engine(normalise_database_url(url))
    async with engine.begin() as conn:
        for statement in SCHEMA.split(";"):
            if statement.strip():
                await conn.execute(text(statement))
        for table, rows in (("members", MEMBERS), ("orders", ORDERS), ("order_lines", LINES), ("tracking", TRACKING)):
            columns = list(rows[0])
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"
            await conn.execute(text(sql), rows)
    await engine.dispose()
    return url


async def drop_sql_shop(url: str) -> None:
    if url.startswith("postgresql"):
        import asyncpg

        conn = await asyncpg.connect(os.environ["SWITCHBOARD_TEST_PG_ADMIN_URL"])
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
        finally:
            await conn.close()


async def shop_rows(url: str, query: str) -> list[dict[str, Any]]:
    """Rows of the shop's own database, read directly (to see what a write did)."""
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from core.settings import normalise_database_url

    engine = create_async_engine(normalise_database_url(url))
    try:
        async with engine.connect() as conn:
            return [dict(r) for r in (await conn.execute(text(query))).mappings()]
    finally:
        await engine.dispose()


# --- the REST shop ----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None  # naive Korea time, as many shop APIs send it


class RestShop:
    """The same data behind a JSON API (Starlette on uvicorn, bearer token, Idempotency-Key)."""

    def __init__(self) -> None:
        self.refunds: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path+query, headers
        self.url = ""
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _order_json(self, order: dict[str, Any]) -> dict[str, Any]:
        member = next(m for m in MEMBERS if m["member_no"] == order["member_no"])
        return {
            "orderNo": order["id"],
            "state": order["state"],
            "createdAt": _iso(order["created"]),
            "member": {"no": member["member_no"], "name": member["full_name"]},
            "amount": {"total": order["total"], "deliveryFee": order["delivery_fee"], "coupon": order["coupon"]},
            "payment": {"type": order["pay_type"]},
            "lines": [
                {"seq": x["seq"], "product": x["product"], "option": x["opt"], "qty": x["qty"], "price": x["price"]}
                for x in LINES
                if x["order_id"] == order["id"]
            ],
            "delivery": {
                "state": order["ship_state"],
                "courier": order["courier"],
                "invoiceNo": order["invoice_no"],
                "shippedAt": _iso(order["shipped"]),
                "deliveredAt": _iso(order["delivered"]),
                "history": [
                    {"at": _iso(t["at"]), "code": t["code"], "place": t["place"], "note": t["note"]}
                    for t in TRACKING
                    if t["order_id"] == order["id"]
                ],
            },
        }

    def app(self) -> Any:
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        def find(request: Request) -> dict[str, Any] | None:
            shop, number = request.query_params.get("shop"), request.path_params["order_id"]
            return next((o for o in ORDERS if str(o["id"]) == number and o["shop_code"] == shop), None)

        async def guard(request: Request) -> JSONResponse | None:
            where = f"{request.url.path}?{request.url.query}"
            self.requests.append((request.method, where, dict(request.headers)))
            if request.headers.get("authorization") != f"Bearer {TOKEN}":
                return JSONResponse({"error": "unauthorized"}, status_code=401)
            return None

        async def order(request: Request) -> JSONResponse:
            if (denied := await guard(request)) is not None:
                return denied
            found = find(request)
            if found is None:
                return JSONResponse({"error": "no such order"}, status_code=404)
            return JSONResponse({"data": self._order_json(found)})

        async def by_phone(request: Request) -> JSONResponse:
            if (denied := await guard(request)) is not None:
                return denied
            mobile = request.query_params.get("mobile", "").replace("-", "")
            members = {m["member_no"] for m in MEMBERS if m["mobile"].replace("-", "") == mobile}
            shop = request.query_params.get("shop")
            found = [o for o in ORDERS if o["member_no"] in members and o["shop_code"] == shop]
            return JSONResponse({"data": [self._order_json(o) for o in found]})

        async def refunds(request: Request) -> JSONResponse:
            if (denied := await guard(request)) is not None:
                return denied
            found = find(request)
            if found is None:
                return JSONResponse({"error": "no such order"}, status_code=404)
            if request.method == "GET":
                return JSONResponse({"data": [r for r in self.refunds if r["orderNo"] == found["id"]]})
            key = request.headers.get("idempotency-key")
            if not key:
                return JSONResponse({"error": "Idempotency-Key required"}, status_code=400)
            same = next((r for r in self.refunds if r["key"] == key), None)
            if same is not None:
                return JSONResponse({"data": same}, status_code=200)
            body = await request.json()
            created = {
                "ref": body["ref"],
                "orderNo": found["id"],
                "status": "REQ",
                "amount": body["amount"],
                "memo": body["memo"],
                "key": key,
                "createdAt": datetime.now(UTC).isoformat(),
                "shop": found["shop_code"],
            }
            self.refunds.append(created)
            return JSONResponse({"data": created}, status_code=201)

        async def by_key(request: Request) -> JSONResponse:
            if (denied := await guard(request)) is not None:
                return denied
            key, shop = request.query_params.get("key"), request.query_params.get("shop")
            return JSONResponse({"data": [r for r in self.refunds if r["key"] == key and r["shop"] == shop]})

        return Starlette(
            routes=[
                Route("/api/v1/orders", by_phone),
                Route("/api/v1/orders/{order_id}", order),
                Route("/api/v1/orders/{order_id}/refunds", refunds, methods=["GET", "POST"]),
                Route("/api/v1/refunds", by_key),
            ]
        )

    def start(self) -> str:
        import uvicorn

        config = uvicorn.Config(self.app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        for _ in range(500):
            if self._server.started:
                break
            threading.Event().wait(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/api/v1"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
