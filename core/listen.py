"""Binding a TCP port before a ``serve`` command says anything: a busy port is one clean error.

Shared by ``switchboard serve NAME --transport http`` (servers/kit/serve.py) and
``switchboard registry serve``: the socket is bound and listening first, and handed to uvicorn
(``sockets=[sock]``), so ``--port 0`` takes a free port without a pick-then-bind race and the
URL printed is the one that answers.
"""

from __future__ import annotations

import errno
import socket

from core.errors import conflict, invalid


def listen_socket(host: str, port: int, *, host_option: str = "--host") -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening (connections wait in its backlog until
    uvicorn serves them), as uvicorn would bind it; a port in use is one CONFLICT naming the fix."""
    try:
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    except OSError as err:
        raise invalid(f"cannot listen on {host}:{port}: {err.strerror or err} (check {host_option})") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(2048)
    except (OSError, OverflowError) as err:
        sock.close()
        if isinstance(err, OSError) and err.errno == errno.EADDRINUSE:
            raise conflict(f"port {port} is in use: pick another with --port, or --port 0 for a free one") from None
        if isinstance(err, OSError) and err.errno == errno.EACCES:
            raise invalid(f"port {port} needs privileges to bind: pick one above 1023 with --port") from None
        reason = err.strerror if isinstance(err, OSError) and err.strerror else err
        raise invalid(f"cannot listen on {host}:{port}: {reason} (check {host_option} and --port)") from None
    sock.set_inheritable(True)
    return sock


def url_host(host: str) -> str:
    """The host part of a URL for a bind address: loopback for the wildcard, IPv6 in brackets."""
    if host in ("0.0.0.0", "", "::"):
        return "127.0.0.1" if host != "::" else "[::1]"
    return f"[{host}]" if ":" in host else host
