"""The host's confirmation in a tool call's ``_meta``: the contract between host and servers.

When the host's customer (or, under an ``approve`` policy, an operator) has agreed to a call,
the host sends ``_meta["switchboard/confirmation"] = {"arguments_sha256": ..., "confirmed_by":
...}``, the digest taken over the arguments exactly as sent. A server that confirms writes
itself (the order server's ``request_refund``) then does not ask a second time, but only when
the caller is trusted (:attr:`core.context.RequestContext.trusted`) and the digest matches.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from core.canonical import canonical_sha256
from core.context import META_PREFIX

CONFIRMATION_META_KEY = f"{META_PREFIX}confirmation"


def confirmation_meta(arguments: Mapping[str, Any], confirmed_by: str = "customer") -> dict[str, Any]:
    """The ``_meta`` entry for a call confirmed with exactly these ``arguments``."""
    digest = canonical_sha256(dict(arguments))
    return {CONFIRMATION_META_KEY: {"arguments_sha256": digest, "confirmed_by": confirmed_by}}
