"""Ids as printed: a table may show the first 8 characters of an id, and every command takes them.

One rule for every CLI: the full id, or any prefix of at least :data:`MIN_PREFIX` characters that
names exactly one thing. A shorter prefix is refused (8 hex characters are unique in practice; 4 are
not), an ambiguous one lists the ids it matched so the user can copy the right one, and an unknown
one says where to look. The database does the matching (``LIKE 'prefix%'`` with the wildcards
escaped), so this works the same on SQLite and PostgreSQL and never loads a whole table.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

from core.errors import invalid, not_found

MIN_PREFIX = 8
SHOWN_MATCHES = 10


def short_id(value: str | None) -> str:
    """The form tables print: the first :data:`MIN_PREFIX` characters (every command accepts it)."""
    return (value or "")[:MIN_PREFIX]


_AROUND = " \t\n,.;:()[]{}<>'\"`#"
_HEX_ID = re.compile(r"[0-9A-Fa-f-]+")


def as_given(value: str) -> str:
    """An id as copied from a table or a sentence: the punctuation around it is not part of it
    ('c184ee84,', '(44ea015c)', '`ev_3f…`')."""
    return value.strip(_AROUND)


def pick(given: str, candidates: Iterable[str], *, what: str = "id", hint: str = "") -> str:
    """The one candidate equal to ``given`` or starting with it; a clear error otherwise.

    ``candidates`` are the ids that start with ``given`` (or any superset); exact matches win.
    """
    given = as_given(given)
    if not given:
        raise invalid(f"give the {what} (the full id or its first {MIN_PREFIX} characters)")
    matches = sorted({c for c in candidates if c.startswith(given)})
    if given in matches:
        return given
    if len(given) < MIN_PREFIX:
        raise invalid(
            f"{what} {given!r} is too short: give at least {MIN_PREFIX} characters (as the tables print it)"
            + (f"; {hint}" if hint else "")
        )
    if not matches:
        raise not_found(f"no {what} starting with {given!r}" + (f": {hint}" if hint else ""))
    if len(matches) > 1:
        shown = ", ".join(matches[:SHOWN_MATCHES]) + (" …" if len(matches) > SHOWN_MATCHES else "")
        raise invalid(
            f"{what} {given!r} is ambiguous: it matches {len(matches)} ids ({shown}); give more characters",
            matches=matches[:SHOWN_MATCHES],
        )
    return matches[0]


async def resolve_id(conn: AsyncConnection, given: str, *queries: Select[Any], what: str = "id", hint: str = "") -> str:
    """The full id that ``given`` names, looked up with each query (a SELECT of one id column).

    Each query carries its own filters (org, customer, ...), so a prefix never resolves to another
    tenant's row. Several queries are searched together (e.g. live memories and erased ones).
    """
    given = as_given(given)
    found = await _starting_with(conn, given, queries)
    if given != given.lower() and _HEX_ID.fullmatch(given) and not any(c.startswith(given) for c in found):
        # our ids are printed in lower case: 'E6D3F297' typed from a screenshot or a shouting log
        # names 'e6d3f297…' (an id stored in upper case, a legacy one, was tried as given first)
        given = given.lower()
        found = await _starting_with(conn, given, queries)
    return pick(given, found, what=what, hint=hint)


async def _starting_with(conn: AsyncConnection, given: str, queries: tuple[Select[Any], ...]) -> list[str]:
    found: list[str] = []
    if given:
        for query in queries:
            column = query.selected_columns[0]
            limited = query.where(column.startswith(given, autoescape=True)).limit(SHOWN_MATCHES + 1)
            found.extend(str(v) for v in (await conn.execute(limited)).scalars())
    return found
