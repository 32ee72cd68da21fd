"""The memory server's MCP tools. Identity comes from the connection (``request_context``) only."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field

from core.errors import invalid
from servers.kit import request_context
from servers.memory_server import guard
from servers.memory_server.filters import IDENT_PATTERN, MemoryFilters, as_utc
from servers.memory_server.models import (
    AddedMemory,
    AddResult,
    DeleteAllResult,
    DeleteResult,
    HistoryEvent,
    HistoryResult,
    MemoryId,
    MemoryOut,
    MemoryPage,
    MessageIn,
    Metadata,
    SearchHit,
    SearchResult,
    StatementDefinitionOut,
    StatementKey,
    StatementSetResult,
    StatementsResult,
    StatementValueOut,
    Tombstone,
)
from servers.memory_server.scope import actor_of, resolve_scope

Ident = Annotated[str, Field(pattern=IDENT_PATTERN)]
AgentId = Annotated[
    Ident | None, Field(description="Narrow to one agent's memories; required on a connection without a customer.")
]
READ = {"readOnlyHint": True, "destructiveHint": False, "idempotentHint": True, "openWorldHint": False}
WRITE = {"readOnlyHint": False, "destructiveHint": False, "idempotentHint": False, "openWorldHint": False}
ERASE = {"readOnlyHint": False, "destructiveHint": True, "idempotentHint": False, "openWorldHint": False}


def _service() -> Any:
    from servers.memory_server.service import get_service

    return get_service()


async def _vector_status(service: Any, scope: Any) -> Any:
    from servers.memory_server.status import scope_vectors

    return scope_vectors(await service.index(scope.key), service.vectors)


def register(server: Any) -> None:
    """Add every memory and statement tool to ``server``."""

    @server.tool(annotations=WRITE)
    async def add_memory(
        text: Annotated[str | None, Field(max_length=8000, description="One fact or note to remember.")] = None,
        messages: Annotated[
            list[MessageIn] | None,
            Field(min_length=1, max_length=200, description="A conversation to learn from (instead of text)."),
        ] = None,
        metadata: Metadata | None = None,
        observed_at: Annotated[
            datetime | None, Field(description="When this was true/said (default now); for back-filling old logs.")
        ] = None,
        infer: Annotated[
            bool,
            Field(description="True: extract facts/preferences from messages; False: store each message verbatim."),
        ] = True,
        agent_id: AgentId = None,
        run_id: Annotated[Ident | None, Field(description="The run/session this memory came from.")] = None,
    ) -> AddResult:
        """Remember facts about the current customer. Fast and deterministic: exact and near duplicates are
        not stored twice, and a new fact about the same subject (address, contact time, plan...) supersedes
        the old one instead of competing with it. Pass `text` or `messages`, not both."""
        from servers.memory_server.extract import Message, extract_facts, from_text, injected, verbatim

        if (text is None) == (messages is None):
            raise invalid("pass exactly one of `text` or `messages`")
        scope = resolve_scope(request_context(), agent_id, run_id)
        metadata = guard.with_origin(metadata)  # memories carry their source: customer, host or model
        if text is not None:
            candidates = [from_text(text)]
        else:
            msgs = [
                Message(m.role, m.content, m.name, as_utc(m.timestamp) if m.timestamp else None, m.id)
                for m in messages or []
            ]
            candidates = extract_facts(msgs) if infer else verbatim(msgs)
        service = _service()
        model_review = False
        if not candidates:
            outcomes = []
        else:
            outcomes = await service.add(scope, candidates, observed_at=observed_at, metadata=metadata)
        if messages is not None and infer:
            from servers.memory_server.llm import schedule_review

            reviewed = [m for m in messages if not injected(m.role, m.content)]  # nothing of an injection either
            model_review = schedule_review(service, scope, reviewed, observed_at, metadata)
        return AddResult(
            results=[AddedMemory(**asdict(o)) for o in outcomes],
            extracted=len(candidates),
            vectors_pending=service.vectors and any(o.event != "NONE" for o in outcomes),
            vectors=await _vector_status(service, scope),
            model_review=model_review,
        )

    @server.tool(annotations=READ)
    async def search_memories(
        query: Annotated[str, Field(min_length=1, max_length=1000)],
        top_k: Annotated[int, Field(ge=1, le=50)] = 5,
        filters: MemoryFilters | None = None,
        include_superseded: Annotated[bool, Field(description="Also return facts that were replaced.")] = False,
        as_of: Annotated[
            datetime | None,
            Field(description="What was known to be true at this time (includes later-superseded facts)."),
        ] = None,
        recency_weight: Annotated[
            float, Field(ge=0.0, le=1.0, description="0 = relevance only; higher favours recently observed memories.")
        ] = 0.0,
        mode: Literal["hybrid", "lexical", "dense"] = "hybrid",
    ) -> SearchResult:
        """Search the current customer's memories (Korean-aware lexical + dense hybrid).
        Superseded facts are left out unless include_superseded or as_of asks for them."""
        from servers.memory_server.ranking import RankOptions

        agent_id = filters.agent_id if filters else None
        scope = resolve_scope(request_context(), agent_id, filters.run_id if filters else None)
        opts = RankOptions(
            top_k=top_k,
            filters=filters,
            include_superseded=include_superseded,
            as_of=as_utc(as_of).timestamp() if as_of else None,
            recency_weight=recency_weight,
            mode=mode,
        )
        service = _service()
        hits = await service.search(scope, query, opts)
        return SearchResult(
            query=query,
            results=[SearchHit(**MemoryOut.of(h.doc).model_dump(), score=h.score) for h in hits],
            vectors=await _vector_status(service, scope),
        )

    @server.tool(annotations=READ)
    async def list_memories(
        cursor: Annotated[str | None, Field(max_length=500, description="next_cursor of the previous page.")] = None,
        limit: Annotated[int, Field(ge=1, le=100)] = 20,
        filters: MemoryFilters | None = None,
        include_superseded: bool = False,
        order: Literal["newest", "oldest"] = "newest",
    ) -> MemoryPage:
        """List the current customer's memories by observation time, one page at a time."""
        scope = resolve_scope(
            request_context(), filters.agent_id if filters else None, filters.run_id if filters else None
        )
        page = await _service().list(
            scope, filters, limit=limit, cursor=cursor, include_superseded=include_superseded, order=order
        )
        return MemoryPage(items=[MemoryOut.of(d) for d in page.items], next_cursor=page.next_cursor)

    @server.tool(annotations=READ)
    async def get_memory(id: MemoryId, agent_id: AgentId = None) -> MemoryOut:
        """One memory of the current customer by id."""
        scope = resolve_scope(request_context(), agent_id)
        return MemoryOut.of(await _service().get(scope, id))

    @server.tool(annotations=WRITE)
    async def update_memory(
        id: MemoryId,
        text: Annotated[str, Field(min_length=1, max_length=8000)],
        agent_id: AgentId = None,
    ) -> MemoryOut:
        """Correct a memory's text; the history keeps the old and the new text."""
        scope = resolve_scope(request_context(), agent_id)
        return MemoryOut.of(await _service().update(scope, id, text))

    @server.tool(annotations=ERASE)
    async def delete_memory(id: MemoryId, agent_id: AgentId = None) -> DeleteResult:
        """Erase a memory everywhere (row, vector, search index, history text). Only a tombstone
        with a hash, the time and who deleted it remains."""
        scope = resolve_scope(request_context(), agent_id)
        result = await _service().delete(scope, id)
        return DeleteResult(id=id, erased=Tombstone(**result["tombstone"]), wal_checkpointed=result["wal_checkpointed"])

    @server.tool(annotations=ERASE)
    async def delete_all_memories(
        confirm: Annotated[bool, Field(description="Must be true: erases every memory of this customer.")],
        agent_id: AgentId = None,
        run_id: Annotated[Ident | None, Field(description="Only this run's memories.")] = None,
    ) -> DeleteAllResult:
        """Erase all of the current customer's memories (narrowed by agent_id/run_id when given)."""
        if confirm is not True:
            raise invalid("confirm must be true to erase memories")
        scope = resolve_scope(request_context(), agent_id, run_id)
        removal = await _service().delete_all(scope)
        return DeleteAllResult(
            deleted=removal.memories,
            vectors=removal.vectors,
            history_rows=removal.history_rows,
            wal_checkpointed=removal.wal_checkpointed,
        )

    @server.tool(annotations=READ)
    async def memory_history(id: MemoryId, agent_id: AgentId = None) -> HistoryResult:
        """How a memory came to be: ADD, UPDATE (old and new text), SUPERSEDED; or its erase tombstone."""
        scope = resolve_scope(request_context(), agent_id)
        events, tomb = await _service().history(scope, id)
        return HistoryResult(
            memory_id=id,
            events=[
                HistoryEvent(
                    event=e["event"],
                    old_text=e["old_text"],
                    new_text=e["new_text"],
                    actor=e["actor"],
                    at=_aware(e["at"]),
                    details=e["details"] or {},
                )
                for e in events
            ],
            erased=Tombstone(
                memory_id=tomb["memory_id"],
                content_hash=tomb["content_hash"],
                deleted_at=_aware(tomb["deleted_at"]),
                deleted_by=tomb["deleted_by"],
            )
            if tomb
            else None,
        )

    @server.tool(annotations=WRITE)
    async def define_statement(
        key: StatementKey,
        description: Annotated[str, Field(min_length=1, max_length=2000)],
        data_type: Annotated[dict[str, Any], Field(description='A JSON Schema (2020-12), e.g. {"type": "string"}.')],
        data_source: Annotated[str, Field(pattern=r"^[A-Za-z0-9_. -]{1,64}$", description="e.g. conversation, crm")],
        update_frequency: Annotated[
            str, Field(pattern=r"^[A-Za-z0-9_. -]{1,64}$", description="e.g. realtime, per_session, daily, static")
        ],
        scope: Literal["ALL", "SESSION_TYPE", "USER", "GROUP", "SESSION"],
    ) -> StatementDefinitionOut:
        """Define a typed statement key (org configuration). A changed definition becomes a new version."""
        from servers.memory_server.statements import define

        out = await define(
            _caller(),
            key=key,
            description=description,
            data_type=data_type,
            data_source=data_source,
            update_frequency=update_frequency,
            scope=scope,
        )
        return StatementDefinitionOut(**out)

    @server.tool(annotations=WRITE)
    async def set_statement(
        key: StatementKey,
        value: Annotated[Any, Field(description="Must match the key's data_type.")],
        session_id: Annotated[
            Ident | None, Field(description="For SESSION statements (default: this session).")
        ] = None,
        session_type: Annotated[Ident | None, Field(description="For SESSION_TYPE statements.")] = None,
        group_id: Annotated[Ident | None, Field(description="For GROUP statements.")] = None,
    ) -> StatementSetResult:
        """Set a statement's value, validated against its definition. USER/SESSION values belong to the
        current customer; ALL/SESSION_TYPE/GROUP values are org-wide and need an org-level connection."""
        from servers.memory_server.statements import set_value

        out = await set_value(
            _caller(), key=key, value=value, session_id=session_id, session_type=session_type, group_id=group_id
        )
        return StatementSetResult(**out)

    @server.tool(annotations=READ)
    async def get_statements(
        keys: Annotated[list[StatementKey] | None, Field(min_length=1, max_length=200)] = None,
        session_id: Annotated[
            Ident | None, Field(description="For SESSION statements (default: this session).")
        ] = None,
        session_type: Ident | None = None,
        group_id: Ident | None = None,
        include_history: bool = False,
    ) -> StatementsResult:
        """Current values of statement keys (all keys when omitted) for the current customer and scope ids."""
        from servers.memory_server.statements import get_values

        out = await get_values(
            _caller(),
            keys=keys,
            session_id=session_id,
            session_type=session_type,
            group_id=group_id,
            include_history=include_history,
        )
        return StatementsResult(statements=[StatementValueOut(**e) for e in out])


def _caller() -> Any:
    from servers.memory_server.statements import Caller

    ctx = request_context()
    return Caller(ctx.org_id, ctx.customer_ref, ctx.session_id, actor_of(ctx))


def _aware(value: datetime) -> datetime:
    from servers.memory_server.index import aware

    return aware(value)  # type: ignore[return-value]
