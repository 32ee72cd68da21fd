"""Statements: typed, scoped pieces of state with versioned definitions and value history.

A *definition* names a key, describes it, gives its data type as a JSON Schema (Draft 2020-12),
where its values come from, how often they change, and its scope:

- ``ALL`` — one value for the whole org;            - ``SESSION_TYPE`` — one per session type;
- ``GROUP`` — one per customer group;               - ``USER`` — one per customer;
- ``SESSION`` — one per session (of one customer).

Definitions are org configuration: they are created from an org-level connection (no customer
bound), and so are values of the org-wide scopes (ALL, SESSION_TYPE, GROUP), which one customer's
conversation must not be able to change for everyone. USER and SESSION values belong to the
customer of the connection — the customer id is never an argument — and are erased with them.

Changing a definition makes a new version; values keep the version they were written under, and a
read says whether the current value still validates against the current definition. Every value
is validated against its definition's schema before anything is written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from core.canonical import canonical_json, canonical_sha256
from core.errors import conflict, forbidden, invalid, not_found
from servers.memory_server import guard
from servers.memory_server.db import memory_engine, writing
from servers.memory_server.index import aware
from servers.memory_server.tables import statement_definition, statement_value

SCOPES = ("ALL", "SESSION_TYPE", "USER", "GROUP", "SESSION")
ORG_SCOPES = ("ALL", "SESSION_TYPE", "GROUP")
KEY_PATTERN = r"^[a-z][a-z0-9_.-]{0,127}$"
MAX_SCHEMA_BYTES = 16_384
MAX_VALUE_BYTES = 65_536
MAX_KEYS = 200
HISTORY_LIMIT = 50


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is reading or writing statements: from the connection context."""

    org_id: str
    customer_ref: str | None
    session_id: str | None
    actor: str


