"""``verify_caller``: does this phone number and second factor belong to one customer?

The comparison happens here, in the server, over whichever backend serves the orders (the
customers are found through ``orders_by_phone``, so SQL and REST mappings need nothing new): the
stored value never leaves the server, only ``verified`` and the customer's opaque reference.
Names are compared after normalising (NFKC, case, spaces, punctuation and a trailing 님 dropped)
with :func:`hmac.compare_digest` against every candidate, so the time taken does not say which
part matched. A caller already scoped to a customer can only verify as that customer.
"""

from __future__ import annotations

import hmac
import re
import unicodedata

from core.context import RequestContext
from core.errors import invalid
from servers.order_server.backends import get_backend
from servers.order_server.models import CallerCheck
from servers.order_server.phone import Phone

FACTORS = ("name",)
"""Second factors the order data can check: the customer's name (docs/orders.md)."""
_CANDIDATE_ORDERS = 200
_DROP = re.compile(r"[\s\W_]+")


def normalise_name(raw: str) -> str:
    """``김 민수 님`` → ``김민수``; ``John SMITH`` → ``johnsmith``."""
    text = _DROP.sub("", unicodedata.normalize("NFKC", raw).casefold())
    return text[:-1] if text.endswith("님") and len(text) > 2 else text


async def verify_caller(ctx: RequestContext, phone: Phone, factor_kind: str, factor: str) -> CallerCheck:
    if factor_kind not in FACTORS:
        raise invalid(f"factor_kind must be one of {', '.join(FACTORS)}: ask the caller for the name on the order")
    given = normalise_name(factor).encode()
    if not given:
        raise invalid("factor must hold the caller's name (letters), e.g. 김민수")
    rows = await get_backend().orders_by_phone(ctx, phone.e164, _CANDIDATE_ORDERS)
    candidates = {str(r["customer_ref"]): normalise_name(str(r["customer_name"] or "")) for r in rows}
    matched: str | None = None
    for ref, name in sorted(candidates.items()):
        if hmac.compare_digest(name.encode(), given) and name:
            matched = matched or ref
    return CallerCheck(verified=matched is not None, customer_ref=matched, phone_masked=phone.masked)
