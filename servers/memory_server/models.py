"""Tool argument and result models of the memory server (their JSON Schemas are the tool contract)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from servers.memory_server.filters import IDENT_PATTERN, META_KEY_PATTERN, Scalar

if TYPE_CHECKING:  # the index pulls in numpy: not needed to describe the tools (fast tools/list)
    from servers.memory_server.index import Doc

MemoryId = Annotated[str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
OptIdent = Annotated[str | None, Field(pattern=IDENT_PATTERN)]
Metadata = Annotated[
    dict[Annotated[str, Field(pattern=META_KEY_PATTERN)], Scalar], Field(max_length=20, description="Scalar values.")
]
StatementKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.-]{0,127}$")]


class MessageIn(BaseModel):
    """One conversation message."""

    model_config = ConfigDict(extra="forbid")
    role: Annotated[str, Field(pattern=r"^[a-z_]{1,20}$", description="user/customer, assistant/agent, system...")]
    content: Annotated[str, Field(max_length=8000)]
    name: Annotated[str | None, Field(max_length=64, description="Speaker name, if known.")] = None
    timestamp: datetime | None = Field(None, description="When it was said (back-filled logs keep their real times).")
    id: Annotated[str | None, Field(max_length=128, description="Your id for the message (kept in metadata).")] = None


class MemoryOut(BaseModel):
    """A memory. ``status`` is active, or superseded (a newer memory about the same subject replaced it)."""

    id: str
    text: str
    kind: str
    categories: list[str]
    metadata: dict[str, Any]
    agent_id: str | None
    run_id: str | None
    subject: str | None = Field(description="What single-valued subject the memory states, e.g. address.")
    status: Literal["active", "superseded"]
    observed_at: datetime
    created_at: datetime
    updated_at: datetime
    valid_to: datetime | None
    superseded_by: str | None
    has_vector: bool
    source_message_id: str | None = Field(
        default=None,
        description="The conversation message this memory came from (add_memory messages[].id); "
        "null for memories given as text or messages without ids.",
    )
    speaker: str | None = Field(default=None, description="Who said it (add_memory messages[].name), if given.")

    @classmethod
    def of(cls, doc: Doc) -> MemoryOut:
        return cls(
            id=doc.id,
            text=doc.text,
            kind=doc.kind,
            categories=doc.categories,
            metadata=doc.meta,
            agent_id=doc.agent_id,
            run_id=doc.run_id,
            subject=doc.slot.lstrip("~") if doc.slot else None,
            status=doc.status,  # type: ignore[arg-type]
            observed_at=doc.observed_at,
            created_at=doc.created_at,
            updated_at=doc.updated_at,
            valid_to=doc.valid_to,
            superseded_by=doc.superseded_by,
            has_vector=doc.vector_model is not None,
            source_message_id=_str_or_none(doc.meta.get("message_id")),
            speaker=_str_or_none(doc.meta.get("speaker")),
        )


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


class VectorStatus(BaseModel):
    """Dense vectors of this customer's memories (computed in the background after add_memory)."""

    enabled: bool = Field(description="False when the server runs lexical-only (SWITCHBOARD_MEMORY_VECTORS=off).")
    done: int = Field(description="Memories that have a vector.")
    pending: int = Field(description="Memories still waiting for one (always 0 when vectors are off).")


class AddedMemory(BaseModel):
    id: str
    text: str
    event: Literal["ADD", "NONE", "SUPERSEDE"] = Field(
        description="ADD: stored; NONE: already known (id is the existing memory); "
        "SUPERSEDE: stored and replaced older ones."
    )
    status: Literal["active", "superseded"]
    duplicate_of: str | None = None
    superseded: list[str] = Field(default_factory=list, description="Memories this one replaced.")


class AddResult(BaseModel):
    results: list[AddedMemory]
    extracted: int = Field(description="How many memory candidates the input produced.")
    vectors_pending: bool = Field(description="Dense vectors are computed in the background; lexical search works now.")
    vectors: VectorStatus | None = Field(default=None, description="This customer's vector counts after the add.")
    model_review: bool = Field(description="A configured model will review the input asynchronously.")


class SearchHit(MemoryOut):
    score: float


class SearchResult(BaseModel):
    query: str
    results: list[SearchHit]
    vectors: VectorStatus | None = Field(
        default=None, description="Memories with and without vectors: pending ones are found by keyword only."
    )


class MemoryPage(BaseModel):
    items: list[MemoryOut]
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last page.")


class HistoryEvent(BaseModel):
    event: str
    old_text: str | None
    new_text: str | None
    actor: str
    at: datetime
    details: dict[str, Any]


class Tombstone(BaseModel):
    memory_id: str
    content_hash: str = Field(description="sha256(memory_id + newline + text): verifiable, reveals nothing.")
    deleted_at: datetime
    deleted_by: str


class HistoryResult(BaseModel):
    memory_id: str
    events: list[HistoryEvent]
    erased: Tombstone | None = Field(description="Set when the memory was erased: only this tombstone remains.")


class DeleteResult(BaseModel):
    id: str
    erased: Tombstone
    wal_checkpointed: bool


class DeleteAllResult(BaseModel):
    deleted: int
    vectors: int
    history_rows: int
    wal_checkpointed: bool


class StatementDefinitionOut(BaseModel):
    key: str
    version: int
    description: str
    data_type: dict[str, Any]
    data_source: str
    update_frequency: str
    scope: str
    definition_sha256: str
    created_at: datetime
    created_by: str
    changed: bool = Field(description="False when the definition equals the latest version (no new version).")


class StatementSetResult(BaseModel):
    key: str
    scope: str
    scope_id: str | None
    value: Any
    definition_version: int
    set_at: datetime
    set_by: str


class StatementValueOut(BaseModel):
    key: str
    defined: bool
    scope: str | None = None
    definition_version: int | None = None
    data_type: dict[str, Any] | None = None
    value: Any = None
    value_definition_version: int | None = None
    valid_under_current: bool | None = None
    set_at: datetime | None = None
    set_by: str | None = None
    unavailable: str | None = None
    history: list[dict[str, Any]] | None = None


class StatementsResult(BaseModel):
    statements: list[StatementValueOut]
