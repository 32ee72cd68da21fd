"""The test order server over stdio (``python tests/host/stdio_orders.py``), for reconnect tests."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.host.servers import make_orders_server

if __name__ == "__main__":
    make_orders_server().run(transport="stdio", show_banner=False)
