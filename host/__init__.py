"""The host agent: pinned MCP connections, the audited tool gateway, the conversation engine,
model providers, conversation records and the WebSocket app.

The host talks to servers only over MCP and shows the model only the registry's pinned tool
definitions. Every tool call passes through :mod:`host.gateway`.
"""

HOST_NAME = "switchboard-host"
HOST_VERSION = "0.1.0"
