"""Key providers for the tests, loaded through SWITCHBOARD_AUDIT_KEY_PROVIDER (module:attribute)."""

from __future__ import annotations

import os


class MemoryProvider:
    """A KMS stand-in: keys in a dict; ``fail`` makes every call raise (a KMS outage)."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str | None], bytes] = {}
        self.fail = False

    def get_key(self, org_id: str, customer_ref: str | None, create: bool) -> bytes | None:
        if self.fail:
            raise ConnectionError("kms unreachable")
        if (org_id, customer_ref) not in self.keys and create:
            self.keys[(org_id, customer_ref)] = os.urandom(32)
        return self.keys.get((org_id, customer_ref))

    def destroy_key(self, org_id: str, customer_ref: str | None) -> bool:
        return self.keys.pop((org_id, customer_ref), None) is not None


provider = MemoryProvider()


def broken() -> MemoryProvider:
    raise RuntimeError("provider misconfigured")
