"""Who a request is for: the tenant, the customer and the conversation it belongs to.

The tenant and the customer never come from a tool argument (DESIGN principle 1). They come
from the connection: launch flags for stdio, a bearer token over HTTP, or the `_meta` of a
trusted client (the host), whose keys carry the ``switchboard/`` prefix.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

META_PREFIX = "switchboard/"
_META_FIELDS = ("org_id", "customer_ref", "session_id", "agent_version_id", "manifest_sha256", "trace_id")
_META_KEYS = tuple((name, f"{META_PREFIX}{name}") for name in _META_FIELDS)
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}\Z")


def is_valid_identifier(value: str) -> bool:
    """Org ids, customer refs and similar ids: 1-128 safe ASCII characters."""
    return bool(_ID_RE.match(value))


def customer_ref_problem(value: Any) -> str | None:
    """Why ``value`` cannot be a customer reference, or None when it can.

    A customer reference is an opaque id (``C-1001``, a CRM key). It must not be personal data
    itself: every store keeps personal data masked, so a phone number as a reference would be
    stored as ``010-****-5678``, the same for every customer sharing those last digits, and an
    erase by the real number would miss what was stored under the masked one (docs/audit.md).
    """
    return opaque_id_problem(value, "use the customer's id instead, e.g. C-1001")


def opaque_id_problem(value: Any, instead: str = "use an opaque id instead, e.g. run-2026-0001") -> str | None:
    """Why ``value`` cannot be an id that is stored as given (customer, agent, run), or None.

    Ids are kept verbatim to partition and find data, so an id that is personal data would be
    stored unmasked.
    """
    if not isinstance(value, str) or not is_valid_identifier(value):
        return "must be 1-128 letters, digits or ._:@- characters"
    from core.pii import contains_pii

    if contains_pii(value):
        return f"looks like personal data (a phone, card, account or resident number, or an e-mail address): {instead}"
    return None


@dataclass(frozen=True, slots=True)
class RequestContext:
    """The identity and correlation ids that travel with one request."""

    org_id: str
    customer_ref: str | None = None
    session_id: str | None = None
    agent_version_id: str | None = None
    manifest_sha256: str | None = None
    trace_id: str | None = None
    # The caller may speak for the customer (the host's stdio child, a trusted service token):
    # only then does a server honour claims such as the host's confirmation in ``_meta``.
    trusted: bool = False

    def with_trace(self) -> RequestContext:
        """This context with a trace id (a fresh one when missing)."""
        return self if self.trace_id else replace(self, trace_id=uuid.uuid4().hex)

    def to_meta(self) -> dict[str, str]:
        """The `_meta` entries a trusted client sends for this context (on every tool call: no deep copy)."""
        return {key: value for name, key in _META_KEYS if (value := getattr(self, name)) is not None}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any] | None) -> dict[str, str]:
        """The switchboard/ fields present in a request `_meta` (strings only, validated)."""
        found: dict[str, str] = {}
        for name in _META_FIELDS:
            value = (meta or {}).get(f"{META_PREFIX}{name}")
            if isinstance(value, str) and value and len(value) <= 128 and value.isprintable():
                found[name] = value
        return found
