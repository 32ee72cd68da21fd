"""A host with the operator console on loopback, for the console's HTTP and browser tests."""

from __future__ import annotations

import os
from contextlib import asynccontextmanager

from host.app import create_app
from host.runtime import HostRuntime
from tests.host.servers import make_kb_server, make_orders_server, publish_agent
from tests.host.test_ws import RISKS, TOOLS, serve

ORG = "demo"
OTHER_ORG = "rival"
PASSWORD = "correct horse battery"


@asynccontextmanager
async def console_host():
    """The host (offline planner, in-process order and KB servers) with ``cs-agent`` and an
    ``approver`` agent whose get_order waits for an operator; operators ``mina`` and ``joon`` of
    ``demo`` and ``eve`` of ``rival``. Yields (address, operators by username)."""
    from host.console import security
    from host.console.operators import create_operator

    security.reset()
    os.environ["SWITCHBOARD_PASSWORD_HASH"] = "cheapest"  # argon2's test profile: the suite stays fast
    live = {"orders": make_orders_server(calls=[]), "kb": make_kb_server()}
    await publish_agent(
        ORG,
        {"orders": (live["orders"], "1.0.0", ["switchboard", "serve", "orders"]), "kb": (live["kb"], "1.0.0", ["kb"])},
        TOOLS,
        risks=RISKS,
    )
    await publish_agent(ORG, {}, ["orders@1.0.0:get_order:approve"], slug="approver")
    people = {
        "mina": await create_operator(ORG, "mina", PASSWORD, display_name="김민아"),
        "joon": await create_operator(ORG, "joon", PASSWORD, display_name="Joon"),
        "eve": await create_operator(OTHER_ORG, "eve", PASSWORD),
    }
    runtime = HostRuntime(connector=lambda pin, env: live[pin.name])
    try:
        async with serve(create_app(runtime, default_org=ORG), graceful_s=2) as address:
            yield address, people
    finally:
        os.environ.pop("SWITCHBOARD_PASSWORD_HASH", None)
