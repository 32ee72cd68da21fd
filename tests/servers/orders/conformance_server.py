"""The order server over Streamable HTTP for the MCP conformance suite, which cannot send a token.

``switchboard serve orders --transport http`` always requires a bearer token. The conformance
suite has no way to send one, so this test-only entry point builds the same server with
``build_server`` but without HTTP auth, its tenant fixed at launch (as stdio does), and serves it
with the same Host/Origin protection as ``switchboard serve`` (DNS-rebinding protection).
Never ship this: it is for the test run on loopback only.

    python tests/servers/orders/conformance_server.py PORT
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from servers.kit import ServerLaunch  # noqa: E402
from servers.kit.serve import quiet_fastmcp  # noqa: E402
from servers.order_server.app import build_server  # noqa: E402

CONFORMANCE_ORG = "conformance"


def main(port: int) -> None:
    quiet_fastmcp()
    server = build_server(launch=ServerLaunch(org_id=CONFORMANCE_ORG), http_auth=False)
    server.run(
        transport="http",
        host="127.0.0.1",
        port=port,
        path="/mcp",
        show_banner=False,
        log_level="warning",
        host_origin_protection="auto",
    )


if __name__ == "__main__":
    main(int(sys.argv[1]))
