"""Identifier formats of the order server (no SQLAlchemy here: the tools' contract imports this at start)."""

from __future__ import annotations

ORDER_ID_PATTERN = r"^[1-9][0-9]{3,19}$"  # 4-20 digits, no leading zero: "8841"
