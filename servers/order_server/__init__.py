"""The order-lookup MCP server: a tenant's orders, payments, refunds and shipments.

Tools: ``get_order``, ``get_refund_status``, ``get_shipping_status``, ``find_orders``,
``find_refund_request``, ``verify_caller`` (read-only), ``request_refund`` (the one write,
idempotent per key, confirmed with the customer by the server itself) and ``confirm_refund``
(the second step for clients without elicitation). Serve it with
``switchboard serve orders --org <tenant>``.
"""

__version__ = "1.3.0"
