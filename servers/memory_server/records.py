"""Plain result records of the memory service's writes, reads and erases."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from servers.memory_server.index import Doc


@dataclass(slots=True)
class AddOutcome:
    """What happened to one candidate."""

    id: str
    text: str
    event: str  # ADD | NONE | SUPERSEDE
    status: str
    duplicate_of: str | None = None
    superseded: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Page:
    items: list[Doc]
    next_cursor: str | None


@dataclass(slots=True)
class Removal:
    """Counts of what an erase removed."""

    memories: int = 0
    vectors: int = 0
    history_rows: int = 0
    statement_values: int = 0
    ids: list[str] = field(default_factory=list)
    wal_checkpointed: bool = True


@dataclass(slots=True)
class _Batch:
    """Rows of one add transaction, inserted together at its end."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    history: list[dict[str, Any]] = field(default_factory=list)
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)