def _validator(schema: dict[str, Any]) -> Any:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def _check_refs(node: Any, path: str = "data_type") -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if ref is not None and (not isinstance(ref, str) or not ref.startswith("#")):
            raise invalid(f"{path}.$ref: only local references (#/...) are allowed; nothing is fetched")
        for key, value in node.items():
            _check_refs(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _check_refs(value, f"{path}[{i}]")


def check_schema(data_type: Any) -> None:
    """Raise INVALID_ARGUMENT unless ``data_type`` is a usable, self-contained JSON Schema."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    if not isinstance(data_type, dict):
        raise invalid('data_type must be a JSON Schema object, e.g. {"type": "string"}')
    try:
        size = len(canonical_json(data_type))
    except Exception:
        raise invalid("data_type is not valid JSON") from None
    if size > MAX_SCHEMA_BYTES:
        raise invalid(f"data_type is larger than {MAX_SCHEMA_BYTES} bytes")
    _check_refs(data_type)
    try:
        Draft202012Validator.check_schema(data_type)
    except SchemaError as exc:
        raise invalid(f"data_type is not a valid JSON Schema: {exc.message[:200]}") from None


def validate_value(data_type: dict[str, Any], value: Any) -> list[str]:
    """The schema violations of ``value`` (empty when it conforms)."""
    errors = sorted(_validator(data_type).iter_errors(value), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors[:5]:
        where = "/".join(str(p) for p in err.absolute_path) or "value"
        out.append(f"{where}: {err.message[:200]}")
    return out


def _definition_out(row: Any) -> dict[str, Any]:
    return {
        "key": row["key"],
        "version": row["version"],
        "description": row["description"],
        "data_type": row["data_type"],
        "data_source": row["data_source"],
        "update_frequency": row["update_frequency"],
        "scope": row["scope"],
        "definition_sha256": row["definition_sha256"],
        "created_at": aware(row["created_at"]),
        "created_by": row["created_by"],
    }


async def _latest_definition(conn: Any, org_id: str, key: str, *, lock: bool = False) -> Any:
    query = (
        select(statement_definition)
        .where(statement_definition.c.org_id == org_id, statement_definition.c.key == key)
        .order_by(statement_definition.c.version.desc())
        .limit(1)
    )
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return (await conn.execute(query)).mappings().first()


def _require_org_level(caller: Caller, what: str) -> None:
    if caller.customer_ref:
        raise forbidden(f"{what} is org configuration: use an org-level connection (no customer bound)")


async def define(
    caller: Caller,
    *,
    key: str,
    description: str,
    data_type: dict[str, Any],
    data_source: str,
    update_frequency: str,
    scope: str,
) -> dict[str, Any]:
    """Create a key, or a new version of it when anything differs from the latest version."""
    _require_org_level(caller, "defining a statement")
    if scope not in SCOPES:
        raise invalid(f"scope must be one of {', '.join(SCOPES)}")
    check_schema(data_type)
    body = {
        "description": description,
        "data_type": data_type,
        "data_source": data_source,
        "update_frequency": update_frequency,
        "scope": scope,
    }
    digest = canonical_sha256(body)
    for _attempt in range(3):
        try:
            async with writing() as conn:
                latest = await _latest_definition(conn, caller.org_id, key, lock=True)
                if latest is not None and latest["definition_sha256"] == digest:
                    return {**_definition_out(latest), "changed": False}
                version = (latest["version"] + 1) if latest is not None else 1
                row = {
                    "id": str(uuid.uuid4()),
                    "org_id": caller.org_id,
                    "key": key,
                    "version": version,
                    **body,
                    "definition_sha256": digest,
                    "created_at": datetime.now(UTC),
                    "created_by": caller.actor,
                }
                await conn.execute(insert(statement_definition).values(**row))
            return {**_definition_out(row), "changed": True}
        except IntegrityError:
            continue  # a concurrent definition took this version number: read again
    raise conflict("the statement definition is being changed concurrently: try again")


def _resolve_scope(
    caller: Caller, scope: str, session_id: str | None, session_type: str | None, group_id: str | None
) -> tuple[str, str]:
    """(scope_id, owner customer) for a value of ``scope``; raises when an id is missing or not allowed."""
    if scope == "ALL":
        return "", ""
    if scope == "SESSION_TYPE":
        if not session_type:
            raise invalid("this statement is scoped per SESSION_TYPE: pass session_type")
        return session_type, ""
    if scope == "GROUP":
        if not group_id:
            raise invalid("this statement is scoped per GROUP: pass group_id")
        return group_id, ""
    if not caller.customer_ref:
        raise forbidden(f"{scope} statements belong to a customer: this connection has none")
    if scope == "USER":
        return caller.customer_ref, caller.customer_ref
    sid = session_id or caller.session_id
    if not sid:
        raise invalid("this statement is scoped per SESSION: pass session_id (or connect with one)")
    return sid, caller.customer_ref


async def set_value(
    caller: Caller,
    *,
    key: str,
    value: Any,
    session_id: str | None = None,
    session_type: str | None = None,
    group_id: str | None = None,
) -> dict[str, Any]:
    """Validate ``value`` against the key's current definition and make it the current value."""
    try:
        size = len(canonical_json(value))
    except Exception:
        raise invalid("value is not valid JSON") from None
    if size > MAX_VALUE_BYTES:
        raise invalid(f"value is larger than {MAX_VALUE_BYTES} bytes")
    at = datetime.now(UTC)
    async with writing() as conn:
        definition = await _latest_definition(conn, caller.org_id, key, lock=True)
        if definition is None:
            raise not_found(f"no statement {key!r} is defined: define_statement it first")
        scope = definition["scope"]
        if scope in ORG_SCOPES:
            _require_org_level(caller, f"setting a {scope} statement")
        scope_id, owner = _resolve_scope(caller, scope, session_id, session_type, group_id)
        errors = validate_value(definition["data_type"], value)
        if errors:
            raise invalid(
                f"value does not match the definition of {key!r} (v{definition['version']}): " + "; ".join(errors)
            )
        value = guard.screen_json(value, caller.org_id)
        where = (
            statement_value.c.org_id == caller.org_id,
            statement_value.c.key == key,
            statement_value.c.scope == scope,
            statement_value.c.scope_id == scope_id,
            statement_value.c.customer_ref == owner,
            statement_value.c.replaced_at.is_(None),
        )
        await conn.execute(update(statement_value).where(*where).values(replaced_at=at))
        row = {
            "id": str(uuid.uuid4()),
            "org_id": caller.org_id,
            "key": key,
            "definition_version": definition["version"],
            "scope": scope,
            "scope_id": scope_id,
            "customer_ref": owner,
            "value": value,
            "set_at": at,
            "set_by": caller.actor,
            "replaced_at": None,
        }
        await conn.execute(insert(statement_value).values(**row))
    return {
        "key": key,
        "scope": scope,
        "scope_id": scope_id if scope not in ("USER",) else None,
        "value": value,
        "definition_version": definition["version"],
        "set_at": at,
        "set_by": caller.actor,
    }


async def get_values(
    caller: Caller,
    *,
    keys: list[str] | None = None,
    session_id: str | None = None,
    session_type: str | None = None,
    group_id: str | None = None,
    include_history: bool = False,
) -> list[dict[str, Any]]:
    """The current value of each key (all defined keys when ``keys`` is None) in the caller's scope."""
    engine = await memory_engine()
    async with engine.connect() as conn:
        latest = (
            select(statement_definition.c.key, func.max(statement_definition.c.version).label("version"))
            .where(statement_definition.c.org_id == caller.org_id)
            .group_by(statement_definition.c.key)
        )
        if keys is not None:
            latest = latest.where(statement_definition.c.key.in_(keys))
        versions = {r.key: r.version for r in (await conn.execute(latest.limit(MAX_KEYS))).all()}
        out = []
        for key in keys if keys is not None else sorted(versions):
            if key not in versions:
                out.append({"key": key, "defined": False, "value": None})
                continue
            definition = (
                (
                    await conn.execute(
                        select(statement_definition).where(
                            statement_definition.c.org_id == caller.org_id,
                            statement_definition.c.key == key,
                            statement_definition.c.version == versions[key],
                        )
                    )
                )
                .mappings()
                .one()
            )
            out.append(
                await _value_entry(conn, caller, definition, session_id, session_type, group_id, include_history)
            )
    return out


async def _value_entry(
    conn: Any,
    caller: Caller,
    definition: Any,
    session_id: str | None,
    session_type: str | None,
    group_id: str | None,
    include_history: bool,
) -> dict[str, Any]:
    scope = definition["scope"]
    entry: dict[str, Any] = {
        "key": definition["key"],
        "defined": True,
        "scope": scope,
        "definition_version": definition["version"],
        "data_type": definition["data_type"],
        "value": None,
    }
    try:
        scope_id, owner = _resolve_scope(caller, scope, session_id, session_type, group_id)
    except Exception as exc:
        entry["unavailable"] = getattr(exc, "message", "scope id missing")
        return entry
    base = select(statement_value).where(
        statement_value.c.org_id == caller.org_id,
        statement_value.c.key == definition["key"],
        statement_value.c.scope == scope,
        statement_value.c.scope_id == scope_id,
        statement_value.c.customer_ref == owner,
    )
    rows = list(
        (
            await conn.execute(
                base.order_by(statement_value.c.set_at.desc()).limit(HISTORY_LIMIT if include_history else 1)
            )
        ).mappings()
    )
    current = next((r for r in rows if r["replaced_at"] is None), None)
    if current is not None:
        entry.update(
            value=current["value"],
            value_definition_version=current["definition_version"],
            valid_under_current=not validate_value(definition["data_type"], current["value"]),
            set_at=aware(current["set_at"]),
            set_by=current["set_by"],
        )
    if include_history:
        entry["history"] = [
            {
                "value": r["value"],
                "definition_version": r["definition_version"],
                "set_at": aware(r["set_at"]),
                "set_by": r["set_by"],
                "replaced_at": aware(r["replaced_at"]),
            }
            for r in rows
        ]
    return entry
