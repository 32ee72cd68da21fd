"""A tool call's record, journaled sealed and raw, redacted when it is chained (off the call's path).

Redacting a call's record (the walk over its arguments and answer that masks personal data and
keeps keyed HMACs, ``audit/payload.py``) was most of what an audited call waited for. A server's
call now waits only for :func:`defer_event` and one journal line: the event's fields as one JSON
text sealed with AES-256-GCM under the data subject's key (associated data ``<event_id>:raw``),
beside the few fields that name the record and its key. The appender redacts the event when it
chains it (:meth:`DeferredEvent.prepared`), with the key it loaded at call time, so the stored
record is the one :func:`audit.prepare.prepare_event` would have made at call time.

The line holds no plain personal data: what is not sealed is the org, the record's id and time,
its type and source (validated names) and the customer reference as the log stores it (masked when
it holds personal data). An erase reaches the line too: a line left by a process that died is
chained by the next appender (:func:`from_line`), which opens it with the subject's key; when that
key was destroyed meanwhile (``switchboard customer erase``), the record is chained without its
contents and says so in its details (:data:`ERASED_BEFORE_CHAINING`).
"""

from __future__ import annotations

import base64
import json
import logging
import os
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from json.encoder import encode_basestring as _string  # type: ignore[attr-defined]  # what the encoder writes
from typing import Any

from cryptography.exceptions import InvalidTag

from audit.prepare import PreparedEvent, new_event_id, prepare_event
from audit.record import RECORD_FIELDS, RECORD_VERSION, AuditEvent, utc_timestamp
from audit.sealing import seal_row
from audit.subjects import SubjectKey, subject_key
from core.canonical import canonical_json

log = logging.getLogger("switchboard.audit")
_STRICT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_FIELDS = tuple(f.name for f in fields(AuditEvent))
_CLEAR = ("org_id", "event_id", "occurred_at", "event_type", "source")  # validated: no personal data


def _note(text: str) -> str:
    return canonical_json({"audit": text}).decode("utf-8")


ERASED_BEFORE_CHAINING = _note(
    "the data subject was erased before this record was chained: its contents were never stored"
)
UNREADABLE_BEFORE_CHAINING = _note("this record could not be opened with the data subject's key when it was chained")


@dataclass(slots=True)
class DeferredEvent:
    """A validated event, the id and time its record gets, and its subject's key; redacted when chained."""

    event: AuditEvent
    event_id: str
    occurred_at: datetime
    key: SubjectKey
    customer_ref: str | None  # as stored (masked when it holds personal data): names the key
    text: str = field(repr=False)  # the event's fields as compact JSON (what the line seals)
    _prepared: PreparedEvent | None = field(default=None, repr=False)

    def prepared(self) -> PreparedEvent:
        """The redacted, sealed row (made once). An event the redaction cannot handle still gets
        its record, without contents and saying why: the call it records has been answered."""
        if self._prepared is None:
            event = self.event  # with the id and time fixed at call time (no copy of the event)
            try:
                prepared = prepare_event(
                    event,
                    self.key.value_hmac_key,
                    validated=True,
                    event_id=self.event_id,
                    occurred_at=self.occurred_at,
                )
            except Exception as exc:  # plain JSON always redacts; never lose the record
                log.error("audit: a deferred record could not be redacted (%s)", type(exc).__name__)
                why = _note(f"this record could not be redacted ({type(exc).__name__})")
                prepared = _contents_lost(_fields(event, self.event_id, self.occurred_at), self.customer_ref, why)
            seal_row(prepared.row, self.key)
            self._prepared = prepared
        return self._prepared

    def line_body(self) -> dict[str, Any]:
        """What the journal line holds: the naming fields in clear, the event sealed."""
        event = self.event
        return {
            "deferred": 1,
            "org_id": event.org_id,
            "event_id": self.event_id,
            "occurred_at": utc_timestamp(self.occurred_at),
            "event_type": event.event_type,
            "source": event.source,
            "customer_ref": self.customer_ref,
            "kid": self.key.kid,
            "sealed": self._sealed(),
        }

    def line_text(self) -> str:
        """:meth:`line_body` as the journal's encoder writes it (compact, ``ensure_ascii=False``),
        written directly: the sealed text is base64 (nothing to escape), so the encoder's scan of
        it is skipped. A test checks it against the encoder."""
        event = self.event
        ref = self.customer_ref
        return (
            '{"deferred":1,"org_id":'
            + _string(event.org_id)
            + ',"event_id":'
            + _string(self.event_id)
            + ',"occurred_at":'
            + _string(utc_timestamp(self.occurred_at))
            + ',"event_type":'
            + _string(event.event_type)
            + ',"source":'
            + _string(event.source)
            + ',"customer_ref":'
            + ("null" if ref is None else _string(ref))
            + ',"kid":'
            + _string(self.key.kid)
            + ',"sealed":"'
            + self._sealed()
            + '"}'
        )

    def _sealed(self) -> str:
        nonce = os.urandom(12)
        sealed = self.key.aead.encrypt(nonce, self.text.encode("utf-8"), _associated(self.event_id))
        return base64.b64encode(nonce + sealed).decode("ascii")


