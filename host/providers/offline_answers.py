"""What the offline planner says about what the servers returned: records, amounts, citations.

The sentences built here only name what a server returned (status, amount, carrier, items), never
the customer's or a model's words (see :mod:`host.providers.offline`).
"""

from __future__ import annotations

from typing import Any

from core.clock import korea_date
from host.providers.base import ToolCallRequest, ToolResult
from host.providers.offline_texts import FIELD_LABELS, STATUS_KO, say

RECORD_CAPABILITIES = ("refund_status", "refund_request", "shipping", "order_lookup")
ORDER_ARG_NAMES = ("order_id", "order_number", "order_no", "orderId", "order")


def _status_text(value: Any, lang: str) -> str:
    text = str(value)
    if lang == "ko":
        return STATUS_KO.get(text.lower(), text)
    return text.replace("_", " ")


def _money(value: Any, currency: str | None, lang: str) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if lang == "ko" and (currency in (None, "KRW", "krw")):
            return f"{int(value):,}원"
        return f"{value:,} {currency or ''}".strip()
    return str(value)


def describe_record(data: Any, lang: str) -> str:
    """One line describing an order / refund / shipment result."""
    if not isinstance(data, dict):
        return str(data)
    record = data
    for key in ("refund", "order", "shipment", "shipping", "result"):
        if isinstance(data.get(key), dict):
            record = {**{k: v for k, v in data.items() if not isinstance(v, (dict, list))}, **data[key]}
            break
    currency = record.get("currency") or ("KRW" if any(str(k).endswith("_krw") for k in record) else None)
    parts: list[str] = []
    for key, (ko, en) in FIELD_LABELS.items():
        if key not in record or record[key] in (None, ""):
            continue
        value = record[key]
        if lang == "ko" and isinstance(record.get(f"{key}_label"), str):
            shown = record[f"{key}_label"]
        elif key.endswith(("status", "state")):
            shown = _status_text(value, lang)
        elif "amount" in key or key.startswith("total"):
            shown = _money(value, currency, lang)
        else:
            shown = korea_date(value) if key.endswith(("_at", "_date")) else str(value)  # a day in Korea time
        parts.append(f"{ko} {shown}" if lang == "ko" else f"{en}: {shown}")
    return ", ".join(parts)


def items_summary(data: Any, lang: str) -> str:
    """'무선 블루투스 이어폰 외 1건' from an order's items."""
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items or not isinstance(items[0], dict):
        return ""
    first = str(items[0].get("name") or items[0].get("sku") or "")
    if not first:
        return ""
    more = len(items) - 1
    if lang == "ko":
        return f"{first} 외 {more}건" if more else first
    return f"{first} and {more} more" if more else first


def cite(citation: dict[str, Any], lang: str) -> str:
    title = citation.get("title") or citation.get("doc_id") or "KB"
    version = citation.get("version") or citation.get("kb_version")
    label = f"{title} v{version}" if version is not None else str(title)
    return f"[{say('source', lang)}: {label}]"


def order_of(call: ToolCallRequest | None) -> str:
    if call is None or not call.arguments:
        return ""
    return next((str(call.arguments[n]) for n in ORDER_ARG_NAMES if n in call.arguments), "")


def record_answer(by_capability: dict[str, ToolResult], calls: dict[str, ToolCallRequest], lang: str) -> str:
    """The sentence about the order, refund or shipment the tools returned ('' when none)."""
    lookup = by_capability.get("order_lookup")
    items = items_summary(lookup.data, lang) if lookup is not None and not lookup.is_error else ""
    for cap in RECORD_CAPABILITIES:
        result = by_capability.get(cap)
        if result is None or result.is_error:
            continue
        order = order_of(calls.get(result.call_id))
        label = f"{order}({items})" if items else order
        data = result.data if isinstance(result.data, dict) else {}
        if lang == "ko" and isinstance(data.get("summary_ko"), str) and data["summary_ko"].strip():
            summary = data["summary_ko"].strip()
            return f"주문번호 {label}: {summary}" if items else summary
        detail = describe_record(result.data, lang)
        if lang == "ko":
            subject = {
                "refund_status": f"주문번호 {label}의 환불 현황입니다",
                "refund_request": f"주문번호 {label}의 환불 요청이 접수되었습니다",
                "shipping": f"주문번호 {label}의 배송 현황입니다",
                "order_lookup": f"주문번호 {label}의 주문 내역입니다",
            }[cap]
        else:
            subject = {
                "refund_status": f"Refund status for order {label}",
                "refund_request": f"Your refund request for order {label} has been filed",
                "shipping": f"Shipping status for order {label}",
                "order_lookup": f"Order {label}",
            }[cap]
        return f"{subject}: {detail}." if detail else f"{subject}."
    return ""


def memory_texts(data: Any) -> list[str]:
    items: list[Any] = []
    if isinstance(data, dict):
        for key in ("memories", "results", "items", "facts", "statements"):
            if isinstance(data.get(key), list):
                items = data[key]
                break
    elif isinstance(data, list):
        items = data
    texts = []
    for item in items:
        if isinstance(item, str):
            texts.append(item)
        elif isinstance(item, dict):
            text = item.get("text") or item.get("memory") or item.get("content") or item.get("statement")
            if text:
                texts.append(str(text))
    return texts
