"""``build_server``: the memory server as ``switchboard serve memory`` and the host run it."""

from __future__ import annotations

from typing import Any

from servers.memory_server import __version__

INSTRUCTIONS = (
    "Long-term memory about the current customer (and typed statements). The customer comes from the "
    "connection, never from arguments; filters can only narrow. search_memories before answering questions "
    "about the customer's preferences or history; add_memory with the conversation (messages) or one fact "
    "(text) after learning something new: duplicates are ignored and a changed fact (address, contact time, "
    "plan...) supersedes the old one automatically. Superseded facts are hidden unless include_superseded "
    "or as_of is given. delete_memory / delete_all_memories erase text for good. Statements are typed values "
    "(JSON Schema) per scope: get_statements / set_statement. Errors carry a stable code: INVALID_ARGUMENT, "
    "NOT_FOUND, FORBIDDEN, CONFLICT, UNAVAILABLE."
)


def build_server(launch: Any = None, hooks: Any = None, http_auth: bool = False) -> Any:
    """The memory server (``switchboard-memory``) with the kit's identity, validation and hooks."""
    from servers.kit import build_server as kit_build_server
    from servers.kit.schemas import compact_tool_schemas
    from servers.memory_server.lifecycle import memory_lifespan
    from servers.memory_server.tools import register

    server = kit_build_server(
        "memory",
        __version__,
        instructions=INSTRUCTIONS,
        launch=launch,
        hooks=hooks,
        http_auth=http_auth,
        lifespan=memory_lifespan,
    )
    register(server)
    compact_tool_schemas(server)
    return server