def _associated(event_id: str) -> bytes:
    return f"{event_id}:raw".encode()


def _fields(event: AuditEvent, event_id: str | None = None, occurred_at: datetime | None = None) -> dict[str, Any]:
    out = {name: getattr(event, name) for name in _FIELDS}
    out["event_id"] = event_id or event.event_id
    out["occurred_at"] = utc_timestamp(occurred_at or event.occurred_at)
    return out


def defer_event(event: AuditEvent, key: SubjectKey, customer_ref: str | None) -> DeferredEvent | None:
    """The deferred record of a validated ``event`` whose subject's key is ``key``; None when its
    fields are not plain JSON (tuples, sets, dates...): such an event is prepared at once."""
    event_id = event.event_id or new_event_id()
    occurred_at = event.occurred_at or datetime.now(UTC)
    try:
        text = _STRICT.encode(_fields(event, event_id, occurred_at))
    except (TypeError, ValueError):
        return None
    return DeferredEvent(event, event_id, occurred_at, key, customer_ref, text)


def is_deferred_line(data: dict[str, Any]) -> bool:
    return data.get("deferred") == 1


def is_whole_deferred_line(data: dict[str, Any]) -> bool:
    """Every field :func:`from_line` reads is there, with its type."""
    return all(isinstance(data.get(name), str) for name in (*_CLEAR, "kid", "sealed")) and (
        data.get("customer_ref") is None or isinstance(data["customer_ref"], str)
    )


def from_line(data: dict[str, Any]) -> PreparedEvent:
    """The prepared record of a deferred journal line (a stopped process's, or this one's after a
    failed chaining): opened with the subject's key, or without contents when that key is gone."""
    org_id, customer_ref = data["org_id"], data["customer_ref"]
    key = subject_key(org_id, customer_ref, create=False)
    if key is None or key.kid != data["kid"]:
        return _contents_lost(data, customer_ref, ERASED_BEFORE_CHAINING)
    try:
        blob = base64.b64decode(data["sealed"], validate=True)
        values = json.loads(key.aead.decrypt(blob[:12], blob[12:], _associated(data["event_id"])))
        moment = datetime.fromisoformat(values["occurred_at"].replace("Z", "+00:00"))
        event = AuditEvent(**{**values, "occurred_at": moment})
    except (InvalidTag, ValueError, KeyError, TypeError, AttributeError):
        # the checksum held, so the line was written so (another key, another version): chained
        # without contents rather than refusing every later call over one line
        return _contents_lost(data, customer_ref, UNREADABLE_BEFORE_CHAINING)
    return DeferredEvent(event, data["event_id"], moment, key, customer_ref, "").prepared()


def _contents_lost(fields: dict[str, Any], customer_ref: str | None, why: str) -> PreparedEvent:
    """A record that keeps only the naming fields (a line's, or :func:`_fields` of an event)."""
    row: dict[str, Any] = dict.fromkeys(RECORD_FIELDS)
    row.update({name: fields[name] for name in _CLEAR})
    row.update(record_version=RECORD_VERSION, customer_ref=customer_ref, details_redacted=why)
    return PreparedEvent(row, ())
