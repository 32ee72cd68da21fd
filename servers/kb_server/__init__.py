"""The knowledge-base MCP server: per-tenant KBs, immutable versions, Korean hybrid search with citations."""

__version__ = "0.2.0"  # 0.2.0: output schemas in their compact equivalent form (servers/kit/schemas.py)
