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
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$")


def is_valid_identifier(value: str) -> bool:
    """Org ids, customer refs and similar ids: 1-128 safe ASCII characters."""
    return bool(_ID_RE.match(value))


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
