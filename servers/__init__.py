"""Switchboard's MCP servers and the kit they are built with."""
