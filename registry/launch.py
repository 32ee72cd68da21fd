"""How a server version is started or reached: the launch spec stored with each version.

stdio: ``{"transport": "stdio", "command": ..., "args": [...], "cwd": ...}`` — the host spawns
``command args`` in ``cwd`` with an explicit environment (never the registry's secrets).
http: ``{"transport": "http", "url": ..., "token_ref": ...}`` — ``token_ref`` names the
environment variable that holds the bearer token; the token itself is never stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from core.errors import invalid

TOKEN_REF = re.compile(r"^[A-Z_][A-Z0-9_]{0,127}\Z")


@dataclass(frozen=True, slots=True)
class LaunchSpec:
    """A stdio command line or an HTTP endpoint."""

    transport: Literal["stdio", "http"]
    command: str | None = None
    args: tuple[str, ...] = ()
    cwd: str | None = None
    url: str | None = None
    token_ref: str | None = None

    @classmethod
    def stdio(cls, command_line: Sequence[str], cwd: str | None = None) -> LaunchSpec:
        """From ``command arg…`` as given after ``--`` on the command line."""
        if not command_line or not str(command_line[0]).strip():
            raise invalid("give the server's launch command after `--`, e.g. -- switchboard serve orders")
        parts = [str(p) for p in command_line]
        if any("\x00" in p or len(p) > 4096 for p in parts) or len(parts) > 256:
            raise invalid("the launch command has an invalid or oversized argument")
        return cls("stdio", command=parts[0], args=tuple(parts[1:]), cwd=cwd)

    @classmethod
    def http(cls, url: str, token_ref: str | None = None) -> LaunchSpec:
        """A Streamable HTTP endpoint; credentials never go in the URL."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise invalid(f"--url must be an http(s) URL such as http://127.0.0.1:8765/mcp, not {url!r}")
        if parts.username or parts.password:
            raise invalid(
                "--url must not contain credentials: pass the token with --token and name it with --token-ref"
            )
        if token_ref is not None and not TOKEN_REF.match(token_ref):
            raise invalid("--token-ref must be an environment variable name such as SB_ORDERS_TOKEN")
        return cls("http", url=url, token_ref=token_ref)

    def to_dict(self) -> dict[str, Any]:
        if self.transport == "stdio":
            return {"transport": "stdio", "command": self.command, "args": list(self.args), "cwd": self.cwd}
        return {"transport": "http", "url": self.url, "token_ref": self.token_ref}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LaunchSpec:
        if data.get("transport") == "http":
            return cls("http", url=data["url"], token_ref=data.get("token_ref"))
        return cls("stdio", command=data["command"], args=tuple(data.get("args") or ()), cwd=data.get("cwd"))

    def describe(self) -> str:
        """One line for people: the command line or the URL."""
        if self.transport == "http":
            return f"{self.url}" + (f" (token from ${self.token_ref})" if self.token_ref else "")
        return " ".join([self.command or "", *self.args])
