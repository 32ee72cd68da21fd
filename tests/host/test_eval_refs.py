"""`eval compare` takes a run id as tables print it: its first 8+ characters (core/ids.py)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.host.test_evals import _report


def test_compare_takes_run_id_prefixes_and_says_where_it_looked(tmp_path, monkeypatch):
    """A walk: `eval compare ev_69671ca5 ev_nope` said "no eval report ev_69671ca5" for a run whose
    id starts so, and not where it had looked."""
    from core.settings import reload_settings
    from host.evals.report import reports_dir
    from switchboard_cli import build_app

    monkeypatch.setenv("SWITCHBOARD_HOME", str(tmp_path / "home"))
    reload_settings()
    try:
        folder = reports_dir()
        for run_id, outcomes in (("ev_69671ca5d2e04f1b", {"x": True}), ("ev_80a1b2c3d4e5f607", {"x": False})):
            (folder / f"{run_id}.json").write_text(json.dumps(_report(run_id, outcomes)), encoding="utf-8")
        app = build_app("eval")
        both = CliRunner().invoke(app, ["eval", "compare", "ev_69671ca5", "ev_80a1b2c3", "--json"])
        assert both.exit_code == 0, both.output
        assert json.loads(both.stdout)["changed"] == [["x", "pass", "FAIL"]]
        unknown = CliRunner().invoke(app, ["eval", "compare", "ev_69671ca5", "ev_ffffffff"])
        assert unknown.exit_code == 2
        text = " ".join(unknown.output.split())
        assert "no eval report starting with 'ev_ffffffff'" in text and str(folder) in text, text
        short = CliRunner().invoke(app, ["eval", "compare", "ev_6967", "ev_80a1b2c3"])
        assert short.exit_code == 2 and "too short" in short.output
    finally:
        monkeypatch.undo()
        reload_settings()
