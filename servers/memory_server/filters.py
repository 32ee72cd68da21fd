"""Filters for searching and listing memories. They can only narrow what the connection may see.

Whose memories are searched (org and customer) comes from the connection; a filter has no field
for it (``user_id``, ``customer_ref``, ``org_id`` are rejected as unknown fields) and an empty
filter object is refused, so a filter can never widen the scope.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from core.errors import invalid

IDENT_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$"
META_KEY_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$"
Ident = Annotated[str, Field(pattern=IDENT_PATTERN, description="1-128 letters, digits or ._:@-")]
Scalar = Annotated[str, Field(max_length=500)] | int | float | bool
Category = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,31}$")]
KINDS = ("fact", "preference", "message", "note", "event", "guidance")


class MetaIn(BaseModel):
    """Membership: the metadata value is one of ``in``."""

    model_config = ConfigDict(extra="forbid")
    in_: Annotated[list[Scalar], Field(alias="in", min_length=1, max_length=50)]


class MemoryFilters(BaseModel):
    """Narrow a search or listing. Every field is optional, but at least one must be set."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    agent_id: Ident | None = Field(None, description="Only memories written for this agent.")
    run_id: Ident | None = Field(None, description="Only memories from this run/session.")
    metadata: (
        Annotated[
            dict[Annotated[str, Field(pattern=META_KEY_PATTERN)], Scalar | MetaIn],
            Field(min_length=1, max_length=20),
        ]
        | None
    ) = Field(None, description='Metadata equality {"k": v} or membership {"k": {"in": [v1, v2]}}.')
    categories: Annotated[list[Category], Field(min_length=1, max_length=20)] | None = Field(
        None, description="Any of these categories (contact, address, plan, payment, delivery, preference, ...)."
    )
    kinds: Annotated[list[str], Field(min_length=1, max_length=len(KINDS))] | None = Field(
        None, description=f"Any of: {', '.join(KINDS)}."
    )
    created_after: datetime | None = None
    created_before: datetime | None = None
    observed_after: datetime | None = None
    observed_before: datetime | None = None

    @model_validator(mode="after")
    def _not_empty(self) -> MemoryFilters:
        if not self.model_fields_set or all(getattr(self, f) is None for f in self.model_fields_set):
            raise ValueError("an empty filter is not allowed: omit `filters` to use the whole scope")
        for kind in self.kinds or ():
            if kind not in KINDS:
                raise ValueError(f"unknown kind {kind!r}: use {', '.join(KINDS)}")
        for lo, hi in (("created_after", "created_before"), ("observed_after", "observed_before")):
            a, b = getattr(self, lo), getattr(self, hi)
            if a is not None and b is not None and as_utc(a) > as_utc(b):
                raise ValueError(f"{lo} is later than {hi}")
        return self


def as_utc(value: datetime) -> datetime:
    """``value`` as an aware UTC datetime (naive values are taken as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


FIRST_YEAR, LAST_YEAR = 1900, 9998  # times a memory or a question may carry (year 1 at +09:00 is year 0 in UTC)


def time_range_problem(value: datetime) -> str | None:
    """Why ``value`` cannot be a memory's or a question's time, or None: outside the years
    :data:`FIRST_YEAR`-:data:`LAST_YEAR` converting it to UTC or counting "last week" from it overflows."""
    if FIRST_YEAR <= value.year <= LAST_YEAR:
        return None
    return f"{value.isoformat()} is out of range: give a time between the years {FIRST_YEAR} and {LAST_YEAR}"


def checked_epoch(value: datetime, option: str) -> float:
    """``value`` (a --as-of or --asked-at) as epoch seconds; INVALID_ARGUMENT when out of range."""
    if problem := time_range_problem(value):
        raise invalid(f"{option} {problem}")
    return as_utc(value).timestamp()


def parse_filters(raw: dict[str, Any] | MemoryFilters | None) -> MemoryFilters | None:
    """Validate a filter object (from the CLI or a tool); raises INVALID_ARGUMENT."""
    if raw is None or isinstance(raw, MemoryFilters):
        return raw
    from pydantic import ValidationError

    for forbidden_key in ("user_id", "customer", "customer_ref", "customer_id", "org", "org_id", "tenant"):
        if forbidden_key in raw:
            raise invalid(f"filters cannot name `{forbidden_key}`: the customer comes from the connection")
    try:
        return MemoryFilters.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "filters"
        raise invalid(f"filters.{where}: {first.get('msg', 'invalid')}") from None


def _meta_match(meta: dict[str, Any], key: str, cond: Any) -> bool:
    if key not in meta:
        return False
    value = meta[key]
    if isinstance(cond, MetaIn):
        return any(_same(value, c) for c in cond.in_)
    return _same(value, cond)


def _same(a: Any, b: Any) -> bool:
    # True == 1 in Python; metadata equality should not conflate booleans and numbers.
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def ts(value: datetime | None) -> float | None:
    return as_utc(value).timestamp() if value is not None else None


def matches(filters: MemoryFilters | None, doc: Any) -> bool:
    """Whether an index entry (see :class:`servers.memory_server.index.Doc`) passes ``filters``."""
    if filters is None:
        return True
    f = filters
    if f.agent_id is not None and doc.agent_id != f.agent_id:
        return False
    if f.run_id is not None and doc.run_id != f.run_id:
        return False
    if f.kinds and doc.kind not in f.kinds:
        return False
    if f.categories and not (set(f.categories) & set(doc.categories)):
        return False
    if f.metadata and not all(_meta_match(doc.meta, k, c) for k, c in f.metadata.items()):
        return False
    for bound, attr, after in (
        (f.created_after, "created_ts", True),
        (f.created_before, "created_ts", False),
        (f.observed_after, "observed_ts", True),
        (f.observed_before, "observed_ts", False),
    ):
        if bound is None:
            continue
        value, limit = getattr(doc, attr), ts(bound)
        if (after and value < limit) or (not after and value > limit):
            return False
    return True


_SAFE = re.compile(IDENT_PATTERN)


def valid_ident(value: str) -> bool:
    return bool(_SAFE.match(value))
