"""A scale-out deployment on one machine: host workers and MCP servers behind a real HAProxy.

The failover tests and ``bench/host.py --workers`` start the same thing a deployment runs:
``switchboard serve <name> --transport http`` replicas and ``switchboard host`` workers, every
process on the same database, and ``haproxy`` with ``deploy/haproxy.cfg`` (ports filled in,
written to the data directory's ``cluster/`` folder) in front of both. The host reaches the MCP
servers through the balancer too, with a trusted service token from ``$SWITCHBOARD_MCP_TOKEN``
(the pinned launch spec names the variable, never the token).

Order: :meth:`Cluster.start_servers` (MCP replicas + HAProxy), then publish an agent version
whose servers are at :meth:`Cluster.mcp_url`, then :meth:`Cluster.start_workers`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from string import Template
from typing import Any

from core.errors import unavailable
from core.settings import get_settings
from host.evals.stack import _wait_listening, free_port

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
TOKEN_ENV = "SWITCHBOARD_MCP_TOKEN"
START_TIMEOUT_S = 90.0


def haproxy_binary() -> str:
    found = shutil.which("haproxy") or next((p for p in ("/usr/sbin/haproxy",) if os.path.exists(p)), None)
    if not found:
        raise unavailable("haproxy is not installed: `apt-get install haproxy` (Debian), then run this again")
    return found


def render_config(
    *,
    stats_socket: str,
    host_port: int,
    workers: list[int],
    mcp: dict[str, tuple[int, list[int]]],
    bind: str = "127.0.0.1",
    check_ms: int = 500,
) -> str:
    """``deploy/haproxy.cfg`` with the addresses filled in; ``mcp``: name → (frontend port, replica ports)."""
    block = Template((DEPLOY / "haproxy-mcp.cfg").read_text(encoding="utf-8"))
    sections = [
        block.substitute(
            name=name,
            bind=bind,
            port=port,
            check_ms=check_ms,
            servers="\n".join(f"    server {name}{i} {bind}:{p}" for i, p in enumerate(replicas, 1)),
        )
        for name, (port, replicas) in mcp.items()
    ]
    return Template((DEPLOY / "haproxy.cfg").read_text(encoding="utf-8")).substitute(
        stats_socket=stats_socket,
        bind=bind,
        host_port=host_port,
        check_ms=check_ms,
        host_servers="\n".join(f"    server worker{i} {bind}:{p}" for i, p in enumerate(workers, 1)),
        mcp_sections="\n".join(sections),
    )


@dataclass
class Cluster:
    """``workers`` host workers and ``replicas`` of each MCP server in ``servers``, behind HAProxy."""

    org: str
    workers: int = 2
    servers: tuple[str, ...] = ("orders",)
    replicas: int = 1
    worker_args: list[str] = field(default_factory=lambda: ["--provider", "offline"])
    env: dict[str, str] = field(default_factory=dict)
    check_ms: int = 500
    token: str = ""
    host_port: int = 0
    worker_ports: list[int] = field(default_factory=list)
    worker_procs: list[subprocess.Popen[bytes] | None] = field(default_factory=list)
    mcp_ports: dict[str, tuple[int, list[int]]] = field(default_factory=dict)
    _server_procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _haproxy: subprocess.Popen[bytes] | None = None
    _dir: Path = Path(".")
    _base_env: dict[str, str] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """The balancer's host frontend, ``127.0.0.1:port`` (``ws://<address>/v1/ws``)."""
        return f"127.0.0.1:{self.host_port}"

    def mcp_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.mcp_ports[name][0]}/mcp"

    @property
    def stats_socket(self) -> Path:
        return self._dir / "haproxy.sock"

    async def start_servers(self) -> Cluster:
        """The MCP replicas and HAProxy (workers show as down until :meth:`start_workers`)."""
        from servers.kit.tokens import create_token

        settings = get_settings()
        self._dir = settings.ensure_home() / "cluster"
        self._dir.mkdir(parents=True, exist_ok=True)
        self.token, _ = await create_token(None, label="switchboard cluster", trusted=True)
        env = {k: v for k, v in os.environ.items() if k not in ("SWITCHBOARD_ORG", "SWITCHBOARD_CRASH_AT")}
        env.update(
            {
                "SWITCHBOARD_HOME": str(settings.home),
                "SWITCHBOARD_DATABASE_URL": settings.resolved_database_url,
                TOKEN_ENV: self.token,
                "ANONYMIZED_TELEMETRY": "False",
                "FASTMCP_SHOW_SERVER_BANNER": "false",
                "FASTMCP_LOG_LEVEL": "WARNING",
                **self.env,
            }
        )
        self._base_env = env
        self.host_port = free_port()
        self.worker_ports = [free_port() for _ in range(self.workers)]
        self.worker_procs = [None] * self.workers
        self.mcp_ports = {name: (free_port(), [free_port() for _ in range(self.replicas)]) for name in self.servers}
        try:
            waits = []
            for name, (_, ports) in self.mcp_ports.items():
                for i, port in enumerate(ports, 1):
                    log = self._dir / f"{name}{i}.log"
                    proc = self._spawn(["serve", name, "--transport", "http", "--port", str(port)], env, log)
                    self._server_procs.append(proc)
                    waits.append(_wait_listening(port, proc, name, log))
            await asyncio.gather(*waits)
            await self._start_haproxy()
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
        exe = str(Path(sys.executable).parent / "switchboard")
        with log.open("ab") as sink:
            return subprocess.Popen([exe, *args], env=env, stdout=sink, stderr=sink, stdin=subprocess.DEVNULL)

    async def _start_haproxy(self) -> None:
        config = self._dir / "haproxy.cfg"
        config.write_text(
            render_config(
                stats_socket=str(self.stats_socket),
                host_port=self.host_port,
                workers=self.worker_ports,
                mcp=self.mcp_ports,
                check_ms=self.check_ms,
            ),
            encoding="utf-8",
        )
        binary = haproxy_binary()
        checked = subprocess.run([binary, "-c", "-q", "-f", str(config)], capture_output=True, text=True)
        if checked.returncode != 0:
            raise unavailable(f"haproxy refused {config}: {checked.stderr.strip()[-600:]}")
        log = self._dir / "haproxy.log"
        with log.open("ab") as sink:
            self._haproxy = subprocess.Popen(
                [binary, "-db", "-f", str(config)], stdout=sink, stderr=sink, stdin=subprocess.DEVNULL
            )
        await _wait_listening(self.host_port, self._haproxy, "haproxy", log)

    async def start_workers(self, env: list[dict[str, str]] | None = None) -> None:
        """Start every worker (``env[i]`` adds to worker i's environment) and wait until HAProxy sees them up."""
        await asyncio.gather(*(self.start_worker(i, (env or [{}] * self.workers)[i]) for i in range(self.workers)))
        await self.wait_up(self.workers)

    async def start_worker(self, index: int, extra: dict[str, str] | None = None) -> None:
        """(Re)start worker ``index`` on its port and wait for its ``/healthz``."""
        port = self.worker_ports[index]
        args = ["host", "--port", str(port), "--org", self.org, *self.worker_args]
        proc = self._spawn(args, {**self._base_env, **(extra or {})}, self._dir / f"worker{index + 1}.log")
        self.worker_procs[index] = proc
        deadline = time.monotonic() + START_TIMEOUT_S
        while not await asyncio.to_thread(_healthy, f"http://127.0.0.1:{port}/healthz"):
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (self._dir / f"worker{index + 1}.log").read_text(errors="replace")[-1500:]
                raise unavailable(f"host worker {index + 1} did not become healthy (code {proc.poll()}): {tail}")
            await asyncio.sleep(0.2)

    def kill_worker(self, index: int) -> int:
        """``kill -9`` worker ``index``; returns its pid."""
        proc = self.worker_procs[index]
        assert proc is not None
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        return proc.pid

    def _runtime_api(self, command: str) -> str:
        """One command on HAProxy's runtime API (the stats socket)."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(5)
            sock.connect(str(self.stats_socket))
            sock.sendall(command.encode() + b"\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
        return data.decode()

    def set_in_rotation(self, index: int, serving: bool) -> None:
        """Put worker ``index`` in or out of rotation (maintenance) without stopping it."""
        state = "ready" if serving else "maint"
        self._runtime_api(f"set server host_workers/worker{index + 1} state {state}")

    def stats(self) -> dict[str, dict[str, str]]:
        """HAProxy's ``show stat`` for the host workers: server name → its row (status, scur, ...)."""
        lines = self._runtime_api("show stat").splitlines()
        header = lines[0].lstrip("# ").split(",")
        rows = [dict(zip(header, line.split(","), strict=False)) for line in lines[1:] if line]
        return {r["svname"]: r for r in rows if r.get("pxname") == "host_workers" and r["svname"].startswith("worker")}

    def holder(self) -> int:
        """The index of the worker holding the one open WebSocket (HAProxy's current sessions)."""
        busy = [int(name[6:]) - 1 for name, row in self.stats().items() if int(row.get("scur") or 0) > 0]
        if len(busy) != 1:
            raise AssertionError(f"expected one worker with an open connection, HAProxy shows {self.stats()}")
        return busy[0]

    async def wait_up(self, count: int, timeout_s: float = 30.0) -> None:
        """Until HAProxy counts exactly ``count`` workers UP."""
        deadline = time.monotonic() + timeout_s
        while True:
            up = [n for n, row in self.stats().items() if row.get("status", "").startswith("UP")]
            if len(up) == count:
                return
            if time.monotonic() > deadline:
                raise unavailable(f"HAProxy shows {len(up)} workers up, not {count}: {self.stats()}")
            await asyncio.sleep(0.1)

    def worker_pids(self) -> list[int]:
        return [p.pid for p in self.worker_procs if p is not None and p.poll() is None]

    def server_pids(self) -> list[int]:
        return [p.pid for p in self._server_procs if p.poll() is None]

    @property
    def haproxy_pid(self) -> int | None:
        return self._haproxy.pid if self._haproxy is not None else None

    def stop(self) -> None:
        procs = [p for p in self.worker_procs if p is not None] + self._server_procs
        if self._haproxy is not None:
            procs.append(self._haproxy)
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        self.worker_procs = [None] * self.workers
        self._server_procs.clear()
        self._haproxy = None


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


async def publish_agent(org: str, cluster: Cluster) -> Any:
    """Publish the cluster's MCP servers at their balancer URLs and freeze the demo agent on them."""
    from registry.demo import publish_and_approve_demo
    from registry.launch import LaunchSpec

    os.environ[TOKEN_ENV] = cluster.token  # the publisher captures the tools through the balancer too
    launches = {name: LaunchSpec.http(cluster.mcp_url(name), TOKEN_ENV) for name in cluster.servers}
    return await publish_and_approve_demo(org, list(cluster.servers), launches=launches)
