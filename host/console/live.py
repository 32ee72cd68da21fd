"""The customer connections this process holds, so the console can reach a live session.

``host.app`` attaches each WebSocket connection here and detaches it when it closes; the
console finds a session's connection by id to deliver operator messages and to continue a
turn after an approval. In-process only: with several host workers, an operator reaches the
customers connected to the worker that serves the console request (the takeover itself is
kept in the database, so every worker pauses the bot).
"""

from __future__ import annotations

from typing import Any, Protocol


class Connection(Protocol):
    session_id: str | None
    conv: Any

    async def send(self, kind: str, payload: dict[str, Any]) -> None: ...


class LiveSessions:
    def __init__(self) -> None:
        self._connections: set[Connection] = set()

    def attach(self, connection: Connection) -> None:
        self._connections.add(connection)

    def detach(self, connection: Connection) -> None:
        self._connections.discard(connection)

    def find(self, session_id: str) -> Connection | None:
        """The open connection whose running conversation is ``session_id``."""
        for connection in list(self._connections):
            conv = connection.conv
            if conv is not None and conv.session_id == session_id and not conv.ended:
                return connection
        return None


LIVE = LiveSessions()
