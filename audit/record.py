"""What an audit event is (as appended) and what an audit record is (as stored and hashed).

``record_hash = sha256(prev_hash ‖ canonical JSON of every other stored field)``, so editing any
single field of a stored record, including ``seq``, ``org_id`` or ``prev_hash``, changes its hash.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import UTC, datetime
from typing import Any

from core.canonical import canonical_json

GENESIS_HASH = "0" * 64
RECORD_VERSION = 2  # 2: payloads sealed per data subject (audit/sealing.py)
# A pseudo-org for events that belong to no tenant (e.g. a server version published globally).
SYSTEM_ORG = "switchboard:system"


@dataclass(slots=True)
class AuditEvent:
    """One thing to record. Only ``org_id``, ``event_type`` and ``source`` are required.

    Pass raw values: ``arguments``, ``result``, ``details`` and every free-text field are
    redacted (personal data masked, keyed HMACs kept) and capped in size before storage.

    ``event_type`` is a short name such as ``tool_call``, ``tool_result`` or
    ``server_version_published``; ``source`` is ``host``, ``server:<name>``, ``registry`` or ``cli``.
    """

    org_id: str
    event_type: str
    source: str
    actor: str | None = None
    occurred_at: datetime | None = None
    event_id: str | None = None
    customer_ref: str | None = None
    session_id: str | None = None
    turn_id: str | None = None
    trace_id: str | None = None
    agent_version_id: str | None = None
    manifest_sha256: str | None = None
    server_name: str | None = None
    server_version: str | None = None
    client_name: str | None = None
    client_version: str | None = None
    tool_name: str | None = None
    exposed_name: str | None = None
    definition_sha256_pinned: str | None = None
    definition_sha256_observed: str | None = None
    arguments: Any = None
    result: Any = None
    details: Any = None
    is_error: bool | None = None
    error_code: str | None = None
    error_message: str | None = None
    latency_ms: float | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One stored, chained record. Payload fields hold redacted canonical JSON text."""

    org_id: str
    seq: int
    event_id: str
    record_version: int
    prev_hash: str
    record_hash: str
    occurred_at: str
    event_type: str
    actor: str | None
    source: str
    customer_ref: str | None
    session_id: str | None
    turn_id: str | None
    trace_id: str | None
    agent_version_id: str | None
    manifest_sha256: str | None
    server_name: str | None
    server_version: str | None
    client_name: str | None
    client_version: str | None
    tool_name: str | None
    exposed_name: str | None
    definition_sha256_pinned: str | None
    definition_sha256_observed: str | None
    args_redacted: str | None
    args_hmac: str | None
    args_size: int | None
    result_redacted: str | None
    result_hmac: str | None
    result_size: int | None
    details_redacted: str | None
    details_hmac: str | None
    is_error: bool | None
    error_code: str | None
    error_message: str | None
    latency_ms: float | None

    @classmethod
    def from_row(cls, row: Any) -> AuditRecord:
        """From a database row mapping (or an export line)."""
        return cls(**{name: row[name] for name in RECORD_FIELDS})

    def to_dict(self) -> dict[str, Any]:
        """Every stored field, as exported."""
        return asdict(self)

    def opened(self) -> dict[str, Any]:
        """The sealed payload fields opened (``"[erased]"`` once the subject's key is destroyed)."""
        from audit.sealing import open_fields

        return open_fields(self.to_dict())

    @property
    def arguments(self) -> Any:
        """The redacted arguments, opened and parsed."""
        return _parse(self.opened()["args_redacted"])

    @property
    def result(self) -> Any:
        """The redacted result, opened and parsed."""
        return _parse(self.opened()["result_redacted"])

    @property
    def details(self) -> Any:
        """The redacted details, opened and parsed."""
        return _parse(self.opened()["details_redacted"])

    @property
    def message(self) -> str | None:
        """The error message, opened."""
        return self.opened()["error_message"]

    def hashes_ok(self) -> bool:
        """True when the stored fields hash to ``record_hash``."""
        return compute_record_hash(self.to_dict()) == self.record_hash


RECORD_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(AuditRecord))
HASHED_FIELDS: tuple[str, ...] = tuple(sorted(f for f in RECORD_FIELDS if f != "record_hash"))
_hashed_values = operator.itemgetter(*HASHED_FIELDS)
_BEFORE_FLOAT = tuple(name for name in HASHED_FIELDS if name < "latency_ms")  # includes is_error
_AFTER_FLOAT = tuple(name for name in HASHED_FIELDS if name > "latency_ms")
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False, allow_nan=False)


_MARKERS = frozenset({"[erased]", "[unreadable]"})  # see audit/sealing.py


def _parse(text: str | None) -> Any:
    if text is None or text in _MARKERS:
        return text
    return json.loads(text)


def _number(value: float) -> str:
    """ECMAScript Number-to-String of a float (what RFC 8785 requires)."""
    if value == 0:
        return "0"
    if 1e-4 <= abs(value) < 1e16:  # here Python's shortest repr and ECMAScript's agree, bar ".0"
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return canonical_json(value).decode("ascii")


def canonical_row(row: Mapping[str, Any]) -> bytes:
    """RFC 8785 canonical JSON of the hashed fields of ``row`` (equal to ``canonical_json``).

    The hashed fields have ASCII names and hold strings, safe integers, booleans, null and one
    float (``latency_ms``): the C JSON encoder, fed the fields in sorted order, produces exactly
    the canonical form for all of them when the float is written the way ECMAScript writes it
    (a non-integral value in [1e-4, 1e16), or an integral value below 2**53 as an integer). Any other float is
    spliced in at its sorted place. A test checks this against rfc8785.
    """
    values = dict(zip(HASHED_FIELDS, _hashed_values(row), strict=True))
    if values["is_error"] is not None:  # SQLite hands booleans back as 0/1 to untyped queries
        values["is_error"] = bool(values["is_error"])
    latency = values["latency_ms"]
    if latency is not None:
        latency = float(latency)
        if latency == 0 or (latency.is_integer() and abs(latency) < 2**53):
            values["latency_ms"] = int(latency)
        elif latency.is_integer() or not 1e-4 <= abs(latency) < 1e16:  # 2**53 and up: ECMAScript digits
            return _spliced(values, latency)
        else:
            values["latency_ms"] = latency
    return _ENCODER.encode(values).encode("utf-8")


def _spliced(values: dict[str, Any], latency: float) -> bytes:
    before = _ENCODER.encode({name: values[name] for name in _BEFORE_FLOAT})
    after = _ENCODER.encode({name: values[name] for name in _AFTER_FLOAT})
    middle = '"latency_ms":' + _number(latency)
    return ("{" + before[1:-1] + "," + middle + "," + after[1:-1] + "}").encode("utf-8")


def compute_record_hash(row: Mapping[str, Any]) -> str:
    """``sha256(prev_hash ‖ canonical JSON of the record without record_hash)``, hex."""
    return hashlib.sha256(row["prev_hash"].encode("ascii", "replace") + canonical_row(row)).hexdigest()


def utc_timestamp(moment: datetime | None = None) -> str:
    """A fixed-width UTC timestamp (``2026-11-21T10:00:00.123456Z``); sorts as text."""
    moment = moment or datetime.now(UTC)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
