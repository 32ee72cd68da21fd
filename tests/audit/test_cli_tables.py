"""``switchboard audit tail|find`` tables on a narrow terminal: nothing is cut with an ellipsis, ids stay whole."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from audit.cli import app
from tests.audit.test_cli import run_async

from .helpers import event

pytestmark = pytest.mark.usefixtures("audit_db")
runner = CliRunner()


def test_tail_on_a_narrow_terminal_folds_instead_of_cutting_ids_and_event_types(monkeypatch):
    from core.cliutil import console

    async def go() -> None:
        from audit import SYSTEM_ORG, append

        await append(
            event(
                0,
                org=SYSTEM_ORG,
                event_type="server_version_status_changed",
                source="registry",
                tool_name=None,
                arguments=None,
                result=None,
                details={"status": "deprecated", "reason": "use 1.4.0 " * 20},
            )
        )
        await append(event(1, tool_name="find_refund_request", arguments={"order_id": "ORD-" + "7" * 80}))

    run_async(go)
    for width in (80, 140):
        monkeypatch.setattr(console, "width", width)
        for command in (["tail"], ["find", "--since", "1d"]):
            shown = runner.invoke(app, command, catch_exceptions=False)
            assert shown.exit_code == 0, shown.output
            assert "…" not in shown.stdout, shown.stdout
            # the record ids are kept whole; at 80 columns a long event type folds onto the next line
            whole = ["switchboard:system#1", "acme#1"]
            if width >= 140:
                whole += ["server_version_status_changed", "find_refund_request", "(+"]
            for text in whole:
                assert text in shown.stdout, (width, command, text, shown.stdout)
