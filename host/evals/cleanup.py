"""Removing eval tenants: every ``eval-*`` org's rows, vectors and index files; the report stays.

Each scenario of ``switchboard eval run`` runs in a fresh org (:func:`host.evals.tenant.fresh_org`)
seeded with the demo shop, the KB, the scenario's memories and a clone of the agent, and the
conversation is recorded there like a real one. A pack may be built from real conversations, so
the tenant is removed as soon as its scenario is graded; the run's report (transcripts, checks)
is what is kept. A run that crashed or was killed leaves its tenants behind: the next ``eval
run`` removes them before it starts, and ``switchboard eval prune`` does it on demand.

A tenant in use holds an exclusive ``flock`` on ``SWITCHBOARD_HOME/evals/live/<org>.lock`` for as
long as its scenario runs, so a run (or a prune) never removes another live run's tenant; a lock
dies with its process, so a crashed run's tenants are free to remove. (Several hosts sharing one
PostgreSQL store do not see each other's locks: prune there only when no run is going on.)

What is removed for an org: every row of every table with an ``org_id`` (orders, KBs and their
chunks, memories, conversations with their turns and events, review items, operators, tokens),
on SQLite with ``secure_delete=ON`` and the WAL truncated after; the org's Chroma collections (KB
whole and sentence vectors) and the folders Chroma leaves behind; its KB index folders under
``kb-index/``. Kept (:data:`KEPT_TABLES`): the audit log (append-only and hash-chained: an eval
tenant's records, personal data masked, stay until ``switchboard audit prune``), the registry's
clone of the agent (an approved version is immutable; it holds the source's prompt and pins, no
conversation data) and the report.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Table, delete, select

from core.settings import get_settings

PREFIX = "eval-"
# The audit log (append-only, hash-chained) and the registry (an approved agent version and its
# bindings are immutable, enforced by triggers; the clone holds the source's prompt and pins, no
# conversation data) are not touched; neither are eval results (reports, under the source org).
KEPT_TABLES = frozenset(
    {
        "audit_event",
        "audit_chain_head",
        "audit_value_hmac",
        "audit_prune",
        "agent",
        "agent_version",
        "agent_version_kb",
        "agent_version_tool",
        "agent_eval_gate",
        "agent_eval_result",
    }
)
_PRAGMAS = ("secure_delete=ON",)


@dataclass(slots=True)
class PruneResult:
    removed: list[str] = field(default_factory=list)  # orgs removed
    live: list[str] = field(default_factory=list)  # in use by a running eval: left alone
    rows: int = 0
    collections: int = 0
    index_dirs: int = 0
    wal_checkpointed: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _lock_path(org_id: str) -> Path:
    return get_settings().home / "evals" / "live" / f"{org_id}.lock"


@contextlib.contextmanager
def tenant_lock(org_id: str) -> Iterator[None]:
    """Hold ``org_id`` as live (see the module doc) for the ``with`` block."""
    path = _lock_path(org_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                path.unlink()
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_live(org_id: str) -> bool:
    """True while a running eval holds ``org_id``."""
    path = _lock_path(org_id)
    if not path.exists():
        return False
    try:
        with open(path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    with contextlib.suppress(OSError):
        path.unlink()  # a crashed run's lock file
    return False


def _tables() -> list[Table]:
    """Every table of the store, children before parents."""
    import audit.schema  # noqa: F401  (registers the tables in the shared metadata)
    import host.clustertables
    import host.console.tables
    import host.records  # noqa: F401
    import registry.gate
    import registry.tables  # noqa: F401
    import servers.kb_server.models
    import servers.kit.tokens
    import servers.memory_server.tables
    import servers.order_server.tables  # noqa: F401
    from core.db import metadata

    return list(reversed(metadata.sorted_tables))


async def eval_orgs() -> list[str]:
    """Every ``eval-*`` org with rows in the store."""
    from core.db import get_engine

    engine = await get_engine()
    found: set[str] = set()
    async with engine.connect() as conn:
        for table in _tables():
            if "org_id" not in table.c or table.name in KEPT_TABLES:
                continue
            # a range, not LIKE: it uses the org_id indexes ("eval." follows every "eval-…")
            of_evals = (table.c.org_id >= PREFIX) & (table.c.org_id < PREFIX[:-1] + ".")
            query = select(table.c.org_id).where(of_evals).distinct()
            found.update(r[0] for r in await conn.execute(query))
    return sorted(found)


async def remove_tenant(org_id: str, *, vectors: bool = True) -> PruneResult:
    """Remove everything of the eval org ``org_id`` but its audit records (see the module doc).

    ``vectors=False`` leaves its Chroma collections for :func:`drop_collections` (a run drops them
    once its KB server, which has them open, has stopped)."""
    from core.db import checkpoint_wal, get_pooled_engine, write_transaction
    from servers.kb_server.models import knowledge_base

    if not org_id.startswith(PREFIX):
        raise ValueError(f"not an eval tenant: {org_id!r}")
    out = PruneResult(removed=[org_id])
    tables = _tables()
    engine = await get_pooled_engine(pool_size=1, max_overflow=2, extra_pragmas=_PRAGMAS)
    async with write_transaction(engine, immediate=True) as conn:
        of_org = select(knowledge_base.c.id).where(knowledge_base.c.org_id == org_id)
        kb_ids = list((await conn.execute(of_org)).scalars())
        for table in tables:
            if "org_id" in table.c and table.name not in KEPT_TABLES:
                out.rows += (await conn.execute(delete(table).where(table.c.org_id == org_id))).rowcount or 0
    out.wal_checkpointed = await checkpoint_wal(engine)
    if vectors:
        out.collections = drop_collections({org_id})
    for kb_id in kb_ids:
        target = get_settings().home / "kb-index" / kb_id
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
            out.index_dirs += 1
    return out


def drop_collections(orgs: set[str] | None = None) -> int:
    """Delete the Chroma collections of ``orgs`` (their metadata names the org), or of every eval
    org no running eval holds; none when Chroma was never opened in this store."""
    settings = get_settings()
    if not settings.chroma_url and not (settings.home / "chroma").exists():
        return 0
    from servers.retrieval.chroma import get_client

    client = get_client()
    dropped = 0
    for item in client.list_collections():
        name = item if isinstance(item, str) else item.name
        try:
            collection = client.get_collection(name=name)
        except Exception:
            continue
        owner = str((collection.metadata or {}).get("org_id") or "")
        wanted = owner in orgs if orgs is not None else owner.startswith(PREFIX) and not is_live(owner)
        if wanted:
            client.delete_collection(name=name)
            dropped += 1
    from servers.kb_server.purge import remove_orphan_segments

    remove_orphan_segments()  # Chroma leaves a dropped collection's files behind
    return dropped


async def prune_tenants() -> PruneResult:
    """Remove every eval tenant no running eval holds (a crashed run's, a kept one's)."""
    total = PruneResult()
    for org_id in await eval_orgs():
        if is_live(org_id):
            total.live.append(org_id)
            continue
        one = await remove_tenant(org_id, vectors=False)
        total.removed.append(org_id)
        total.rows += one.rows
        total.collections += one.collections
        total.index_dirs += one.index_dirs
        total.wal_checkpointed = total.wal_checkpointed and one.wal_checkpointed
    total.collections = drop_collections()  # also those whose rows an earlier run already removed
    return total


def keep_tenants() -> bool:
    """``SWITCHBOARD_EVAL_KEEP_TENANTS=1``: leave tenants in place to inspect (``eval prune`` later)."""
    return os.environ.get("SWITCHBOARD_EVAL_KEEP_TENANTS", "") in {"1", "true", "yes"}


class RunTenants:
    """The tenants of one run: held live while it runs, removed when it ends (see the module doc)."""

    def __init__(self, *, keep: bool = False) -> None:
        self.keep = keep or keep_tenants()
        self._locks = contextlib.ExitStack()
        self.orgs: list[str] = []

    def hold(self, org_id: str) -> None:
        self._locks.enter_context(tenant_lock(org_id))
        self.orgs.append(org_id)

    async def finish(self) -> dict[str, Any]:
        """Remove the run's tenants (unless kept); what the report says about them."""
        try:
            if self.keep:
                note = "kept: remove them with `switchboard eval prune`"
                return {"removed": 0, "kept": list(self.orgs), "note": note}
            total = PruneResult()
            for org_id in self.orgs:
                one = await remove_tenant(org_id, vectors=False)
                total.rows += one.rows
                total.wal_checkpointed = total.wal_checkpointed and one.wal_checkpointed
            total.collections = drop_collections(set(self.orgs)) if self.orgs else 0
            return {"removed": len(self.orgs), "kept": [], "rows": total.rows, "collections": total.collections}
        finally:
            self._locks.close()
