"""Where the order server's data comes from, chosen in config.

``SWITCHBOARD_ORDERS_BACKEND`` unset (or ``tables``): Switchboard's own tables, filled by
``switchboard orders seed`` / ``import``. Set to a mapping file (TOML, docs/orders.md): the shop's
existing SQL database (``kind = "sql"``) or REST API (``kind = "rest"``). The file is read and
checked once per process, when the server starts; the tools are the same over every backend.
"""

from __future__ import annotations

import os
from pathlib import Path

from servers.order_server.backends.base import OrderBackend, OrderData, Row

ENV = "SWITCHBOARD_ORDERS_BACKEND"

_current: tuple[str, OrderBackend] | None = None


def configured() -> str:
    """The configured backend: ``tables`` or the mapping file's path."""
    return os.environ.get(ENV, "").strip() or "tables"


def open_backend(setting: str) -> OrderBackend:
    """Build the backend for ``setting`` (``tables`` or a mapping file), checking the mapping."""
    from servers.order_server.backends.tables import TablesBackend  # SQLAlchemy: on first use only

    if setting == "tables":
        return TablesBackend()
    from servers.order_server.backends.mapping import read_mapping

    mapping = read_mapping(Path(setting))
    if mapping.kind == "sql":
        from servers.order_server.backends.sql import SqlBackend

        return SqlBackend(mapping)
    if mapping.kind == "rest":
        from servers.order_server.backends.rest import RestBackend

        return RestBackend(mapping)
    return TablesBackend()


def get_backend() -> OrderBackend:
    """The process's backend for the current setting (opened on first use)."""
    global _current
    setting = configured()
    if _current is None or _current[0] != setting:
        _current = (setting, open_backend(setting))
    return _current[1]


async def close_backend() -> None:
    """Close the backend's connections (server shutdown, tests)."""
    global _current
    if _current is not None:
        backend, _current = _current[1], None
        await backend.close()


__all__ = ["ENV", "OrderBackend", "OrderData", "Row", "close_backend", "configured", "get_backend", "open_backend"]
