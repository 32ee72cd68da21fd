"""``switchboard review`` with sloppy input: each case failed before its fix."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from host.review_cli import app


def test_resolve_with_approve_and_reject_is_a_coded_error_on_stderr_and_in_json(sb_env):
    runner = CliRunner()
    both = runner.invoke(app, ["resolve", "e6d3f297", "--approve", "--reject"])
    assert both.exit_code == 2 and "[INVALID_ARGUMENT]" in both.output and "not both" in both.output
    both = runner.invoke(app, ["resolve", "e6d3f297", "--approve", "--reject", "--json"])
    assert json.loads(both.stdout)["error"]["code"] == "INVALID_ARGUMENT"
