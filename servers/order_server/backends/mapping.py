"""The mapping file of an external order backend (TOML): read it, check it, explain what is wrong.

Everything is checked when the server starts (and by ``switchboard orders backend check``), so a
typo fails there with the file, the setting and what to write instead, never in a customer call.
The format, with a complete example, is in docs/orders.md. Errors are INVALID_ARGUMENT.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from core.context import is_valid_identifier
from core.errors import SwitchboardError, invalid
from core.inputfile import not_regular_reason
from servers.order_server.backends.base import ROW_SETS
from servers.order_server.models import (
    ORDER_STATUS_LABELS,
    PAYMENT_METHOD_LABELS,
    REFUND_STATE_LABELS,
    SHIPMENT_STATUS_LABELS,
)

KINDS = ("tables", "sql", "rest")
READ_SETS = ("order", "items", "refunds", "events", "orders_by_phone", "refund_by_key")
REQUIRED_SETS = ("order", "items", "orders_by_phone")
WRITE_SET = "request_refund"
# The values each enum column may take after translation (``[values.<set>.<column>]``).
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("order", "status"): tuple(ORDER_STATUS_LABELS),
    ("order", "ship_status"): tuple(SHIPMENT_STATUS_LABELS),
    ("order", "pay_method"): tuple(PAYMENT_METHOD_LABELS),
    ("order", "pay_status"): ("pending", "paid", "cancelled"),
    ("refunds", "status"): tuple(s for s in REFUND_STATE_LABELS if s != "none"),
    ("events", "status"): tuple(SHIPMENT_STATUS_LABELS),
}
# The parameters each row set's query or URL may use.
_COMMON = {"org_id", "customer_ref"}
SET_PARAMS: dict[str, set[str]] = {
    "order": _COMMON | {"order_id"},
    "items": _COMMON | {"order_id"},
    "refunds": _COMMON | {"order_id"},
    "events": _COMMON | {"order_id"},
    "orders_by_phone": _COMMON | {"phone_e164", "phone_local", "phone_dashed"},
    "refund_by_key": _COMMON | {"idempotency_key"},
    WRITE_SET: _COMMON
    | {
        "order_id",
        "refund_id",
        "status",
        "amount_krw",
        "reason",
        "idempotency_key",
        "request_sha256",
        "requested_at",
        "processing_days",
        "expected_completion_date",
    },
}
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def mapping_error(source: Path, where: str, problem: str) -> SwitchboardError:
    return invalid(f"order backend mapping {source}: {where}: {problem}", setting=where)


def expand_env(source: Path, where: str, text: str) -> str:
    """``${NAME}`` from the environment (secrets stay out of the file); unset is an error."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            raise mapping_error(source, where, f"environment variable {name} is not set: export it first")
        return os.environ[name]

    return _ENV.sub(value, text)


def parse_timezone(source: Path, text: str) -> tzinfo:
    """An IANA name (Asia/Seoul) or a fixed offset (+09:00, UTC)."""
    if text.upper() in ("UTC", "Z", "+00:00"):
        return UTC
    match = re.fullmatch(r"([+-])(\d{2}):(\d{2})", text)
    if match:
        sign = 1 if match.group(1) == "+" else -1
        return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise mapping_error(source, "timezone", f"{text!r} is not a time zone: write Asia/Seoul or +09:00") from None


@dataclass(slots=True)
class Mapping:
    """The checked parts every external backend shares."""

    source: Path
    kind: str
    orgs: tuple[str, ...]
    timezone: tzinfo
    values: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the kind's own section

    def naive(self, value: datetime) -> datetime:
        """A timestamp without offset, read in the mapping's time zone."""
        return value.replace(tzinfo=self.timezone) if value.tzinfo is None else value


