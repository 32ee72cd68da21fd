"""Issue 18, part 2: the handshake path imports nothing heavy; the data layer loads after it.

Each server is built in a fresh interpreter (what `switchboard serve` does before it answers
``initialize``): SQLAlchemy, numpy, chromadb, bm25s and kiwi must not be imported yet. Then a
real stdio server answers its first call, which proves the lazily imported layers still load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SB = str(Path(sys.executable).with_name("switchboard"))
ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("sqlalchemy", "numpy", "chromadb", "bm25s", "kiwipiepy", "registry", "onnxruntime")
PROBE = """
import json, sys
from servers import catalog
from servers.kit.identity import ServerLaunch
catalog.build(sys.argv[1], launch=ServerLaunch(org_id="demo"), hooks=[])
print(json.dumps(sorted({m.split(".")[0] for m in sys.modules} & set(sys.argv[2:]))))
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    env.update({"SWITCHBOARD_HOME": str(home), "ANONYMIZED_TELEMETRY": "False", "PYTHONPATH": str(ROOT)})
    return env


@pytest.mark.parametrize("name", ["orders", "kb", "memory"])
def test_building_a_server_imports_no_data_layer_or_model(name, tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, name, *HEAVY],
        env=_env(tmp_path),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(probe.stdout.strip().splitlines()[-1]) == [], f"{name} imports them before the handshake"


async def test_orders_first_call_loads_the_data_layer_after_the_handshake(tmp_path):
    """A real stdio order server: tools/list from the light contract, then a call that needs
    SQLAlchemy answers with a stable code (no data in this home), and the warm resource reports done."""
    from fastmcp import Client
    from fastmcp.client.transports import StdioTransport

    transport = StdioTransport(SB, ["serve", "orders", "--org", "demo"], env=_env(tmp_path / "home"))
    async with Client(transport) as client:
        tools = {t.name for t in await client.list_tools()}
        assert {"get_order", "request_refund", "verify_caller"} <= tools
        for bad in ("900101-1234567", "8841; DROP TABLE ord_order", "0841"):
            result = await client.call_tool_mcp("get_order", {"order_id": bad})
            assert result.is_error and "INVALID_ARGUMENT" in result.content[0].text
        result = await client.call_tool_mcp("get_order", {"order_id": "8841"})
        assert result.is_error and json.loads(result.content[0].text)["code"] in {"NOT_FOUND", "UNAVAILABLE"}
        warm = json.loads((await client.read_resource_mcp("switchboard://status/warm")).contents[0].text)
        assert warm == {"warm": True, "pending": [], "uptime_s": warm["uptime_s"]}
