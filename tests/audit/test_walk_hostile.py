"""An auditor's walk with files that went through other hands: each case failed before its fix."""

from __future__ import annotations

import pytest

from audit import verify_export

from .test_cli import run_async
from .test_export_file import _cli, _exported

pytestmark = pytest.mark.usefixtures("audit_db")


def test_an_export_saved_again_with_a_byte_order_mark_still_verifies(tmp_path):
    # Notepad (and Excel's "CSV UTF-8") on a Korean Windows desktop write a UTF-8 BOM before the first
    # line: the records are untouched, so the file verifies (it said 'line 1 is not JSON', exit 1)
    path = run_async(lambda: _exported(tmp_path))
    saved = tmp_path / "saved-by-notepad.jsonl"
    saved.write_text(path.read_text(encoding="utf-8").replace("\n", "\r\n"), encoding="utf-8-sig")
    (report,) = verify_export(saved)
    assert report.ok and report.exit_code == 0 and report.records == 8, report.to_dict()
    shown = _cli("verify", "--file", str(saved))
    assert shown.exit_code == 0 and "intact" in shown.stdout
