"""``build_server``: the order server as ``switchboard serve orders`` and the host run it."""

from __future__ import annotations

from typing import Any

from servers.order_server import __version__

INSTRUCTIONS = (
    "Order lookup for one shop (tenant). Look orders up by order number (주문번호, digits such as 8841) "
    "or by the customer's mobile number; amounts are KRW integers, times are Korea time (+09:00). "
    "Names and phone numbers come back masked. request_refund is the only tool that changes anything: "
    "the server asks the customer to confirm the checked order and amount (elicitation), or returns "
    "outcome=confirmation_required and a confirmation_id for confirm_refund after the customer's yes. "
    "Reuse the same idempotency_key when retrying. "
    "Errors carry a stable code: INVALID_ARGUMENT, NOT_FOUND, CONFLICT, UNAVAILABLE."
)
# the data layer (SQLAlchemy, the backend): imported after the handshake, not at start
DATA_PATH = ("servers.order_server.service", "servers.order_server.callers", "servers.order_server.confirmation")


def _lifespan() -> Any:
    from fastmcp.server.lifespan import lifespan

    @lifespan
    async def orders_lifespan(server: Any) -> Any:
        import asyncio
        import importlib

        from servers.kit.warm import after_handshake

        async def preload() -> None:
            for module in DATA_PATH:
                await asyncio.to_thread(importlib.import_module, module)
            # the PII reader's fold table (~100 ms, built on first use): built here, the first
            # call's audit record is not chained that much later
            from core.pii_folding import folding

            await asyncio.to_thread(folding)

        task = after_handshake("data-layer", preload)
        try:
            yield {}
        finally:
            task.cancel()

    return orders_lifespan


def build_server(launch: Any = None, hooks: Any = None, http_auth: bool = False) -> Any:
    """The order server (``switchboard-orders``) with the kit's identity, validation and hooks."""
    from servers.kit import build_server as kit_build_server
    from servers.kit.schemas import compact_tool_schemas
    from servers.order_server.backends import configured, get_backend
    from servers.order_server.tools import register

    if configured() != "tables":
        get_backend()  # a broken mapping file fails here, at start, with what to fix
    server = kit_build_server(
        "orders",
        __version__,
        instructions=INSTRUCTIONS,
        launch=launch,
        hooks=hooks,
        http_auth=http_auth,
        lifespan=_lifespan(),
    )
    register(server)
    compact_tool_schemas(server)
    return server