def read_mapping(path: str | Path) -> Mapping:
    """Parse and check the common part of a mapping file."""
    source = Path(path).expanduser().resolve()
    reason = not_regular_reason(source)
    if reason is not None and not reason.startswith("no such file"):  # a FIFO would block the read forever
        raise invalid(f"order backend mapping {source} {reason}: give a TOML mapping file")
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise invalid(f"order backend mapping {source} does not exist: check SWITCHBOARD_ORDERS_BACKEND") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise invalid(f"order backend mapping {source} cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise invalid(f"order backend mapping {source} is not valid TOML: {exc}") from None
    kind = data.get("kind")
    if kind not in KINDS:
        raise mapping_error(source, "kind", f'{kind!r} is not a backend: write kind = "sql" or kind = "rest"')
    unknown = set(data) - {"kind", "orgs", "timezone", "values", kind}
    if unknown:
        raise mapping_error(source, ", ".join(sorted(unknown)), "unknown setting: see docs/orders.md for the format")
    orgs = data.get("orgs")
    if kind != "tables":
        valid = isinstance(orgs, list) and all(isinstance(o, str) and is_valid_identifier(o) for o in orgs)
        if not valid or not orgs:
            raise mapping_error(
                source, "orgs", 'list the tenants (org ids) this backend serves, e.g. orgs = ["hanbit"]'
            )
        if not isinstance(data.get(kind), dict):
            raise mapping_error(source, f"[{kind}]", "the section is missing: see docs/orders.md")
    zone = parse_timezone(source, str(data.get("timezone", "Asia/Seoul")))
    return Mapping(
        source=source,
        kind=kind,
        orgs=tuple(orgs or ()),
        timezone=zone,
        values=_values(source, data.get("values", {})),
        raw=data.get(kind, {}),
    )


def _values(source: Path, values: Any) -> dict[tuple[str, str], dict[str, str]]:
    """``[values.order.status]`` 결제완료 = "paid": the shop's words for our enum values."""
    if not isinstance(values, dict):
        raise mapping_error(source, "values", "must be tables such as [values.order.status]")
    out: dict[tuple[str, str], dict[str, str]] = {}
    for row_set, columns in values.items():
        if not isinstance(columns, dict):
            raise mapping_error(source, f"values.{row_set}", "must be tables such as [values.order.status]")
        for column, table in columns.items():
            where = f"values.{row_set}.{column}"
            allowed = ENUMS.get((row_set, column))
            if allowed is None:
                choices = ", ".join(f"values.{s}.{c}" for s, c in ENUMS)
                raise mapping_error(source, where, f"no such value table: use one of {choices}")
            if not isinstance(table, dict) or not all(isinstance(v, str) for v in table.values()):
                raise mapping_error(source, where, 'write one line per value: "결제완료" = "paid"')
            wrong = sorted({v for v in table.values() if v not in allowed})
            if wrong:
                raise mapping_error(source, where, f"{', '.join(wrong)} not allowed: use {', '.join(allowed)}")
            out[(row_set, column)] = {str(k): v for k, v in table.items()}
    return out


def check_sets(mapping: Mapping, present: set[str]) -> None:
    """The row sets a backend defines: the required ones, nothing unknown, refund_by_key for writes."""
    known = set(READ_SETS) | {WRITE_SET}
    unknown = present - known
    if unknown:
        raise mapping_error(
            mapping.source, ", ".join(sorted(unknown)), f"unknown row set: use {', '.join(sorted(known))}"
        )
    missing = [s for s in REQUIRED_SETS if s not in present]
    if missing:
        raise mapping_error(mapping.source, ", ".join(missing), "required: see docs/orders.md")
    if WRITE_SET in present and "refund_by_key" not in present:
        raise mapping_error(
            mapping.source,
            "refund_by_key",
            "request_refund needs refund_by_key too, so a retry with the same idempotency_key finds its refund",
        )


def check_fields(mapping: Mapping, where: str, row_set: str, names: set[str]) -> None:
    """The columns a query returns or a response is mapped to cover the row set's required columns."""
    columns = ROW_SETS[row_set]
    unknown = names - set(columns)
    if unknown:
        raise mapping_error(
            mapping.source, where, f"unknown column {', '.join(sorted(unknown))}: use {', '.join(columns)}"
        )
    missing = [c for c, required in columns.items() if required and c not in names]
    if missing:
        raise mapping_error(mapping.source, where, f"missing required column {', '.join(missing)}")
