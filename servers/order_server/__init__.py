"""The order-lookup MCP server: a tenant's orders, payments, refunds and shipments.

Tools: ``get_order``, ``get_refund_status``, ``get_shipping_status``, ``find_orders``,
``find_refund_request``, ``verify_caller`` (read-only), ``request_refund`` (the one write,
idempotent per key, confirmed with the customer by the server itself) and ``confirm_refund``
(the second step for clients without elicitation). Serve it with
``switchboard serve orders --org <tenant>``.
"""

__version__ = "1.4.0"  # 1.4.0: output schemas in their compact equivalent form (servers/kit/schemas.py)
