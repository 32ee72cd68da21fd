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


def test_verify_from_a_seq_past_the_end_is_no_broken_chain(tmp_path):
    # '--from-seq 999' on chains of 3 and 6 records said '✗ broken at seq 4: the chain head says seq 3
    # but records go on', exit 1: a mistyped number read as tampering
    from audit import verify_chain

    from .helpers import seed

    run_async(lambda: seed(3, "acme"))
    run_async(lambda: seed(6, "beta"))
    (report,) = run_async(lambda: _verify_one("acme", 999, verify_chain))
    assert report.ok and report.records == 0 and "past the end" in " ".join(report.warnings), report.to_dict()
    past = _cli("verify", "--from-seq", "999")
    assert past.exit_code == 2 and "[INVALID_ARGUMENT]" in past.output and "broken" not in past.output
    assert "acme ends at seq 3" in past.output and "beta ends at seq 6" in past.output, past.output
    one_past = _cli("verify", "--from-seq", "5")  # beta has seq 5 and 6; acme ends before: a warning
    assert one_past.exit_code == 0 and "broken" not in one_past.output, one_past.output
    assert "past the end" in one_past.output
    assert _cli("verify", "--from-seq", "3", "--org", "acme").exit_code == 0


async def _verify_one(org, from_seq, verify_chain):
    return [await verify_chain(org, from_seq=from_seq)]


def test_checkpoint_and_prune_of_a_mistyped_org_and_an_export_ending_before_it_starts_are_refused(tmp_path):
    from .helpers import seed

    run_async(lambda: seed(2, "acme"))
    # 'no audit records yet: nothing to sign' / 'nothing before …', exit 0: the typo read as done
    for command in (["checkpoint", "--org", "acm"], ["prune", "--before", "2020-01-01", "--org", "acm", "--yes"]):
        typo = _cli(*command)
        assert typo.exit_code == 2 and "[NOT_FOUND]" in typo.output and "acme" in typo.output, typo.output
        assert "nothing was" in typo.output
    assert not (tmp_path / "audit-checkpoints" / "acm").exists()
    # an export whose --until is before its --since wrote a header and '0 records', exit 0
    out = tmp_path / "backwards.jsonl"
    backwards = _cli("export", "--since", "2026-12-08", "--until", "2026-12-01", "-o", str(out))
    assert backwards.exit_code == 2 and "[INVALID_ARGUMENT]" in backwards.output and "--until" in backwards.output
    assert not out.exists()


def test_find_by_a_phone_number_as_customer_points_to_value(tmp_path):
    from .helpers import seed

    run_async(lambda: seed(2, "acme"))
    # 'no matching audit records', and nothing said that a customer reference is an opaque id
    found = _cli("find", "--customer", "010-1234-5678")
    assert found.exit_code == 0 and "no matching audit records" in found.output
    said = " ".join(found.output.split())
    assert "--value 010-1234-5678" in said and "opaque" in said, said
    assert "--value" not in " ".join(_cli("find", "--customer", "C-1001").output.split())
