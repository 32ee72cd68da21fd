"""Bulk-load orders from CSV: all or nothing, with every rejected row and its reason.

One row per order line; rows with the same ``order_id`` form one order and must agree on the
order-level columns. Required columns: order_id, ordered_at, customer_ref, customer_name, phone,
status, sku, product_name, quantity, unit_price_krw, payment_method. Optional: option,
shipping_fee_krw, discount_krw, ship_region, carrier, tracking_number, shipped_at, delivered_at.
Timestamps are ISO 8601; without an offset they are Korea time. Amounts are whole KRW.
Personal data typed into a free-text column (customer_name, product_name, option, ship_region) is
masked before it is stored; the phone is stored as a keyed HMAC and a masked copy.
The file is UTF-8 (with or without BOM) or CP949, as Korean Excel saves it.
"""

from __future__ import annotations

import csv
import hmac
import io
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from core.context import customer_ref_problem, is_valid_identifier
from core.db import get_engine, write_transaction
from core.errors import SwitchboardError, invalid
from core.pii import mask_text
from servers.order_server.bundles import (
    CustomerRow,
    ItemRow,
    OrderBundle,
    ShipmentRow,
    existing_customers,
    existing_orders,
    insert_bundles,
    replace_bundles,
    update_customers,
)
from servers.order_server.business_days import KST
from servers.order_server.models import PAYMENT_METHOD_LABELS
from servers.order_server.phone import ERASED, mask_name, parse_phone
from servers.order_server.phonekey import phone_key
from servers.order_server.seed import CARRIERS
from servers.order_server.tables import ORDER_ID_PATTERN

REQUIRED = (
    "order_id",
    "ordered_at",
    "customer_ref",
    "customer_name",
    "phone",
    "status",
    "sku",
    "product_name",
    "quantity",
    "unit_price_krw",
    "payment_method",
)
OPTIONAL = (
    "option",
    "shipping_fee_krw",
    "discount_krw",
    "ship_region",
    "carrier",
    "tracking_number",
    "shipped_at",
    "delivered_at",
)
ORDER_LEVEL = (
    "ordered_at",
    "customer_ref",
    "customer_name",
    "phone",
    "status",
    "shipping_fee_krw",
    "discount_krw",
    "ship_region",
    "payment_method",
    "carrier",
    "tracking_number",
    "shipped_at",
    "delivered_at",
)
IMPORT_STATUSES = ("pending_payment", "paid", "preparing", "shipped", "delivered", "cancelled")
MAX_KRW = 1_000_000_000
MAX_QUANTITY = 10_000
MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_CELL_CHARS = 131_072  # csv's default, set for each read: the limit is global to the csv module
BATCH = 500
_ORDER_ID = re.compile(ORDER_ID_PATTERN)
_SKU = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
_TRACKING = re.compile(r"^[0-9A-Za-z-]{8,30}\Z")
_INT = re.compile(r"^[0-9]{1,12}\Z")
_CARRIERS = {code: name for code, name, _ in CARRIERS} | {name: name for _, name, _ in CARRIERS}
_CARRIER_CODES = {name: code for code, name, _ in CARRIERS} | {code: code for code, _, _ in CARRIERS}

Progress = Callable[[str, int, int], None]  # (phase, done, total)


@dataclass(frozen=True, slots=True)
class Rejection:
    line: int
    order_id: str
    reason: str


@dataclass(slots=True)
class ImportReport:
    org_id: str
    rows: int = 0
    orders: int = 0
    customers_created: int = 0
    orders_updated: int = 0
    customers_updated: int = 0
    loaded: bool = False
    rejected: list[Rejection] = field(default_factory=list)


class RowError(ValueError):
    """A reason to reject one row."""


def _text(value: str, column: str, max_len: int, *, required: bool = True) -> str:
    value = unicodedata.normalize("NFC", value.strip())
    if not value:
        if required:
            raise RowError(f"{column} is empty")
        return ""
    if len(value) > max_len:
        raise RowError(f"{column} is longer than {max_len} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise RowError(f"{column} contains control characters")
    return value


def _free_text(value: str, column: str, max_len: int, *, required: bool = True) -> str:
    """A free-text column (a name, product, option, region) as it is stored: personal data a
    person typed into it (a registration, card, account or phone number, an e-mail) masked. A
    mask may be longer than the value it hides, so the result is cut to the column's length."""
    return mask_text(_text(value, column, max_len, required=required))[:max_len]


def _int(value: str, column: str, low: int, high: int, *, default: int | None = None) -> int:
    value = value.strip()
    if not value and default is not None:
        return default
    if not _INT.match(value):
        if re.fullmatch(r"-?\d{1,3}(?:,\d{3})+", value):  # "12,000" as a spreadsheet shows it
            raise RowError(
                f"{column} must be digits only, without thousands separators: {value[:20]!r} → {value.replace(',', '')}"
            )
        raise RowError(f"{column} must be a whole number (KRW has no decimals), got {value[:20]!r}")
    number = int(value)
    if not low <= number <= high:
        raise RowError(f"{column} must be between {low:,} and {high:,}")
    return number


def _timestamp(value: str, column: str, *, required: bool = True) -> datetime | None:
    value = value.strip()
    if not value:
        if required:
            raise RowError(f"{column} is empty")
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{column} is not an ISO 8601 timestamp (e.g. 2026-01-19T20:14:00+09:00)") from None
    if not 2000 <= parsed.year <= 2100:
        raise RowError(f"{column} is out of range")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=KST)


