"""Definition hashes: golden vectors, canonical key order, every hashed field counts, no normalisation."""

from __future__ import annotations

import copy
import hashlib
import unicodedata

import mcp_types
import pytest

from core.canonical import canonical_json
from core.errors import SwitchboardError
from registry import HASHED_FIELDS, definition_sha256, hashed_definition, tool_wire_dict, tools_manifest_sha256

GET_ORDER = {
    "name": "get_order",
    "description": "주문 조회",
    "inputSchema": {
        "type": "object",
        "properties": {"order_id": {"type": "string"}},
        "required": ["order_id"],
        "additionalProperties": False,
    },
}
GET_ORDER_CANONICAL = (
    '{"description":"주문 조회","inputSchema":{"additionalProperties":false,"properties":{"order_id":'
    '{"type":"string"}},"required":["order_id"],"type":"object"},"name":"get_order"}'
)
GET_ORDER_SHA256 = "b311cbe5935a9cd8d85399e3a54cd6ebe7630907d8eb863860fc58616555c599"

REFUND = {
    "name": "request_refund",
    "title": "Request refund",
    "description": "Refund an order. 환불 요청.",
    "inputSchema": {
        "type": "object",
        "properties": {
            "order_id": {"type": "string", "pattern": "^\\d{4}$"},
            "amount": {"type": "number", "minimum": 0.5, "maximum": 1e6},
        },
        "required": ["order_id"],
        "additionalProperties": False,
    },
    "outputSchema": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    "annotations": {"destructiveHint": True, "readOnlyHint": False},
}
REFUND_SHA256 = "1b7e5844abbcf019e9b49cb7017dd37722fae0dfcac783ae2251272829b209a5"


def test_golden_vectors_are_fixed():
    assert canonical_json(GET_ORDER).decode("utf-8") == GET_ORDER_CANONICAL
    assert hashlib.sha256(GET_ORDER_CANONICAL.encode("utf-8")).hexdigest() == GET_ORDER_SHA256
    assert definition_sha256(GET_ORDER) == GET_ORDER_SHA256
    assert definition_sha256(REFUND) == REFUND_SHA256


def _reversed_keys(value):
    if isinstance(value, dict):
        return {k: _reversed_keys(value[k]) for k in reversed(list(value))}
    if isinstance(value, list):
        return [_reversed_keys(v) for v in value]
    return value


def test_key_order_does_not_change_the_hash():
    shuffled = _reversed_keys(REFUND)
    assert list(shuffled) != list(REFUND)
    assert definition_sha256(shuffled) == REFUND_SHA256


@pytest.mark.parametrize("field", HASHED_FIELDS)
def test_changing_any_one_hashed_field_changes_the_hash(field):
    changed = copy.deepcopy(REFUND)
    changed[field] = {
        "name": "request_refund2",
        "title": "Request a refund",
        "description": "Refund an order. 환불 요청!",
        "inputSchema": {**REFUND["inputSchema"], "required": ["order_id", "amount"]},
        "outputSchema": {"type": "object", "properties": {"ok": {"type": "string"}}},
        "annotations": {"destructiveHint": False, "readOnlyHint": False},
    }[field]
    assert definition_sha256(changed) != REFUND_SHA256


def test_removing_a_hashed_field_changes_the_hash_and_null_equals_absent():
    for field in ("title", "outputSchema", "annotations"):
        without = {k: v for k, v in REFUND.items() if k != field}
        assert definition_sha256(without) != REFUND_SHA256
        assert definition_sha256({**without, field: None}) == definition_sha256(without)


def test_unhashed_wire_fields_are_ignored():
    wire = {**GET_ORDER, "_meta": {"fastmcp": {"tags": []}}, "icons": [{"src": "x.png"}], "execution": {}}
    assert definition_sha256(wire) == GET_ORDER_SHA256
    assert hashed_definition(wire) == GET_ORDER


def test_nfc_and_nfd_korean_hash_differently():
    nfc = unicodedata.normalize("NFC", "환불 요청")
    nfd = unicodedata.normalize("NFD", "환불 요청")
    assert nfc != nfd
    a = definition_sha256({**GET_ORDER, "description": nfc})
    b = definition_sha256({**GET_ORDER, "description": nfd})
    assert a != b


def test_live_tool_hashes_like_its_wire_dict():
    tool = mcp_types.Tool.model_validate({**REFUND, "_meta": {"x": 1}})
    wire = tool_wire_dict(tool)
    assert wire["inputSchema"] == REFUND["inputSchema"]
    assert definition_sha256(tool) == definition_sha256(wire) == REFUND_SHA256


def test_schema_nulls_are_kept_not_dropped():
    with_null = copy.deepcopy(GET_ORDER)
    with_null["inputSchema"]["properties"]["order_id"]["default"] = None
    tool = mcp_types.Tool.model_validate(with_null)
    assert tool_wire_dict(tool)["inputSchema"]["properties"]["order_id"] == {"type": "string", "default": None}
    assert definition_sha256(tool) != GET_ORDER_SHA256


def test_uncanonicalisable_definition_is_a_clear_error():
    with pytest.raises(SwitchboardError) as err:
        definition_sha256({**GET_ORDER, "inputSchema": {"type": "object", "maximum": 2**60}})
    assert err.value.code == "INVALID_ARGUMENT"
    assert "get_order" in err.value.message


def test_tools_manifest_hash_is_order_independent_and_content_sensitive():
    a = tools_manifest_sha256([("a", "1" * 64), ("b", "2" * 64)])
    assert a == tools_manifest_sha256([("b", "2" * 64), ("a", "1" * 64)])
    assert a != tools_manifest_sha256([("a", "1" * 64), ("b", "3" * 64)])
