"""Which second factor a tenant asks an anonymous caller for, and how many tries they get.

Set per org with ``SWITCHBOARD_CALLER_CHECK`` (``demo:name:3;acme:name:5``: org, factor, maximum
attempts); an org not named gets the defaults (the name on the orders, 3 attempts). The order
data holds names only, so ``name`` is the one factor the order server checks today
(docs/host.md, "Caller verification").
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from core.errors import invalid

ENV = "SWITCHBOARD_CALLER_CHECK"
FACTORS = ("name",)
DEFAULT_ATTEMPTS = 3
MAX_ATTEMPTS = 10


@dataclass(frozen=True, slots=True)
class CallerPolicy:
    factor: str = "name"
    max_attempts: int = DEFAULT_ATTEMPTS


def parse(spec: str) -> dict[str, CallerPolicy]:
    """``org:factor:attempts`` entries separated by ``;``; INVALID_ARGUMENT naming the bad entry."""
    out: dict[str, CallerPolicy] = {}
    for entry in filter(None, (e.strip() for e in spec.split(";"))):
        parts = [p.strip() for p in entry.split(":")]
        if len(parts) != 3 or not parts[0] or parts[1] not in FACTORS or not parts[2].isdigit():
            raise invalid(
                f"{ENV} entry {entry!r} must read org:factor:attempts with factor one of {', '.join(FACTORS)}"
                " and attempts a number, e.g. demo:name:3"
            )
        attempts = int(parts[2])
        if not 1 <= attempts <= MAX_ATTEMPTS:
            raise invalid(f"{ENV} entry {entry!r}: attempts must be 1-{MAX_ATTEMPTS}")
        out[parts[0]] = CallerPolicy(parts[1], attempts)
    return out


def for_org(org_id: str, spec: str | None = None) -> CallerPolicy:
    """The org's policy (from ``spec``, default the ``SWITCHBOARD_CALLER_CHECK`` variable)."""
    return parse(os.environ.get(ENV, "") if spec is None else spec).get(org_id, CallerPolicy())