@dataclass(slots=True)
class _Line:
    line: int
    order_id: str
    order_fields: tuple[Any, ...]
    customer: CustomerRow
    name_masked: str
    status: str
    ordered_at: datetime
    item: ItemRow
    shipping_fee: int
    discount: int
    region: str
    method: str
    shipment: ShipmentRow | None


def parse_row(line: int, row: dict[str, str]) -> _Line:
    """Validate one CSV row; raises RowError with the first problem found."""
    get = {k: (row.get(k) or "") for k in (*REQUIRED, *OPTIONAL)}
    order_id = get["order_id"].strip()
    if not _ORDER_ID.match(order_id):
        raise RowError("order_id must be 4-20 digits without a leading zero")
    ordered_at = _timestamp(get["ordered_at"], "ordered_at")
    ref = get["customer_ref"].strip()
    if problem := customer_ref_problem(ref):  # an e-mail or phone number as the reference would be stored raw
        raise RowError(f"customer_ref {problem}")
    name = _free_text(get["customer_name"], "customer_name", 100)
    try:
        phone = parse_phone(get["phone"])
    except SwitchboardError:
        raise RowError("phone is not a Korean mobile number (e.g. 010-1234-5678)") from None
    status = get["status"].strip()
    if status not in IMPORT_STATUSES:
        raise RowError(f"status {status[:30]!r} is not one of {', '.join(IMPORT_STATUSES)}")
    sku = get["sku"].strip()
    if not _SKU.match(sku):
        raise RowError("sku must be 1-64 letters, digits or ._- characters")
    item = ItemRow(
        sku,
        _free_text(get["product_name"], "product_name", 200),
        _free_text(get["option"], "option", 200, required=False) or None,
        _int(get["quantity"], "quantity", 1, MAX_QUANTITY),
        _int(get["unit_price_krw"], "unit_price_krw", 0, MAX_KRW),
    )
    method = get["payment_method"].strip()
    if method not in PAYMENT_METHOD_LABELS:
        raise RowError(f"payment_method must be one of {', '.join(PAYMENT_METHOD_LABELS)}")
    shipment = _shipment(get, status)
    assert ordered_at is not None
    return _Line(
        line=line,
        order_id=order_id,
        order_fields=tuple(get[c].strip() for c in ORDER_LEVEL),
        customer=CustomerRow(ref, name, phone.e164, phone.masked),
        name_masked=mask_name(name),
        status=status,
        ordered_at=ordered_at,
        item=item,
        shipping_fee=_int(get["shipping_fee_krw"], "shipping_fee_krw", 0, MAX_KRW, default=0),
        discount=_int(get["discount_krw"], "discount_krw", 0, MAX_KRW, default=0),
        region=_free_text(get["ship_region"], "ship_region", 100, required=False),
        method=method,
        shipment=shipment,
    )


def _shipment(get: dict[str, str], status: str) -> ShipmentRow | None:
    carrier = get["carrier"].strip()
    tracking = get["tracking_number"].strip()
    shipped = _timestamp(get["shipped_at"], "shipped_at", required=False)
    delivered = _timestamp(get["delivered_at"], "delivered_at", required=False)
    if status not in ("shipped", "delivered"):
        if carrier or tracking or shipped or delivered:
            raise RowError(f"a {status} order has no shipment: leave carrier, tracking and dates empty")
        return None
    if carrier not in _CARRIERS:
        raise RowError(f"carrier must be one of {', '.join(c for c, _, _ in CARRIERS)} (or its Korean name)")
    if not _TRACKING.match(tracking):
        raise RowError("tracking_number must be 8-30 letters or digits")
    if shipped is None:
        raise RowError(f"a {status} order needs shipped_at")
    if status == "delivered" and delivered is None:
        raise RowError("a delivered order needs delivered_at")
    if status == "shipped" and delivered is not None:
        raise RowError("a shipped order cannot have delivered_at: use status delivered")
    if delivered is not None and delivered < shipped:
        raise RowError("delivered_at is before shipped_at")
    events = [(shipped, "in_transit", "", "집화처리")]
    if delivered is not None:
        events.append((delivered, "delivered", "", "배송완료"))
    return ShipmentRow(
        _CARRIER_CODES[carrier],
        _CARRIERS[carrier],
        tracking,
        "delivered" if delivered else "in_transit",
        shipped,
        delivered,
        events,
    )


