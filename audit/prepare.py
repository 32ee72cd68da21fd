"""Turn an :class:`AuditEvent` into a storable row: validate, redact, cap, HMAC.

Runs in the caller's task, before the append queue, so the chain lock is held only for
numbering and hashing.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from audit.jcs import canonical
from audit.payload import Unsure, redact_canonical
from audit.record import RECORD_VERSION, AuditEvent, utc_timestamp
from core.canonical import canonical_json
from core.context import is_valid_identifier
from core.errors import invalid
from core.pii import detect, may_contain_pii
from core.redaction import redact

DEFAULT_MAX_PAYLOAD_BYTES = 16_384
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_.:-]{0,63}\Z")
_SOURCE = re.compile(r"^(?:[a-z][a-z0-9_-]{0,31}|server:[A-Za-z0-9._-]{1,64})\Z")
_SHA256 = re.compile(r"^[0-9a-f]{64}\Z")
_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_TEXT_FIELDS = (
    "actor",
    "customer_ref",
    "session_id",
    "turn_id",
    "trace_id",
    "agent_version_id",
    "server_name",
    "server_version",
    "client_name",
    "client_version",
    "tool_name",
    "exposed_name",
)
_HASH_FIELDS = ("manifest_sha256", "definition_sha256_pinned", "definition_sha256_observed")
_TEXT_LIMIT = 200
_MESSAGE_LIMIT = 1000


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """A row ready for chaining (no seq, prev_hash or record_hash yet) and its value HMACs."""

    row: dict[str, Any]
    hmacs: tuple[str, ...]

    @property
    def org_id(self) -> str:
        return self.row["org_id"]


def new_event_id() -> str:
    """A time-ordered UUID (version 7 layout: 48-bit Unix milliseconds, then 74 random bits).

    Ordered ids keep the ``event_id`` index appending at its right edge (fewer pages written per
    commit). Ids need uniqueness, not secrecy: the module-level generator (reseeded after fork)
    avoids a system call per event.
    """
    value = (time.time_ns() // 1_000_000) << 80 | 0x7 << 76 | random.getrandbits(12) << 64
    value |= 0b10 << 62 | random.getrandbits(62)
    return str(uuid.UUID(int=value))


def max_payload_bytes() -> int:
    """The cap on each stored payload (``SWITCHBOARD_AUDIT_MAX_PAYLOAD_BYTES``, default 16 KiB)."""
    raw = os.environ.get("SWITCHBOARD_AUDIT_MAX_PAYLOAD_BYTES", "")
    return max(1024, int(raw)) if raw.isdigit() else DEFAULT_MAX_PAYLOAD_BYTES


def validate_event(event: AuditEvent) -> None:
    """Refuse events that cannot be chained or searched (INVALID_ARGUMENT, nothing written)."""
    if not isinstance(event.org_id, str) or not is_valid_identifier(event.org_id):
        raise invalid("audit event org_id must be 1-128 letters, digits or ._:@- characters")
    if not isinstance(event.event_type, str) or not _EVENT_TYPE.match(event.event_type):
        raise invalid("audit event_type must be lower-case letters, digits and ._:- (e.g. tool_call)")
    if not isinstance(event.source, str) or not _SOURCE.match(event.source):
        raise invalid("audit source must be host, registry, cli or server:<name>")
    for name in _HASH_FIELDS:
        value = getattr(event, name)
        if value is not None and (not isinstance(value, str) or not _SHA256.match(value)):
            raise invalid(f"audit {name} must be 64 lower-case hex characters")
    if event.event_id is not None:
        try:
            uuid.UUID(str(event.event_id))
        except ValueError:
            raise invalid("audit event_id must be a UUID") from None
    if event.latency_ms is not None and (
        isinstance(event.latency_ms, bool)
        or not isinstance(event.latency_ms, (int, float))
        or not math.isfinite(event.latency_ms)
        or event.latency_ms < 0
    ):
        raise invalid("audit latency_ms must be a non-negative number")


def _canonical_id(value: Any) -> str:
    """A valid event id as the log stores it (lower-case, hyphenated): parsed only when not already so."""
    if type(value) is str and len(value) == 36 and _CANONICAL_UUID.match(value):
        return value
    return str(uuid.UUID(str(value)))


def prepare_event(
    event: AuditEvent,
    key: bytes,
    *,
    max_payload: int | None = None,
    validated: bool = False,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> PreparedEvent:
    """Validate ``event`` (unless ``validated``) and build its redacted row; ``key`` is the org's HMAC key.

    ``event_id`` and ``occurred_at``, when given, stand for the event's own (a deferred record's id
    and time, fixed at call time: ``audit/deferred.py``), without copying the event.
    """
    if not validated:
        validate_event(event)
    cap = max_payload or max_payload_bytes()
    hmacs: set[str] = set()
    event_id = event_id or event.event_id
    row: dict[str, Any] = {
        "org_id": event.org_id,
        "event_id": _canonical_id(event_id) if event_id else new_event_id(),
        "record_version": RECORD_VERSION,
        "occurred_at": utc_timestamp(occurred_at or event.occurred_at),
        "event_type": event.event_type,
        "source": event.source,
        "is_error": None if event.is_error is None else bool(event.is_error),
        "latency_ms": None if event.latency_ms is None else round(float(event.latency_ms), 3),
    }
    for name in _HASH_FIELDS:
        row[name] = getattr(event, name)
    detail_hmacs: list[str] = []
    for name in _TEXT_FIELDS:
        row[name] = _text(getattr(event, name), key, _TEXT_LIMIT, detail_hmacs)
    row["error_code"] = _text(event.error_code, key, 64, detail_hmacs)
    row["error_message"] = _text(event.error_message, key, _MESSAGE_LIMIT, detail_hmacs)
    for prefix, value in (("args", event.arguments), ("result", event.result), ("details", event.details)):
        text, found, size = _payload(value, key, cap)
        extra = detail_hmacs if prefix == "details" else []
        all_found = sorted(set(found) | set(extra))
        row[f"{prefix}_redacted"] = text
        row[f"{prefix}_hmac"] = _hex_list(all_found) if (text is not None or all_found) else None
        if prefix != "details":
            row[f"{prefix}_size"] = size
        hmacs.update(all_found)
    return PreparedEvent(row, tuple(sorted(hmacs)))


def stored_customer_ref(event: AuditEvent) -> str | None:
    """The customer reference as it will be stored (masked if it holds personal data): the data subject."""
    if event.customer_ref is None or event.customer_ref == "":
        return None
    return _text(event.customer_ref, b"", _TEXT_LIMIT, [])


def _text(value: Any, key: bytes, limit: int, found: list[str]) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    if detect(text):  # rare: most ids and names hold no personal data
        redaction = redact(text, key=key)
        found.extend(redaction.hmacs)
        text = redaction.value
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _payload(value: Any, key: bytes, cap: int) -> tuple[str | None, list[str], int | None]:
    """(redacted canonical JSON or None, HMACs, original size in bytes)."""
    if value is None:
        return None, [], None
    try:  # plain JSON (the usual case): one pass redacts and writes the canonical text
        text, found, changed = redact_canonical(value, key)
        size = None if changed else len(text.encode("utf-8"))
    except Unsure:
        text, found, size = _general_payload(value, key)
    if size is None:
        size = _encoded_size(value, text)
    if len(text.encode("utf-8")) > cap:
        preview = text.encode("utf-8")[: max(0, cap - 200)].decode("utf-8", "ignore")
        text = canonical_json({"truncated": True, "preview": preview}).decode("utf-8")
    return text, found, size


def _general_payload(value: Any, key: bytes) -> tuple[str, list[str], int | None]:
    """Any value: redacted copy (tuples, sets, other types as :func:`core.redaction.redact` makes them)."""
    try:
        original: str | None = _STRICT_ENCODER.encode(value)
    except (TypeError, ValueError):  # other types: the full walk handles them
        original = None
    if original is not None and not may_contain_pii(original):
        return _canonical_text(value), [], None
    redaction = redact(value, key=key)
    return _canonical_text(redaction.value), redaction.hmacs, None


def _encoded_size(value: Any, text: str) -> int:
    """Bytes of the original payload's compact JSON (``text``'s size when it has none)."""
    try:
        return len(_STRICT_ENCODER.encode(value).encode("utf-8"))
    except (TypeError, ValueError):  # other types, lone surrogates
        return _original_size(value, len(text.encode("utf-8")))


def _canonical_text(value: Any) -> str:
    try:
        return canonical(value).decode("utf-8")
    except ValueError:  # integers beyond 2**53, NaN/Infinity
        return canonical(_json_safe(value)).decode("utf-8")


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value if abs(value) <= 2**53 - 1 else str(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    return str(value)


_SIZE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
_STRICT_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _hex_list(hmacs: list[str]) -> str:
    """The compact JSON list of hex HMACs (no escaping needed; ``[]`` for none)."""
    return '["' + '","'.join(hmacs) + '"]' if hmacs else "[]"


def _original_size(value: Any, fallback: int) -> int:
    """Bytes of the original payload's compact JSON."""
    try:
        return len(_SIZE_ENCODER.encode(value).encode("utf-8", "replace"))
    except (TypeError, ValueError):
        return fallback


def hmac_index_rows(org_id: str, seq: int, hmacs: tuple[str, ...]) -> list[dict[str, Any]]:
    """Rows of ``audit_value_hmac`` for one record."""
    return [{"org_id": org_id, "hmac": h, "seq": seq} for h in hmacs]
