"""The servers an evaluation run shares: each bundled server spawned once over Streamable HTTP.

Spawning three servers per scenario would cost seconds each; instead the run starts
``switchboard serve <name> --transport http`` once per server on a free loopback port and gives
the host a trusted service token, so every scenario's fresh tenant (org) travels in the request
``_meta`` exactly as it does for the host's stdio children. The host still verifies each
server's handshake and live tool hashes against the pins of the agent version under test.

The token lives as long as the stack: :meth:`SharedServers.close` stops the servers and revokes
it, and ``run_eval`` closes the stack it started however the run ends (finished, failed, Ctrl-C).
A trusted token may name any org and customer, so none is left active behind a run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import unavailable
from core.settings import get_settings

START_TIMEOUT_S = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _wait_listening(port: int, proc: subprocess.Popen[bytes], name: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-800:] if log.exists() else ""
            raise unavailable(f"the {name} server exited while starting (code {proc.returncode}): {tail}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
        return
    raise unavailable(f"the {name} server did not listen on port {port} within {START_TIMEOUT_S:.0f} s; see {log}")


@dataclass
class SharedServers:
    """Bundled servers over loopback HTTP, one process each, for the whole run."""

    names: tuple[str, ...] = ("orders", "kb", "memory")
    urls: dict[str, str] = field(default_factory=dict)
    token: str = ""
    token_id: str = ""
    _procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    _env: dict[str, str] = field(default_factory=dict)
    _exe: str = ""
    _logs: Path = Path(".")

    async def start(self) -> SharedServers:
        from servers.kit.tokens import create_token

        self.token, info = await create_token(None, label="switchboard eval run", trusted=True)
        self.token_id = info.id
        settings = get_settings()
        logs = settings.ensure_home() / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        exe = str(Path(sys.executable).parent / "switchboard")
        env = {k: v for k, v in os.environ.items() if k != "SWITCHBOARD_ORG"}
        env.update(
            {
                "SWITCHBOARD_HOME": str(settings.home),
                "SWITCHBOARD_DATABASE_URL": settings.resolved_database_url,
                "ANONYMIZED_TELEMETRY": "False",
                "FASTMCP_SHOW_SERVER_BANNER": "false",
                "FASTMCP_LOG_LEVEL": "WARNING",
                # each scenario waits for its KB's vectors (host/evals/tenant.py): poll often
                "SWITCHBOARD_KB_EMBED_INTERVAL": "0.3",
            }
        )
        self._env, self._exe, self._logs = env, exe, logs
        try:
            await asyncio.gather(*(self._spawn(name) for name in self.names))
        except BaseException:
            await self.close()
            raise
        return self

    async def _spawn(self, name: str) -> None:
        port = free_port()
        log = self._logs / f"eval-{name}.log"
        with log.open("ab") as sink:
            proc = subprocess.Popen(
                [self._exe, "serve", name, "--transport", "http", "--port", str(port)],
                env=self._env,
                stdout=sink,
                stderr=sink,
                stdin=subprocess.DEVNULL,
            )
        self._procs[name] = proc
        self.urls[name] = f"http://127.0.0.1:{port}/mcp"
        await _wait_listening(port, proc, name, log)

    async def restart(self, name: str) -> None:
        """Bring a killed server back (on a new port) for the next scenarios."""
        if not self.alive(name):
            await self._spawn(name)

    def connector(self, pin: Any, env: dict[str, str]) -> Any:
        """The host's connector: the shared server of that name, with the trusted token."""
        from fastmcp.client.transports import StreamableHttpTransport

        url = self.urls.get(pin.name)
        if url is None:
            raise unavailable(f"the eval run has no {pin.name} server (it serves {', '.join(self.names)})")
        return StreamableHttpTransport(url, auth=self.token)

    def kill(self, name: str) -> None:
        """Stop one server (the 'server fails mid-call' scenarios)."""
        proc = self._procs.get(name)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)

    def alive(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def stop(self) -> None:
        """Stop every server (the token stays valid: :meth:`close` also revokes it)."""
        for name in list(self._procs):
            self.kill(name)
        self._procs.clear()

    async def close(self) -> None:
        """Stop every server and revoke the run's token; calling it again does nothing."""
        self.stop()
        token_id, self.token_id, self.token = self.token_id, "", ""
        if token_id:
            from core.errors import SwitchboardError
            from servers.kit.tokens import revoke_token

            with contextlib.suppress(SwitchboardError):  # revoked already, by hand
                await revoke_token(token_id)
