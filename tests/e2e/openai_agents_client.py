"""Runs under tests/.openai-agents/bin/python (openai-agents, not Switchboard): a third-party client.

    python openai_agents_client.py cold N -- COMMAND ARGS...   # N cold starts over stdio, default settings
    python openai_agents_client.py http URL TOKEN TOOL ARGS_JSON

Prints one JSON object on stdout. Default settings on purpose: MCPServerStdio's
client_session_timeout_seconds is 5 s, the value that failed against slow-starting servers.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

from agents.mcp import MCPServerStdio, MCPServerStreamableHttp


async def cold(n: int, command: list[str]) -> dict:
    results = []
    for _ in range(n):
        started = time.perf_counter()
        server = MCPServerStdio(params={"command": command[0], "args": command[1:], "env": dict(os.environ)})
        try:
            async with server:
                tools = await server.list_tools()
            results.append({"ok": True, "tools": len(tools), "seconds": round(time.perf_counter() - started, 3)})
        except Exception as exc:  # what the user would see
            results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]})
    return {"runs": results, "ok": sum(r["ok"] for r in results)}


async def http(url: str, token: str, tool: str, arguments: dict) -> dict:
    server = MCPServerStreamableHttp(params={"url": url, "headers": {"Authorization": f"Bearer {token}"}})
    async with server:
        tools = [t.name for t in await server.list_tools()]
        result = await server.call_tool(tool, arguments)
    text = "".join(getattr(c, "text", "") for c in result.content)
    is_error = getattr(result, "is_error", None)  # mcp 2.x; 1.x called it isError
    if is_error is None:
        is_error = getattr(result, "isError", False)
    return {"tools": tools, "is_error": bool(is_error), "text": text}


def main() -> None:
    mode = sys.argv[1]
    if mode == "cold":
        n = int(sys.argv[2])
        command = sys.argv[sys.argv.index("--") + 1 :]
        out = asyncio.run(cold(n, command))
    else:
        url, token, tool, arguments = sys.argv[2:6]
        out = asyncio.run(http(url, token, tool, json.loads(arguments)))
    sys.stdout.write(json.dumps(out, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
