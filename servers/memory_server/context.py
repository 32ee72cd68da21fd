"""Context links: a turn's vectors may read the turn before, so a change to that turn reaches them.

A verbatim turn that opens with a pronoun is embedded together with the turn before it
(``passage.py``; ``memory_item.context_id`` names that memory). When the turn before is deleted,
erased or its text is updated, the linked turns' vectors hold a text that is gone: they are
dropped in the same transaction (the turn is searched by keyword meanwhile) and the vector worker
computes them again from what is stored now. A delete also removes the link itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from servers.memory_server.generations import _in_scope
from servers.memory_server.index import ScopeIndex
from servers.memory_server.tables import memory_item, memory_vector


async def release_linked(
    conn: AsyncConnection,
    key: tuple[str, str],
    ids: Sequence[str],
    generation: int,
    *,
    unlink: bool,
) -> list[str]:
    """Drop the vectors of the memories whose context is one of ``ids`` (and their link when
    ``unlink``: the memories in ``ids`` are being removed); returns the released memories' ids."""
    gone = set(ids)
    linked: list[str] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = await conn.execute(select(memory_item.c.id).where(_in_scope(key), memory_item.c.context_id.in_(chunk)))
        linked.extend(r[0] for r in rows if r[0] not in gone)
    if not linked:
        return []
    values: dict[str, object] = {"vector_model": None, "change_seq": generation}
    if unlink:
        values["context_id"] = None
    for start in range(0, len(linked), 500):
        chunk = linked[start : start + 500]
        await conn.execute(update(memory_item).where(_in_scope(key), memory_item.c.id.in_(chunk)).values(**values))
        await conn.execute(delete(memory_vector).where(memory_vector.c.memory_id.in_(chunk)))
    return linked


def forget_vectors(index: ScopeIndex, ids: Sequence[str], *, unlink: bool) -> None:
    """Mirror :func:`release_linked` in a scope's cached index."""
    for memory_id in ids:
        doc = index.get(memory_id)
        if doc is not None:
            context_id = None if unlink else doc.context_id
            index.upsert(replace(doc, vector_model=None, context_id=context_id), None)
