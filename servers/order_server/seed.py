"""Demo data: a small Korean shop, generated deterministically.

The story the legacy call records tell (``data/legacy``): a customer calling from
+82-10-****-5678 asks about the refund of order 8841, which is in progress and will be done
"1~2영업일 내". Here that customer is 김민수 (010-1234-5678); order 8841 was delivered, a
refund was requested the business day before the anchor date and takes 3 business days
(card), so on the anchor date 2 business days remain. With ``anchor=2026-01-22`` (the first
legacy call) the dates line up with those records exactly; by default the anchor is today, so
a fresh demo always shows a refund in progress.

Seeding is idempotent: orders and customers that already exist are left as they are.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from core.context import is_valid_identifier
from core.db import get_engine, write_transaction
from core.errors import invalid
from servers.order_server.bundles import (
    CustomerRow,
    ItemRow,
    OrderBundle,
    RefundRow,
    ShipmentRow,
    existing_customers,
    existing_orders,
    insert_bundles,
)
from servers.order_server.business_days import KST, add_business_days, is_business_day, today_kst
from servers.order_server.models import REFUND_PROCESSING_DAYS
from servers.order_server.phone import mask_name, parse_phone

STORY_ORDER = "8841"
STORY_PHONE = "010-1234-5678"

CUSTOMERS: tuple[tuple[str, str, str, str], ...] = (
    # customer_ref, name, phone, delivery region
    ("C-1001", "김민수", STORY_PHONE, "서울특별시 강남구"),
    ("C-1002", "이서연", "010-2345-6789", "서울특별시 마포구"),
    ("C-1003", "박지훈", "010-3456-7890", "경기도 성남시 분당구"),
    ("C-1004", "최수빈", "010-4567-8901", "부산광역시 해운대구"),
    ("C-1005", "정예은", "010-5678-9012", "인천광역시 연수구"),
    ("C-1006", "강도현", "010-6789-0123", "대구광역시 수성구"),
    ("C-1007", "조하은", "010-7890-1234", "광주광역시 서구"),
    ("C-1008", "윤재민", "010-8901-2345", "대전광역시 유성구"),
    ("C-1009", "장유진", "010-9012-3456", "경기도 수원시 영통구"),
    ("C-1010", "임태윤", "011-234-5678", "강원특별자치도 춘천시"),
    ("C-1011", "한지우", "010-1357-2468", "제주특별자치도 제주시"),
    ("C-1012", "오승현", "010-2468-1357", "울산광역시 남구"),
)

PRODUCTS: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    # sku, name, options, unit price (KRW)
    ("EAR-BT500", "무선 블루투스 이어폰", ("화이트", "블랙"), 89_000),
    ("TMB-500", "스테인리스 텀블러 500ml", ("실버", "민트"), 18_900),
    ("RICE-10K", "유기농 현미 10kg", (), 42_000),
    ("KNT-CD01", "여성 니트 가디건", ("베이지 / M", "네이비 / L"), 39_900),
    ("LED-ST2", "LED 책상 스탠드", (), 32_500),
    ("AFR-55", "에어프라이어 5.5L", (), 119_000),
    ("KIM-3K", "포기김치 3kg", (), 27_900),
    ("SNK-RN1", "러닝화", ("250", "265", "270"), 79_000),
    ("MSK-50", "KF94 마스크 50매", (), 15_900),
    ("CHG-65W", "65W 고속 충전기", (), 29_800),
    ("PLW-MEM", "메모리폼 베개", (), 45_000),
    ("COF-1K", "원두커피 1kg (과테말라)", (), 33_000),
)

CARRIERS: tuple[tuple[str, str, int], ...] = (
    ("cj", "CJ대한통운", 12),
    ("hanjin", "한진택배", 12),
    ("lotte", "롯데택배", 12),
    ("epost", "우체국택배", 13),
    ("logen", "로젠택배", 11),
)
METHODS = ("card", "card", "card", "kakaopay", "naverpay", "tosspay", "bank_transfer", "virtual_account")
FREE_SHIPPING_FROM = 50_000
SHIPPING_FEE = 3_000
# (order status, days before the anchor it was placed) for the generated orders
_PLAN: tuple[tuple[str, int], ...] = (
    ("delivered", 40), ("delivered", 35), ("refunded", 33), ("delivered", 30), ("cancelled", 28),
    ("delivered", 26), ("delivered", 24), ("delivered", 21), ("delivered", 19), ("refunded", 18),
    ("delivered", 16), ("delivered", 14), ("delivered", 12), ("delivered", 10), ("delivered", 8),
    ("delivered", 6), ("delivered", 5), ("shipped", 4), ("shipped", 3), ("shipped", 3),
    ("preparing", 2), ("preparing", 1), ("paid", 1), ("paid", 0), ("pending_payment", 0),
    ("cancelled", 9), ("delivered", 45), ("delivered", 50), ("delivered", 55), ("delivered", 60),
    ("shipped", 2), ("preparing", 1), ("delivered", 7), ("delivered", 4), ("delivered", 3),
    ("paid", 0), ("delivered", 20), ("delivered", 22), ("delivered", 11),
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class SeedReport:
    org_id: str
    anchor: str
    customers_created: int
    orders_created: int
    orders_present: int


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), KST)


def subtract_business_days(day: date, days: int) -> date:
    """The business day that is ``days`` business days before ``day``."""
    while days > 0:
        day -= timedelta(days=1)
        if is_business_day(day):
            days -= 1
    return day


def _customer(index: int) -> tuple[CustomerRow, str, str]:
    ref, name, raw_phone, region = CUSTOMERS[index]
    phone = parse_phone(raw_phone)
    return CustomerRow(ref, name, phone.e164, phone.masked), mask_name(name), region


def _shipment(rng: random.Random, status: str, shipped: datetime, region: str) -> ShipmentRow:
    code, name, digits = rng.choice(CARRIERS)
    tracking = str(rng.randrange(10 ** (digits - 1), 10**digits))
    district = region.split()[-1]
    events = [
        (shipped, "in_transit", "곤지암 허브", "집화처리"),
        (shipped + timedelta(hours=5), "in_transit", "곤지암 허브", "간선상차"),
        (shipped + timedelta(hours=14), "in_transit", f"{district} 서브터미널", "간선하차"),
    ]
    delivered = None
    if status in ("out_for_delivery", "delivered"):
        events.append((shipped + timedelta(hours=20), "out_for_delivery", f"{district} 대리점", "배송출발"))
    if status == "delivered":
        delivered = shipped + timedelta(hours=26)
        events.append((delivered, "delivered", f"{district} 대리점", "배송완료 (문 앞)"))
    return ShipmentRow(code, name, tracking, status, shipped, delivered, events)


def _items(rng: random.Random) -> list[ItemRow]:
    picks = rng.sample(range(len(PRODUCTS)), k=rng.choice((1, 1, 1, 2, 2, 3)))
    items = []
    for index in picks:
        sku, name, options, price = PRODUCTS[index]
        option = rng.choice(options) if options else None
        items.append(ItemRow(sku, name, option, rng.choice((1, 1, 1, 2)), price))
    return items


def _bundle(rng: random.Random, order_id: str, cust: int, status: str, ordered: datetime) -> OrderBundle:
    customer, recipient, region = _customer(cust)
    items = _items(rng)
    subtotal = sum(i.amount_krw for i in items)
    method = rng.choice(METHODS)
    paid = status != "pending_payment"
    bundle = OrderBundle(
        order_id=order_id,
        customer=customer,
        status=status,
        ordered_at=ordered,
        items=items,
        shipping_fee_krw=0 if subtotal >= FREE_SHIPPING_FROM else SHIPPING_FEE,
        discount_krw=rng.choice((0, 0, 0, 1_000, 3_000)) if subtotal > 20_000 else 0,
        recipient_masked=recipient,
        ship_region=region,
        payment_method=method,
        payment_status="paid" if paid and status != "cancelled" else ("cancelled" if paid else "pending"),
        paid_at=ordered + timedelta(minutes=1) if paid else None,
    )
    if status in ("shipped", "delivered", "refunded"):
        ship_status = "in_transit" if status == "shipped" else "delivered"
        bundle.shipment = _shipment(rng, ship_status, ordered + timedelta(hours=18), region)
    if status == "refunded":
        assert bundle.shipment and bundle.shipment.delivered_at
        requested = bundle.shipment.delivered_at + timedelta(days=2)
        days = REFUND_PROCESSING_DAYS[method]
        done = add_business_days(requested.astimezone(KST).date(), days)
        bundle.refunds.append(
            RefundRow(f"RF{order_id}A", "completed", "단순 변심", requested, days, done, _at(done, 11, 0))
        )
    return bundle


def _story_order(anchor: date) -> OrderBundle:
    """Order 8841: delivered, card refund (3 business days) with 2 business days left on ``anchor``."""
    customer, recipient, region = _customer(0)
    days = REFUND_PROCESSING_DAYS["card"]
    expected = add_business_days(anchor, 2)
    requested_day = subtract_business_days(expected, days)
    delivered = _at(requested_day - timedelta(days=2), 13, 20)
    shipped = delivered - timedelta(hours=23, minutes=18)
    ordered = shipped - timedelta(hours=17, minutes=48)
    return OrderBundle(
        order_id=STORY_ORDER,
        customer=customer,
        status="delivered",
        ordered_at=ordered,
        items=[
            ItemRow("EAR-BT500", "무선 블루투스 이어폰", "화이트", 1, 89_000),
            ItemRow("CHG-65W", "65W 고속 충전기", None, 1, 29_800),
        ],
        shipping_fee_krw=0,
        discount_krw=3_000,
        recipient_masked=recipient,
        ship_region=region,
        payment_method="card",
        payment_status="paid",
        paid_at=ordered + timedelta(minutes=1),
        shipment=ShipmentRow(
            "cj",
            "CJ대한통운",
            "568231904417",
            "delivered",
            shipped,
            shipped + timedelta(hours=23, minutes=18),
            [
                (shipped, "in_transit", "곤지암 허브", "집화처리"),
                (shipped + timedelta(hours=6), "in_transit", "곤지암 허브", "간선상차"),
                (shipped + timedelta(hours=15), "in_transit", "강남 서브터미널", "간선하차"),
                (shipped + timedelta(hours=19), "out_for_delivery", "강남역삼 대리점", "배송출발"),
                (shipped + timedelta(hours=23, minutes=18), "delivered", "강남역삼 대리점", "배송완료 (문 앞)"),
            ],
        ),
        refunds=[
            RefundRow(
                "RF8841A",
                "processing",
                "단순 변심 (이어폰 색상이 마음에 들지 않음)",
                _at(requested_day, 10, 5),
                days,
                expected,
            )
        ],
    )


def demo_bundles(anchor: date) -> list[OrderBundle]:
    """The demo orders for ``anchor`` (same anchor, same data)."""
    rng = random.Random(8841)
    bundles = [_story_order(anchor)]
    # 김민수 gets two more orders so find_orders shows a short history.
    extra = {0: 0, 6: 0, 21: 0}
    order_no = 8800
    for index, (status, days_before) in enumerate(_PLAN):
        order_no += 1
        if order_no == int(STORY_ORDER):
            order_no += 1
        cust = extra.get(index, 1 + index % (len(CUSTOMERS) - 1))
        ordered = _at(anchor - timedelta(days=days_before), rng.randrange(8, 23), rng.randrange(60))
        bundles.append(_bundle(rng, str(order_no), cust, status, ordered))
    return bundles


async def seed(org_id: str, *, anchor: date | None = None) -> SeedReport:
    """Load the demo shop into ``org_id``; existing orders and customers are left untouched."""
    if not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")
    anchor = anchor or today_kst()
    bundles = demo_bundles(anchor)
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        present = await existing_orders(conn, org_id, [b.order_id for b in bundles])
        new = [b for b in bundles if b.order_id not in present]
        known = await existing_customers(conn, org_id, {b.customer.customer_ref for b in new})
        customers = {b.customer.customer_ref: b.customer for b in new if b.customer.customer_ref not in known}
        await insert_bundles(conn, org_id, new, list(customers.values()))
    return SeedReport(org_id, anchor.isoformat(), len(customers), len(new), len(present))
