"""core/: canonical JSON, settings, migrations on first use, tokens."""

from __future__ import annotations

import unicodedata

from sqlalchemy import inspect

from core.canonical import canonical_json, canonical_sha256


def test_canonical_json_is_rfc8785():
    assert canonical_json({"b": 1, "a": [1.0, "é", None]}) == b'{"a":[1,"\xc3\xa9",null],"b":1}'
    assert canonical_sha256({"x": 1, "y": 2}) == canonical_sha256({"y": 2, "x": 1})


def test_no_unicode_normalisation():
    nfc = unicodedata.normalize("NFC", "환불")
    nfd = unicodedata.normalize("NFD", "환불")
    assert canonical_sha256(nfc) != canonical_sha256(nfd)


def test_database_url_normalisation(monkeypatch):
    from core.settings import normalise_database_url

    assert normalise_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalise_database_url("sqlite:////tmp/x.db") == "sqlite+aiosqlite:////tmp/x.db"


async def test_migrations_apply_on_first_use(database_url):
    from core.db import get_engine

    engine = await get_engine()
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert "api_token" in tables


async def test_tokens_roundtrip(database_url):
    from servers.kit.tokens import create_token, list_tokens, revoke_token, verify_token

    plaintext, info = await create_token("acme", label="ci")
    identity = await verify_token(plaintext)
    assert identity is not None and identity.org_id == "acme" and not identity.trusted
    assert await verify_token(plaintext + "x") is None
    assert [t.id for t in await list_tokens("acme")] == [info.id]
    await revoke_token(info.id)
    assert await verify_token(plaintext) is None


def test_fast_path_heads_match_alembic():
    """The start-up shortcut reads heads from files; it must agree with Alembic exactly."""
    from alembic.script import ScriptDirectory

    from core.migrate import alembic_config, declared_heads

    assert set(ScriptDirectory.from_config(alembic_config()).get_heads()) == set(declared_heads())


async def test_fast_path_detects_a_stale_schema(database_url):
    from sqlalchemy import text

    from core.db import dispose_engines, get_engine
    from core.migrate import _is_current_fast

    engine = await get_engine()
    async with engine.connect() as conn:
        assert await conn.run_sync(_is_current_fast)
    async with engine.begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = 'kit_0000' WHERE version_num LIKE 'kit_%'"))
    async with engine.connect() as conn:
        assert not await conn.run_sync(_is_current_fast)
    await dispose_engines()


def test_cli_loads_only_the_named_command_and_keeps_group_mode():
    from typer.testing import CliRunner

    from switchboard_cli import build_app

    runner = CliRunner()
    result = runner.invoke(build_app("serve"), ["serve", "--help"])
    assert result.exit_code == 0 and "--transport" in result.output
    result = runner.invoke(build_app("db"), ["db", "--help"])
    assert result.exit_code == 0 and "upgrade" in result.output


async def test_pooled_engine_keeps_sqlite_connections_and_is_disposed(database_url):
    from core.db import dispose_engines, get_engine, get_pooled_engine, is_sqlite

    pooled = await get_pooled_engine(extra_pragmas=("secure_delete=ON",))
    assert await get_pooled_engine(extra_pragmas=("secure_delete=ON",)) is pooled
    if not is_sqlite(database_url):
        assert pooled is await get_engine()  # PostgreSQL: the shared engine is already pooled
        return
    assert pooled is not await get_engine()
    seen = []  # the driver's connection objects themselves: id() of a per-checkout proxy may differ
    for _ in range(3):
        async with pooled.connect() as conn:
            seen.append((await conn.get_raw_connection()).driver_connection)
            assert (await conn.exec_driver_sql("PRAGMA secure_delete")).scalar_one() == 1
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar_one() == "wal"
    assert all(c is seen[0] for c in seen)  # one connection, reused
    assert pooled.pool.checkedin() == 1
    await dispose_engines()
    assert await get_pooled_engine(extra_pragmas=("secure_delete=ON",)) is not pooled


def test_to_meta_lists_the_set_fields():
    from dataclasses import asdict

    from core.context import META_PREFIX, RequestContext

    for ctx in (
        RequestContext("acme", "cust-7", "s1", "av1", "a" * 64, "t1"),
        RequestContext("acme", None, "s1", "av1", None, "t1"),
    ):
        fields = {k: v for k, v in asdict(ctx).items() if k != "trusted"}  # decided by the server, never sent
        assert ctx.to_meta() == {f"{META_PREFIX}{k}": v for k, v in fields.items() if v is not None}
    trusted = RequestContext("acme", "cust-7", "s1", "av1", None, "t1", trusted=True)
    assert f"{META_PREFIX}trusted" not in trusted.to_meta()
