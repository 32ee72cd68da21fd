"""Ctrl-C while a command is still starting (importing its modules) ends it like Ctrl-C later on."""

from __future__ import annotations

import pytest

import switchboard_cli


def test_ctrl_c_while_a_command_loads_is_one_line_and_exit_130(monkeypatch, capsys):
    # a walk pressed Ctrl-C a second into `registry publish`: a 30-line traceback through the imports
    def interrupted(_first=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(switchboard_cli, "build_app", interrupted)
    monkeypatch.setattr("sys.argv", ["switchboard", "registry", "review", "orders@1.0.0"])
    with pytest.raises(SystemExit) as ended:
        switchboard_cli.main()
    assert ended.value.code == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "interrupted" in err
