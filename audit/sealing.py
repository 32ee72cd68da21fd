"""Sealing audit payloads: AES-256-GCM under the data subject's key, the record id as associated data.

Sealed fields: ``args_redacted``, ``result_redacted``, ``details_redacted`` and
``error_message`` (everything that can carry what a person said or what a tool returned about
them). A sealed value is ``enc:v1:<kid>:`` + base64(12-byte nonce ‖ ciphertext ‖ tag), where
``kid`` is the first 8 hex digits of sha256(key) (so a payload sealed with a destroyed key reads
``[erased]`` even after the customer got a new key, and a damaged one ``[unreadable]``); the associated
data is ``<event_id>:<field>``, so a ciphertext moved to another record or field does not open.
``record_hash`` covers the sealed text: verifying needs no keys and still passes after an erase.

Reading: :func:`open_fields` returns the plain payloads, or :data:`ERASED` for a subject whose
key was destroyed. Values without the prefix are records written before sealing existed.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag

from audit.subjects import SubjectKey, subject_key

PREFIX = "enc:v1:"
ERASED = "[erased]"
UNREADABLE = "[unreadable]"
SEALED_FIELDS = ("args_redacted", "result_redacted", "details_redacted", "error_message")


def seal(key: SubjectKey, event_id: str, name: str, text: str | None) -> str | None:
    if text is None:
        return None
    nonce = os.urandom(12)
    sealed = key.aead.encrypt(nonce, text.encode("utf-8"), f"{event_id}:{name}".encode())
    return f"{PREFIX}{key.kid}:{base64.b64encode(nonce + sealed).decode('ascii')}"


def seal_row(row: dict[str, Any], key: SubjectKey) -> None:
    """Seal the payload fields of a prepared row in place."""
    event_id = row["event_id"]
    for name in SEALED_FIELDS:
        value = row.get(name)
        if value is not None:
            row[name] = seal(key, event_id, name, value)


def is_sealed(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def _open(key: SubjectKey, event_id: str, name: str, value: str) -> str:
    kid, _, body = value[len(PREFIX) :].partition(":")
    if kid != key.kid:
        return ERASED  # sealed with a key since destroyed (the subject has a new key now)
    try:
        blob = base64.b64decode(body, validate=True)
        return key.aead.decrypt(blob[:12], blob[12:], f"{event_id}:{name}".encode()).decode("utf-8")
    except (InvalidTag, ValueError):
        return UNREADABLE


class Opener:
    """Opens sealed fields of many records, looking each subject's key up once."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str | None], SubjectKey | None] = {}

    def key(self, org_id: str, customer_ref: str | None) -> SubjectKey | None:
        ident = (org_id, customer_ref)
        if ident not in self._keys:
            self._keys[ident] = subject_key(org_id, customer_ref, create=False)
        return self._keys[ident]

    def erased(self, row: Mapping[str, Any]) -> bool:
        """True when the row has sealed payloads whose key is gone."""
        if not any(is_sealed(row.get(n)) for n in SEALED_FIELDS):
            return False
        return self.key(row["org_id"], row.get("customer_ref")) is None

    def open_fields(self, row: Mapping[str, Any]) -> dict[str, str | None]:
        """The plain text of each sealed field (:data:`ERASED` when the subject's key was destroyed)."""
        out: dict[str, str | None] = {}
        key: SubjectKey | bool | None = False
        for name in SEALED_FIELDS:
            value = row.get(name)
            if not is_sealed(value):
                out[name] = value
                continue
            if key is False:
                key = self.key(row["org_id"], row.get("customer_ref"))
            out[name] = ERASED if key is None else _open(key, row["event_id"], name, value)  # type: ignore[arg-type]
        return out

    def open_row(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``row`` with its sealed fields opened."""
        out = dict(row)
        out.update(self.open_fields(row))
        return out


def open_fields(row: Mapping[str, Any]) -> dict[str, str | None]:
    return Opener().open_fields(row)
