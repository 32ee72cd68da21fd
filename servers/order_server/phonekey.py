"""A customer's phone number as the order store keeps it: a keyed HMAC, never the number.

The order store looks customers up by their mobile number (``find_orders``, ``verify_caller``),
so it needs the number to compare, not to read. It keeps ``HMAC-SHA256(k, "+821012345678")``
(hex) beside the masked copy it shows (``+82-10-****-5678``), where ``k`` is derived from the
org's HMAC key (the audit log's: ``audit.keys.hmac_key``, ``$SWITCHBOARD_HOME/keys/audit-hmac``
or ``SWITCHBOARD_AUDIT_HMAC_KEY``). A copy of the database alone gives no number back, and a
guess needs the key. Every process that reads or writes the orders of an org must see the same
key (as for the audit log's value search); with another key a lookup by phone finds nothing.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

PURPOSE = b"switchboard/orders-phone-key/v1"


def phone_key(org_id: str, phone_e164: str) -> str:
    """The stored key of ``phone_e164`` (normalised E.164, ``+821012345678``) in ``org_id``."""
    from audit.keys import hmac_key

    org_key = hmac_key(org_id)
    assert org_key is not None  # created on first use
    return hmac.new(_derived(org_key), phone_e164.encode("ascii"), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=256)
def _derived(org_key: bytes) -> bytes:
    """The phone key's own key, derived once per org key (not per lookup)."""
    return hmac.new(org_key, PURPOSE, hashlib.sha256).digest()
