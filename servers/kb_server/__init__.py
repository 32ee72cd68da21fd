"""The knowledge-base MCP server: per-tenant KBs, immutable versions, Korean hybrid search with citations."""

__version__ = "0.1.0"
