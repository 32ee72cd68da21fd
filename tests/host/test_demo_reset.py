"""`switchboard demo --reset` deletes a home Switchboard made, whatever Switchboard wrote in it,
and refuses a directory holding anything else.

A walk: a newcomer followed docs/console.md (`switchboard host` writes console.key) and
docs/evals.md (`switchboard eval run` writes evals/) in the demo home; the next `make demo`
refused the home as holding files Switchboard did not create.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from core.settings import reload_settings
from host import demo

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["core", "audit", "host", "registry", "servers", "switchboard_cli.py", "switchboard_erase.py"]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "demo"
    monkeypatch.setenv("SWITCHBOARD_HOME", str(path))
    monkeypatch.delenv("SWITCHBOARD_DATABASE_URL", raising=False)
    monkeypatch.delenv("SWITCHBOARD_CONSOLE_SECRET", raising=False)
    reload_settings()
    yield path
    monkeypatch.undo()
    reload_settings()


def _what_the_demo_and_the_docs_write(home: Path) -> None:
    """A home as `make demo`, then docs/console.md and docs/evals.md, leave it (the real writers
    where they are cheap to call, the names the others use)."""
    from host.console import security
    from host.evals.report import write_report

    home.mkdir(parents=True)
    for name in ("switchboard.db", "switchboard.db-wal", "switchboard.db-shm", "switchboard.db.migrate.lock"):
        (home / name).write_bytes(b"")
    for folder in ("switchboard.db.audit-journal", "chroma", "kb-index/kb1/v1", "keys/audit-subjects", "logs"):
        (home / folder).mkdir(parents=True)
    (home / "kb-embed.lock").write_bytes(b"")
    (home / "audit-checkpoints").mkdir()
    security.reset()
    security.console_secret()  # `switchboard host`: console.key
    security.reset()
    write_report({"run_id": "ev_1", "summary": {}, "results": []})  # `switchboard eval run`: evals/
    (home / "cluster").mkdir()  # `switchboard host --cluster`


def test_a_home_the_demo_and_the_docs_used_is_reset(home: Path) -> None:
    _what_the_demo_and_the_docs_write(home)
    assert {"console.key", "evals"} <= {p.name for p in home.iterdir()}
    assert demo.reset_home() == home
    assert list(home.iterdir()) == []


@pytest.mark.parametrize("stranger", ["notes.txt", "kb_notes.md", "console.key.bak", "evals-old", "switchboard.dbx"])
def test_a_home_with_a_foreign_file_is_refused_and_kept(home: Path, stranger: str) -> None:
    _what_the_demo_and_the_docs_write(home)
    (home / stranger).write_text("mine")
    before = sorted(p.name for p in home.iterdir())
    with pytest.raises(SwitchboardError) as err:
        demo.reset_home()
    assert err.value.code.value == "INVALID_ARGUMENT"
    assert f"did not create ({stranger})" in str(err.value)  # the stranger, and only it
    assert sorted(p.name for p in home.iterdir()) == before


def test_every_entry_switchboard_writes_under_its_home_is_known() -> None:
    """The reset's list follows the code: each literal joined to the home (``home / "evals"``,
    ``ensure_home() / "console.key"``) anywhere in the product must be one the reset accepts."""
    joined = re.compile(r"(?:\bhome\b|\bhome\(\)|ensure_home\(\))\s*/\s*(\([^)]*\)|\"[^\"]+\"|'[^']+')")
    found: dict[str, str] = {}
    for source in SOURCES:
        base = ROOT / source
        for path in [base] if base.is_file() else base.rglob("*.py"):
            for match in joined.finditer(path.read_text(encoding="utf-8")):
                for name in re.findall(r"[\"']([^\"']+)[\"']", match.group(1)):
                    found.setdefault(name.split("/")[0], str(path.relative_to(ROOT)))
    assert {"console.key", "evals", "switchboard.db", "kb-index", "keys"} <= set(found)
    unknown = {name: where for name, where in found.items() if not demo.switchboard_made(name)}
    assert unknown == {}


def _database(home: Path, rows: dict[str, list[tuple]]) -> None:
    """A SQLite database in ``home`` with ``rows`` per table: (org_id,) or, for mcp_server, (name,)."""
    import sqlite3

    home.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(home / "switchboard.db")
    conn.execute("CREATE TABLE api_token (id TEXT, org_id TEXT)")
    conn.execute("CREATE TABLE ord_order (id TEXT, org_id TEXT)")
    conn.execute("CREATE TABLE audit_event (id TEXT, org_id TEXT)")
    conn.execute("CREATE TABLE mcp_server (id TEXT, name TEXT)")
    for table, values in rows.items():
        column = "name" if table == "mcp_server" else "org_id"
        conn.executemany(f"INSERT INTO {table} (id, {column}) VALUES ('x', ?)", values)
    conn.commit()
    conn.close()


def test_the_demos_own_data_and_eval_tenants_are_reset(home: Path) -> None:
    rows = {"ord_order": [("demo",)], "audit_event": [("switchboard:system",), ("eval-cc-ko-1",)]}
    _database(home, rows | {"mcp_server": [("orders",), ("kb",), ("memory",)]})
    assert demo.reset_home() == home and list(home.iterdir()) == []


@pytest.mark.parametrize(
    ("rows", "named"),
    [
        # a walk: `tokens create --org mine`, then `demo --reset` in the same default home: token gone
        ({"api_token": [("mine",)]}, "org mine"),
        ({"ord_order": [("demo",), ("acme",)]}, "org acme"),
        ({"api_token": [(None,)]}, "a service token"),
        ({"mcp_server": [("orders",), ("crm",)]}, "server crm"),
    ],
)
def test_a_home_with_data_that_is_not_the_demos_is_refused_and_kept(home: Path, rows: dict, named: str) -> None:
    _database(home, rows)
    before = (home / "switchboard.db").read_bytes()
    with pytest.raises(SwitchboardError) as err:
        demo.reset_home()
    assert err.value.code.value == "INVALID_ARGUMENT"
    assert named in str(err.value) and "SWITCHBOARD_HOME=.sbhome/demo" in str(err.value)
    assert (home / "switchboard.db").read_bytes() == before
