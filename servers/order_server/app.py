"""``build_server``: the order server as ``switchboard serve orders`` and the host run it."""

from __future__ import annotations

from typing import Any

from servers.order_server import __version__

INSTRUCTIONS = (
    "Order lookup for one shop (tenant). Look orders up by order number (주문번호, digits such as 8841) "
    "or by the customer's mobile number; amounts are KRW integers, times are Korea time (+09:00). "
    "Names and phone numbers come back masked. request_refund is the only tool that changes anything: "
    "confirm the order number and reason with the customer first, and reuse the same idempotency_key "
    "when retrying. Errors carry a stable code: INVALID_ARGUMENT, NOT_FOUND, CONFLICT, UNAVAILABLE."
)


def build_server(launch: Any = None, hooks: Any = None, http_auth: bool = False) -> Any:
    """The order server (``switchboard-orders``) with the kit's identity, validation and hooks."""
    from servers.kit import build_server as kit_build_server
    from servers.order_server.backends import get_backend
    from servers.order_server.tools import register

    get_backend()  # a broken mapping file fails here, at start, with what to fix
    server = kit_build_server(
        "orders", __version__, instructions=INSTRUCTIONS, launch=launch, hooks=hooks, http_auth=http_auth
    )
    register(server)
    return server
