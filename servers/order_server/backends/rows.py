"""Turn what an external backend returned into rows of the order server's vocabulary.

Numbers become ints, timestamps aware datetimes (naive ones read in the mapping's time zone),
the shop's status words are translated through ``[values.*]``, optional columns get their
documented defaults, and free text a person typed (refund reasons, tracking notes) is masked.
A value the mapping cannot translate is UNAVAILABLE with what to add to the mapping: the tool
fails cleanly and the agent hands over, rather than guessing an order's state.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from core.errors import SwitchboardError, unavailable
from core.pii import mask_text
from servers.order_server.backends.base import ROW_SETS, Row
from servers.order_server.backends.mapping import ENUMS, Mapping
from servers.order_server.business_days import add_business_days, today_kst
from servers.order_server.phone import mask_name

INTS = {
    "subtotal_krw",
    "shipping_fee_krw",
    "discount_krw",
    "total_krw",
    "pay_amount_krw",
    "amount_krw",
    "unit_price_krw",
    "quantity",
    "line_no",
    "processing_days",
}
TIMES = {
    "ordered_at",
    "updated_at",
    "paid_at",
    "shipped_at",
    "delivered_at",
    "requested_at",
    "completed_at",
    "occurred_at",
}
MASKED_TEXT = {"reason", "description", "location", "option_text"}
DEFAULT_PROCESSING_DAYS = 3


def bad_value(mapping: Mapping, row_set: str, column: str, value: Any, hint: str) -> SwitchboardError:
    return unavailable(
        f"the order backend returned {column}={value!r} in {row_set}, which Switchboard cannot use: "
        f"{hint} (mapping {mapping.source.name})",
        row_set=row_set,
        column=column,
    )


def _int(mapping: Mapping, row_set: str, column: str, value: Any) -> int:
    if isinstance(value, bool):
        raise bad_value(mapping, row_set, column, value, "return a whole number")
    try:
        number = Decimal(str(value).strip().replace(",", ""))
    except ArithmeticError:
        raise bad_value(mapping, row_set, column, value, "return a whole number") from None
    if number != number.to_integral_value():
        raise bad_value(mapping, row_set, column, value, "return a whole number of won")
    return int(number)


def _time(mapping: Mapping, row_set: str, column: str, value: Any) -> datetime:
    if isinstance(value, datetime):
        stamp = value
    elif isinstance(value, date):
        stamp = datetime(value.year, value.month, value.day)
    else:
        try:
            stamp = datetime.fromisoformat(str(value).strip().replace(" ", "T", 1))
        except ValueError:
            raise bad_value(mapping, row_set, column, value, "return ISO 8601 (2026-01-22T13:03:31+09:00)") from None
    return mapping.naive(stamp).astimezone(UTC)


def _date(mapping: Mapping, row_set: str, column: str, value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise bad_value(mapping, row_set, column, value, "return a date as YYYY-MM-DD") from None


def enum_set(row_set: str) -> str:
    """Which ``[values.*]`` tables a row set's enum columns use."""
    return {"orders_by_phone": "order", "refund_by_key": "refunds"}.get(row_set, row_set)


def _enum(mapping: Mapping, row_set: str, column: str, value: Any) -> str:
    key = enum_set(row_set)
    translated = mapping.values.get((key, column), {}).get(str(value), str(value))
    allowed = ENUMS[(key, column)]
    if translated not in allowed:
        hint = f'add "{value}" = "<one of {", ".join(allowed)}>" to [values.{key}.{column}]'
        raise bad_value(mapping, row_set, column, value, hint)
    return translated


def _convert(mapping: Mapping, row_set: str, column: str, value: Any) -> Any:
    if value is None or value == "":
        return None
    if (enum_set(row_set), column) in ENUMS:
        return _enum(mapping, row_set, column, value)
    if column in INTS:
        return _int(mapping, row_set, column, value)
    if column in TIMES:
        return _time(mapping, row_set, column, value)
    if column == "expected_completion_date":
        return _date(mapping, row_set, column, value)
    text = str(value).strip()
    return mask_text(text) if column in MASKED_TEXT else text


def normalise(mapping: Mapping, row_set: str, raw: dict[str, Any]) -> Row:
    """One row of ``row_set`` in our vocabulary, with defaults filled in."""
    columns = ROW_SETS[row_set]
    row: Row = {c: _convert(mapping, row_set, c, raw.get(c)) for c in columns}
    for column, required in columns.items():
        if required and row[column] is None:
            raise bad_value(mapping, row_set, column, None, "the column is required: map it")
    fill = _DEFAULTS.get(row_set)
    if fill:
        fill(row)
    return row


def _order_defaults(row: Row) -> None:
    row["updated_at"] = row["updated_at"] or row["ordered_at"]
    row["shipping_fee_krw"] = row["shipping_fee_krw"] or 0
    row["discount_krw"] = row["discount_krw"] or 0
    if row["subtotal_krw"] is None:
        row["subtotal_krw"] = row["total_krw"] - row["shipping_fee_krw"] + row["discount_krw"]
    recipient = row["recipient_masked"] or ""
    row["recipient_masked"] = recipient if "*" in recipient else mask_name(recipient)
    row["ship_region"] = row["ship_region"] or ""
    if row["pay_status"] is None:
        unpaid = {"pending_payment": "pending", "cancelled": "cancelled"}
        row["pay_status"] = unpaid.get(row["status"], "paid")
    if row["pay_amount_krw"] is None:
        row["pay_amount_krw"] = row["total_krw"]


def _item_defaults(row: Row) -> None:
    row["sku"] = row["sku"] or ""
    if row["amount_krw"] is None:
        row["amount_krw"] = row["quantity"] * row["unit_price_krw"]


def _refund_defaults(row: Row) -> None:
    row["reason"] = row["reason"] or ""
    row["processing_days"] = row["processing_days"] or DEFAULT_PROCESSING_DAYS
    if row["expected_completion_date"] is None:
        row["expected_completion_date"] = add_business_days(today_kst(row["requested_at"]), row["processing_days"])


def _event_defaults(row: Row) -> None:
    row["location"] = row["location"] or ""
    row["description"] = row["description"] or ""


_DEFAULTS = {
    "order": _order_defaults,
    "items": _item_defaults,
    "refunds": _refund_defaults,
    "refund_by_key": _refund_defaults,
    "events": _event_defaults,
}


def newest_first(rows: list[Row], column: str) -> list[Row]:
    return sorted(rows, key=lambda r: r[column], reverse=True)
