"""Verification secrets in tool arguments: what a caller says to prove who they are.

A second factor (the name on the orders, later a date of birth) is not a pattern :mod:`core.pii`
can find, so it is masked by argument name: every record of a call (the host's events and audit
records, the server's audit record) keeps ``factor_kind`` and drops the value.
"""

from __future__ import annotations

from typing import Any

SECRET_ARGUMENTS = frozenset({"factor"})
HIDDEN = "***"


def hide_factors(arguments: Any) -> Any:
    """``arguments`` with the value of every secret argument replaced by ``***`` (a copy)."""
    if not isinstance(arguments, dict) or not SECRET_ARGUMENTS.intersection(arguments):
        return arguments
    return {k: (HIDDEN if k in SECRET_ARGUMENTS and v is not None else v) for k, v in arguments.items()}


def verified_customer(result: Any) -> str | None:
    """The customer a caller check matched: ``customer_ref`` of a result that says ``verified: true``
    (``verify_caller``), else None. The records of that call are the customer's (sealed under their
    audit key, so an erase shreds them), though the session had no customer when it was made."""
    if not isinstance(result, dict) or result.get("verified") is not True:
        return None
    ref = result.get("customer_ref")
    return ref if isinstance(ref, str) and ref else None
