"""The order-lookup MCP server: a tenant's orders, payments, refunds and shipments.

Tools: ``get_order``, ``get_refund_status``, ``get_shipping_status``, ``find_orders``,
``find_refund_request``, ``verify_caller`` (read-only) and ``request_refund`` (the one write,
idempotent per key). Serve it with ``switchboard serve orders --org <tenant>``.
"""

__version__ = "1.1.0"