def _bundle(lines: list[_Line]) -> OrderBundle:
    first = lines[0]
    for other in lines[1:]:
        if other.order_fields != first.order_fields:
            raise RowError(f"order-level columns differ from line {first.line} of the same order")
    if first.shipment and first.shipment.shipped_at and first.shipment.shipped_at < first.ordered_at:
        raise RowError("shipped_at is before ordered_at")
    bundle = OrderBundle(
        order_id=first.order_id,
        customer=first.customer,
        status=first.status,
        ordered_at=first.ordered_at,
        items=[line.item for line in lines],
        shipping_fee_krw=first.shipping_fee,
        discount_krw=first.discount,
        recipient_masked=first.name_masked,
        ship_region=first.region,
        payment_method=first.method,
        payment_status={"pending_payment": "pending", "cancelled": "cancelled"}.get(first.status, "paid"),
        paid_at=None if first.status == "pending_payment" else first.ordered_at,
        shipment=first.shipment,
    )
    if bundle.total_krw < 0:
        raise RowError("discount_krw is larger than the order's subtotal plus shipping fee")
    if bundle.total_krw > MAX_KRW:
        raise RowError(f"the order total exceeds {MAX_KRW:,} KRW")
    return bundle


def read_csv(path: Path, encoding: str = "auto") -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of ``path``; raises INVALID_ARGUMENT for an unreadable file."""
    if not path.is_file():
        raise invalid(f"{path} is not a file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise invalid(f"{path} is larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB: split it")
    data = path.read_bytes()
    encodings = ("utf-8-sig", "cp949") if encoding == "auto" else (encoding,)
    if encoding != "auto":
        import codecs

        try:
            codecs.lookup(encoding)
        except LookupError:
            raise invalid(f"--encoding {encoding!r} is not a text encoding: use auto, utf-8 or cp949") from None
    for enc in encodings:
        try:
            text = data.decode(enc)
            break
        except (UnicodeDecodeError, LookupError):
            continue
    else:
        raise invalid(f"{path} is not {' or '.join(encodings)} text: save it as UTF-8 CSV")
    csv.field_size_limit(MAX_CELL_CHARS)
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    try:
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        missing = [c for c in REQUIRED if c not in header]
        if missing:
            raise invalid(f"the CSV header lacks {', '.join(missing)} (required: {', '.join(REQUIRED)})")
        if twice := next((h for i, h in enumerate(header) if h and h in header[:i]), None):
            raise invalid(f"{path.name}:1: the header names the column {twice!r} twice; either cell could be read")
        return header, list(reader)
    except csv.Error as err:
        if "field limit" in str(err):  # line_num counts the lines read before the one being parsed
            line = reader.line_num + 1
            raise invalid(f"{path.name}:{line}: a cell is longer than {MAX_CELL_CHARS:,} characters") from None
        raise invalid(f"{path} is not valid CSV: {err}") from None


def validate(
    rows: list[dict[str, str]], on_progress: Progress | None = None
) -> tuple[list[OrderBundle], list[Rejection]]:
    """Parse and group every row; returns the orders and the rejected rows (with reasons)."""
    rejected: list[Rejection] = []
    groups: dict[str, list[_Line]] = {}
    for index, row in enumerate(rows):
        line = index + 2  # the header is line 1
        if None in row:
            rejected.append(Rejection(line, (row.get("order_id") or "")[:20], "more cells than header columns"))
            continue
        try:
            parsed = parse_row(line, row)
        except RowError as err:
            rejected.append(Rejection(line, (row.get("order_id") or "").strip()[:20], str(err)))
            continue
        groups.setdefault(parsed.order_id, []).append(parsed)
        if on_progress and index % 200 == 0:
            on_progress("validate", index + 1, len(rows))
    bundles: list[OrderBundle] = []
    for order_id, lines in groups.items():
        try:
            bundles.append(_bundle(lines))
        except RowError as err:
            rejected.extend(Rejection(ln.line, order_id, str(err)) for ln in lines)
    _check_customers(groups, rejected)
    if on_progress:
        on_progress("validate", len(rows), len(rows))
    return bundles, rejected


def _check_customers(groups: dict[str, list[_Line]], rejected: list[Rejection]) -> None:
    """One customer_ref must have one name and one phone throughout the file."""
    seen: dict[str, tuple[str, str, int]] = {}
    for order_id, lines in groups.items():
        for ln in lines:
            key = (ln.customer.name, ln.customer.phone_e164)
            first = seen.setdefault(ln.customer.customer_ref, (*key, ln.line))
            if first[:2] != key:
                rejected.append(
                    Rejection(
                        ln.line,
                        order_id,
                        f"customer {ln.customer.customer_ref} has another name or phone on line {first[2]}",
                    )
                )


async def import_csv(
    org_id: str,
    path: Path,
    *,
    encoding: str = "auto",
    dry_run: bool = False,
    upsert: bool = False,
    on_progress: Progress | None = None,
) -> ImportReport:
    """Validate ``path`` and, when every row is good, load it in one transaction.

    Without ``upsert`` an order or customer that exists is a rejected row; with it, existing
    orders are overwritten from the file (lines, payment, shipment; refunds kept) and existing
    customers take the file's name and phone number.
    """
    if not is_valid_identifier(org_id):
        raise invalid("org must be 1-128 letters, digits or ._:@- characters")
    _, rows = read_csv(path, encoding)
    report = ImportReport(org_id, rows=len(rows))
    bundles, rejected = validate(rows, on_progress)
    engine = await get_engine()
    async with write_transaction(engine, immediate=True) as conn:
        present = await existing_orders(conn, org_id, [b.order_id for b in bundles])
        known = await existing_customers(conn, org_id, {b.customer.customer_ref for b in bundles})
        if not upsert:
            rejected.extend(_conflicts(org_id, bundles, present, known, _first_lines(rows)))
        rejected.extend(_erased(bundles, known, _first_lines(rows)))
        report.rejected = sorted(set(rejected), key=lambda r: (r.line, r.reason))
        report.orders = len(bundles)
        if report.rejected or dry_run or not bundles:
            return report
        customers = {b.customer.customer_ref: b.customer for b in bundles if b.customer.customer_ref not in known}
        # --upsert: every existing customer in the file takes its name and phone from the file
        changed = {b.customer.customer_ref: b.customer for b in bundles if upsert and b.customer.customer_ref in known}
        await update_customers(conn, org_id, list(changed.values()))
        report.customers_created = len(customers)
        report.customers_updated = len(changed)
        fresh = [b for b in bundles if b.order_id not in present]
        stale = [b for b in bundles if b.order_id in present]
        report.orders_updated = len(stale)
        done = 0
        for start in range(0, len(fresh), BATCH):
            chunk = fresh[start : start + BATCH]
            await insert_bundles(conn, org_id, chunk, list(customers.values()) if start == 0 else [])
            done += len(chunk)
            if on_progress:
                on_progress("load", done, len(bundles))
        if not fresh and customers:
            await insert_bundles(conn, org_id, [], list(customers.values()))
        for start in range(0, len(stale), BATCH):
            chunk = stale[start : start + BATCH]
            await replace_bundles(conn, org_id, chunk)
            done += len(chunk)
            if on_progress:
                on_progress("load", done, len(bundles))
        report.loaded = True
    return report


def _erased(bundles: list[OrderBundle], known: dict[str, str], first_line: dict[str, int]) -> list[Rejection]:
    """Rows of customers that `switchboard customer erase` pseudonymised: an import (with --upsert
    too) must not write their name and phone back."""
    return [
        Rejection(
            first_line[b.order_id],
            b.order_id,
            f"customer {b.customer.customer_ref} was erased (switchboard customer erase): remove their rows,"
            " or give a customer who comes back a new customer_ref",
        )
        for b in bundles
        if known.get(b.customer.customer_ref) == ERASED
    ]


def _conflicts(
    org_id: str, bundles: list[OrderBundle], present: set[str], known: dict[str, str], first_line: dict[str, int]
) -> list[Rejection]:
    """Without --upsert: orders that exist, customers that exist with another phone number."""
    out = []
    for b in bundles:
        if b.order_id in present:
            out.append(
                Rejection(
                    first_line[b.order_id], b.order_id, "order already exists in this tenant: use --upsert to update it"
                )
            )
        phone = known.get(b.customer.customer_ref)
        if phone not in (None, ERASED) and not hmac.compare_digest(phone, phone_key(org_id, b.customer.phone_e164)):
            reason = f"customer {b.customer.customer_ref} already exists with another phone number: use --upsert"
            out.append(Rejection(first_line[b.order_id], b.order_id, reason))
    return out


def _first_lines(rows: list[dict[str, str]]) -> dict[str, int]:
    first: dict[str, int] = {}
    for index, row in enumerate(rows):
        first.setdefault((row.get("order_id") or "").strip(), index + 2)
    return first
