"""`registry import` of a server.json whose remote points at a link-local address: the import
connected to http://169.254.169.254/ (the cloud metadata service) and reported its answer as an
MCP error. A file cannot make Switchboard reach there, in any spelling of the address."""

from __future__ import annotations

import pytest

from core.errors import SwitchboardError
from registry.serverjson_import import choose_launch

BASE = {"name": "io.example/evil", "description": "x", "version": "1.0.0"}


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "http://169.254.170.2/v2/credentials",  # ECS task credentials
        "http://[::ffff:169.254.169.254]/mcp",
        "http://[fe80::1]/mcp",
        "http://2852039166/mcp",  # 169.254.169.254 as one number: getaddrinfo reads it so
        "http://0xa9fea9fe/mcp",
        "http://0.0.0.0:8080/mcp",
    ],
)
def test_a_remote_at_a_link_local_or_unspecified_address_is_refused(url: str) -> None:
    document = {**BASE, "remotes": [{"type": "streamable-http", "url": url}]}
    with pytest.raises(SwitchboardError) as caught:
        choose_launch(document, None, None)
    assert caught.value.code.value == "INVALID_ARGUMENT"
    assert "link-local" in caught.value.message or "unspecified" in caught.value.message, caught.value.message


@pytest.mark.parametrize(
    "url",
    ["https://mcp.example.com/mcp", "http://127.0.0.1:8765/mcp", "http://10.1.2.3/mcp", "http://[::1]:9000/mcp"],
)
def test_ordinary_remotes_still_import(url: str) -> None:
    document = {**BASE, "remotes": [{"type": "streamable-http", "url": url}]}
    source, launch = choose_launch(document, None, None)
    assert source == "remote" and launch.url == url
