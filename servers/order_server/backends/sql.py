"""An existing SQL database as the order backend: one query per row set, returning named columns.

The queries are the shop's own SQL (any SQLAlchemy URL with an async driver: PostgreSQL through
asyncpg, SQLite through aiosqlite, ...). They take named parameters (``:order_id``) and alias their
columns to the order server's vocabulary (``SELECT o.id AS order_id``). The optional
``request_refund`` statement is the one write; it runs in its own transaction.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import TextClause, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from core.errors import unavailable
from core.pii import mask_text
from core.settings import normalise_database_url
from servers.order_server.backends.external import Cache, ExternalBackend, KeyTaken
from servers.order_server.backends.mapping import (
    SET_PARAMS,
    WRITE_SET,
    Mapping,
    check_sets,
    expand_env,
    mapping_error,
)

log = logging.getLogger(__name__)

PARAM_TYPES = {"int": int, "str": str}
# Driver messages that mean "try again later", not "the query is wrong" (SQLite reports both as OperationalError).
TRANSIENT = ("locked", "busy", "connect", "unable to open", "timeout", "timed out", "closed", "too many")


class SqlBackend(ExternalBackend):
    name = "sql"

    def __init__(self, mapping: Mapping) -> None:
        section = mapping.raw
        unknown = set(section) - {"url", "param_types", "queries"}
        if unknown:
            raise mapping_error(mapping.source, f"sql.{', sql.'.join(sorted(unknown))}", "unknown setting")
        queries = section.get("queries")
        if not isinstance(queries, dict) or not all(isinstance(q, str) and q.strip() for q in queries.values()):
            raise mapping_error(mapping.source, "sql.queries", "write one SQL query per row set, as a string")
        check_sets(mapping, set(queries))
        super().__init__(mapping, set(queries))
        self.types = self._types(section.get("param_types", {}))
        self.statements: dict[str, tuple[TextClause, tuple[str, ...]]] = {}
        for row_set, query in queries.items():
            statement = text(query)
            names = set(statement.compile().params)
            extra = names - SET_PARAMS[row_set]
            if extra:
                raise mapping_error(
                    mapping.source,
                    f"sql.queries.{row_set}",
                    f"unknown parameter :{', :'.join(sorted(extra))}; use :{', :'.join(sorted(SET_PARAMS[row_set]))}",
                )
            self.statements[row_set] = (statement, tuple(sorted(names)))
        url = section.get("url")
        if not isinstance(url, str) or not url:
            raise mapping_error(
                mapping.source, "sql.url", 'give the database as a SQLAlchemy URL: url = "postgresql://…"'
            )
        try:
            parsed = make_url(normalise_database_url(expand_env(mapping.source, "sql.url", url)))
        except ArgumentError:
            raise mapping_error(mapping.source, "sql.url", "not a SQLAlchemy URL (postgresql://user@host/db)") from None
        self.url = parsed
        self._engine: AsyncEngine | None = None

    def _types(self, declared: Any) -> dict[str, type]:
        if not isinstance(declared, dict) or not all(v in PARAM_TYPES for v in declared.values()):
            raise mapping_error(self.mapping.source, "sql.param_types", 'write e.g. param_types = { order_id = "int" }')
        return {name: PARAM_TYPES[kind] for name, kind in declared.items()}

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = create_async_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5)
        return self._engine

    def _bind(self, row_set: str, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        wanted = self.statements[row_set][1]
        for name in wanted:
            value = params.get(name)
            convert = self.types.get(name)
            out[name] = convert(value) if convert is not None and value is not None else value
        return out

    def _failed(self, row_set: str, exc: Exception) -> Exception:
        """UNAVAILABLE either way; the agent hears whether to retry, the log gets the database's words."""
        cause = getattr(exc, "orig", None) or exc  # the driver's message, without SQLAlchemy's parameter dump
        message = mask_text(f"{type(cause).__name__}: {cause}")
        words = message.lower()
        if (
            isinstance(exc, OSError)
            or getattr(exc, "connection_invalidated", False)
            or any(w in words for w in TRANSIENT)
        ):
            log.warning("order backend query %s: database unavailable: %s", row_set, message)
            return unavailable("the shop's order database is busy or unreachable: retry shortly")
        log.error("order backend query %s failed: %s", row_set, message)
        return unavailable(
            f"the shop's order database rejected the {row_set} query (details in the server log): "
            "check the mapping with `switchboard orders show`"
        )

    async def fetch(self, row_set: str, params: dict[str, Any], cache: Cache) -> list[dict[str, Any]]:
        try:
            async with self.engine.connect() as conn:
                result = await conn.execute(self.statements[row_set][0], self._bind(row_set, params))
                return [dict(r) for r in result.mappings()]
        except (DBAPIError, OSError) as exc:
            raise self._failed(row_set, exc) from exc

    async def write(self, params: dict[str, Any]) -> dict[str, Any] | None:
        try:
            async with self.engine.begin() as conn:
                result = await conn.execute(self.statements[WRITE_SET][0], self._bind(WRITE_SET, params))
                row = result.mappings().first() if result.returns_rows else None
                return dict(row) if row is not None else None
        except IntegrityError as exc:
            raise KeyTaken() from exc
        except (DBAPIError, OSError) as exc:
            raise self._failed(WRITE_SET, exc) from exc

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
