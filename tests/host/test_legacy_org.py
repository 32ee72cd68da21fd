"""import-legacy --org, and a DIRECTORY taken from where the user stands."""

from __future__ import annotations

import asyncio
import json
import shutil

from sqlalchemy import select
from typer.testing import CliRunner

from host import cli
from host.records import sessions
from host.review_cli import app as review_app
from tests.host.test_cli import _app
from tests.host.test_legacy import LEGACY

runner = CliRunner()


async def _session_orgs() -> dict[str, tuple[str, dict]]:
    from core.db import dispose_engines, get_engine

    engine = await get_engine()
    async with engine.connect() as conn:
        rows = (await conn.execute(select(sessions.c.id, sessions.c.org_id, sessions.c.metadata))).all()
    await dispose_engines()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_import_into_one_org_from_a_relative_folder(sb_env, tmp_path, monkeypatch):
    shutil.copytree(LEGACY, tmp_path / "exports" / "legacy")
    monkeypatch.chdir(tmp_path / "exports")
    app = _app(cli.import_legacy)
    result = runner.invoke(app, ["import-legacy", "legacy", "--org", "demo", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["directory"] == str((tmp_path / "exports" / "legacy").resolve()) and report["skipped"] == []
    stored = asyncio.run(_session_orgs())
    assert stored and {org for org, _ in stored.values()} == {"demo"}
    originals = {meta.get("legacy_org_id") for _, meta in stored.values()}
    assert None not in originals and len(originals) > 1  # the CSV's orgs are kept, not lost
    listed = json.loads(runner.invoke(review_app, ["list", "--org", "demo", "--json"]).stdout)
    assert len(listed) == report["imported"]["review_queue"] == 6  # review items follow their session's org

    human = runner.invoke(app, ["import-legacy", "legacy", "--org", "demo", "--dry-run"])
    assert human.exit_code == 0 and "read " in human.stdout and "legacy" in human.stdout


def test_relative_folder_errors_say_where_they_looked(sb_env, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = _app(cli.import_legacy)
    missing = runner.invoke(app, ["import-legacy", "data/legacy"])
    said = " ".join(missing.output.split())
    assert missing.exit_code == 2 and f"looked in {tmp_path.resolve()}/data/legacy" in said
    (tmp_path / "empty").mkdir()
    no_sessions = runner.invoke(app, ["import-legacy", "empty"])
    assert no_sessions.exit_code == 2 and "sessions.csv" in no_sessions.output
    shutil.copytree(LEGACY, tmp_path / "legacy")
    bad_org = runner.invoke(app, ["import-legacy", "legacy", "--org", "demo; DROP TABLE sessions"])
    assert bad_org.exit_code == 2 and "INVALID_ARGUMENT" in bad_org.output
    unknown = runner.invoke(app, ["import-legacy", "legacy", "--agent-version", "zzzzzzzz"])
    assert unknown.exit_code == 2 and "NOT_FOUND" in unknown.output
    assert asyncio.run(_session_orgs()) == {}  # nothing was written
