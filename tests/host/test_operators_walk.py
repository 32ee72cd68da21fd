"""``switchboard operators`` with sloppy input: each case failed before its fix."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from host.console.cli import app

PASSWORD = "correct horse battery"


def test_a_username_differing_only_in_case_is_taken(sb_env, monkeypatch):
    # 'Mina' beside 'mina' is a second account that reads the same in the queue and the audit log
    monkeypatch.setenv("OP_PASSWORD", PASSWORD)
    runner = CliRunner()
    made = runner.invoke(app, ["create", "mina", "--org", "demo", "--password-env", "OP_PASSWORD"])
    assert made.exit_code == 0, made.output
    for other in ("Mina", "MINA"):
        again = runner.invoke(app, ["create", other, "--org", "demo", "--password-env", "OP_PASSWORD"])
        assert again.exit_code == 2 and "CONFLICT" in again.output and "'mina'" in again.output, again.output
    listed = json.loads(runner.invoke(app, ["list", "--json"]).output)
    assert [o["username"] for o in listed] == ["mina"]


def test_a_missing_or_short_password_is_a_coded_error_on_stderr_and_in_json(sb_env, monkeypatch):
    runner = CliRunner()
    monkeypatch.setenv("SHORT_PW", "short")
    for env in ("NOPE_PW", "SHORT_PW"):
        refused = runner.invoke(app, ["create", "hana", "--org", "demo", "--password-env", env, "--json"])
        assert refused.exit_code == 2, refused.output
        assert json.loads(refused.stdout)["error"]["code"] == "INVALID_ARGUMENT", refused.stdout
        assert "[INVALID_ARGUMENT]" in refused.stderr
    assert json.loads(runner.invoke(app, ["list", "--json"]).output) == []


def test_operators_list_json_times_carry_their_offset(sb_env, monkeypatch):
    from datetime import datetime

    monkeypatch.setenv("OP_PASSWORD", PASSWORD)
    runner = CliRunner()
    assert runner.invoke(app, ["create", "mina", "--org", "demo", "--password-env", "OP_PASSWORD"]).exit_code == 0
    (row,) = json.loads(runner.invoke(app, ["list", "--json"]).output)
    # SQLite's naive UTC came out as '2026-12-07T19:32:07.601317': read as local time in Korea
    assert datetime.fromisoformat(row["created_at"]).utcoffset() is not None, row["created_at"]
