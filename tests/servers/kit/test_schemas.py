"""Compact output schemas (servers/kit/schemas.py): cheaper for a client to validate, and the
same instances accepted and refused as by the schema pydantic wrote."""

from __future__ import annotations

import random
from typing import Any

import pytest
from jsonschema.validators import validator_for

from servers.kit import ServerLaunch, schemas
from servers.kit.schemas import compact

NULLABLE_STRING = {"anyOf": [{"type": "string"}, {"type": "null"}], "description": "the option"}


def test_a_nullable_bare_type_becomes_a_type_list() -> None:
    assert compact(NULLABLE_STRING) == {"description": "the option", "type": ["string", "null"]}


def test_a_nullable_object_takes_null_into_its_type() -> None:
    schema = {
        "anyOf": [
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"], "description": "inner"},
            {"type": "null"},
        ],
        "description": "outer",
        "default": None,
    }
    assert compact(schema) == {
        "type": ["object", "null"],
        "properties": {"a": {"type": "integer"}},
        "required": ["a"],
        "description": "outer",
        "default": None,
    }


def test_an_enum_or_const_also_lists_null() -> None:
    enum = compact({"anyOf": [{"type": "string", "enum": ["a", "b"]}, {"type": "null"}]})
    assert enum == {"type": ["string", "null"], "enum": ["a", "b", None]}
    const = compact({"anyOf": [{"type": "string", "const": "KRW"}, {"type": "null"}]})
    assert const == {"type": ["string", "null"], "enum": ["KRW", None]}


@pytest.mark.parametrize(
    "schema",
    [
        {"anyOf": [{"type": "string", "not": {"const": ""}}, {"type": "null"}]},  # `not` sees a null
        {"anyOf": [{"$ref": "#/$defs/X"}, {"type": "null"}], "$defs": {"X": {"type": "string"}}},
        {"anyOf": [{"type": "string", "allOf": [{"minLength": 1}]}, {"type": "null"}]},
        {"anyOf": [{"type": "string"}, {"type": "integer", "minimum": 0}]},  # two typed schemas
        {"anyOf": [{"type": "string"}, {"type": "string"}]},
        {"type": "object", "anyOf": [{"type": "string"}, {"type": "null"}]},  # the node has its own type
        {"anyOf": [{"type": "object", "properties": {}}, {"type": "null"}], "properties": {"x": {}}},  # a clash
    ],
)
def test_what_cannot_be_merged_is_left_as_it_was(schema: dict[str, Any]) -> None:
    assert compact(schema) == schema


def test_property_names_that_are_keywords_are_property_names() -> None:
    schema = {"type": "object", "properties": {"anyOf": NULLABLE_STRING, "enum": NULLABLE_STRING}}
    assert compact(schema)["properties"] == {
        "anyOf": {"description": "the option", "type": ["string", "null"]},
        "enum": {"description": "the option", "type": ["string", "null"]},
    }


# --- the servers' own schemas: equivalent verdicts on instances made to break them -------------


def _instance(schema: Any, rng: random.Random, slip: float, depth: int = 0) -> Any:
    """A value for ``schema``; each node is a wrong one (null, another type, a value off the enum,
    a field missing or added) with probability ``slip``, else built to fit."""
    if not isinstance(schema, dict):
        return None
    if rng.random() < slip:
        return rng.choice([None, "x", 7, 1.5, True, [], {}])
    if "anyOf" in schema:
        return _instance(rng.choice(schema["anyOf"]), rng, slip, depth)
    if "enum" in schema:
        return rng.choice(schema["enum"]) if rng.random() >= slip else "not-in-the-enum"
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = rng.choice(kind)
    if kind == "object" or "properties" in schema:
        out = {}
        for name, sub in schema.get("properties", {}).items():
            if rng.random() >= slip and depth < 8:
                out[name] = _instance(sub, rng, slip, depth + 1)
        if rng.random() < slip:
            out["unexpected"] = 1
        return out
    if kind == "array":
        return [_instance(schema.get("items", {}), rng, slip, depth + 1) for _ in range(rng.randint(0, 2))]
    return {
        "string": lambda: rng.choice(["a", "환불", "2026-01-22T13:03:31+09:00"]),
        "integer": lambda: rng.choice([0, 3, 35500]),
        "number": lambda: rng.choice([0, 1.5, 2]),
        "boolean": lambda: rng.choice([True, False]),
        "null": lambda: None,
    }.get(kind, lambda: "x")()


async def _tools(monkeypatch: pytest.MonkeyPatch, server_module: str, compacted: bool) -> dict[str, dict[str, Any]]:
    import importlib

    if not compacted:
        monkeypatch.setattr(schemas, "compact", lambda schema: schema)
    try:
        server = importlib.import_module(server_module).build_server(launch=ServerLaunch(org_id="demo"), hooks=[])
        return {tool.name: tool.output_schema for tool in await server.list_tools() if tool.output_schema}
    finally:
        monkeypatch.undo()


SERVERS = ["servers.order_server.app", "servers.kb_server.app", "servers.memory_server.app"]


@pytest.mark.parametrize("server_module", SERVERS)
async def test_every_listed_output_schema_is_compact_and_equivalent(
    server_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    compacted = await _tools(monkeypatch, server_module, compacted=True)
    original = await _tools(monkeypatch, server_module, compacted=False)
    assert compacted.keys() == original.keys() and compacted
    rng = random.Random(17)
    merged, verdicts = 0, {True: 0, False: 0}
    for name, schema in original.items():
        assert compacted[name] == compact(schema)
        merged += str(schema).count("'anyOf'") - str(compacted[name]).count("'anyOf'")
        before, after = validator_for(schema)(schema), validator_for(compacted[name])(compacted[name])
        for slip in (0.0, 0.01, 0.03, 0.1) * 60:
            value = _instance(schema, rng, slip)
            verdict = before.is_valid(value)
            assert after.is_valid(value) == verdict, (name, value)
            verdicts[verdict] += 1
    assert merged > 0  # the servers' schemas had nullable fields to merge
    assert min(verdicts.values()) > 50, verdicts  # the instances tested both ways
