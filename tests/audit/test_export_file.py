"""`audit verify --file` on an export whose records were removed while its signed checkpoints were
kept, and on files that hold nothing to verify (a newcomer walk: both said "intact", exit 0)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit import append, export_records, verify_export
from audit.cli import app
from audit.maintenance import create_checkpoint

from .helpers import event
from .test_cli import run_async

pytestmark = pytest.mark.usefixtures("audit_db")


async def _exported(tmp_path: Path, orgs: tuple[str, ...] = ("acme",), n: int = 8) -> Path:
    """``n`` records per org, a checkpoint at seq 3 and at the end, exported with the signed export checkpoint."""
    for org in orgs:
        for i in range(n):
            await append(event(i, org))
            if i == 2:
                await create_checkpoint(org)
        await create_checkpoint(org)
    path = tmp_path / "export.jsonl"
    with open(path, "w", encoding="utf-8") as handle:
        await export_records(handle)
    return path


def _keep(path: Path, keep) -> Path:
    """A copy of the export with only the lines ``keep(line, record)`` accepts (record None for others)."""
    out = path.with_name("tampered.jsonl")
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        data = json.loads(line)
        if keep(line, data if "record_hash" in data else None):
            lines.append(line)
    out.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return out


def _cli(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


async def test_an_export_with_every_record_removed_but_its_checkpoints_kept_is_truncated(tmp_path):
    path = await _exported(tmp_path)
    stripped = _keep(path, lambda line, record: record is None)
    (report,) = verify_export(stripped)
    assert not report.ok and report.exit_code == 1, report.to_dict()
    assert report.org_id == "acme" and report.records == 0
    assert {p.kind for p in report.problems} == {"truncated"}
    assert report.checkpoints_checked >= 3  # seq 3, seq 8 and the export's own
    assert "no records of acme" in (report.reason or "")


async def test_records_removed_from_the_start_of_an_export_are_found(tmp_path):
    path = await _exported(tmp_path)
    for first in (8, 6):  # only the last record left; the last three left
        cut = _keep(path, lambda line, record, first=first: record is None or record["seq"] >= first)
        (report,) = verify_export(cut)
        # the export's signed start (seq 0) says it began at seq 1
        assert not report.ok and report.broken_seq == 1, (first, report.to_dict())
        assert any(p.kind == "truncated" and "start" in p.reason for p in report.problems)


async def test_one_org_of_two_stripped_of_its_records_fails_that_org(tmp_path):
    path = await _exported(tmp_path, orgs=("acme", "beta"), n=4)
    cut = _keep(path, lambda line, record: record is None or record["org_id"] == "acme")
    reports = {r.org_id: r for r in verify_export(cut)}
    assert set(reports) == {"acme", "beta"}
    assert not reports["beta"].ok and reports["beta"].records == 0
    assert not any(p.kind == "truncated" for p in reports["acme"].problems)


async def test_the_untouched_export_is_still_intact(tmp_path):
    path = await _exported(tmp_path)
    (report,) = verify_export(path)
    assert report.ok and report.records == 8 and report.checkpoints_checked >= 3, report.to_dict()


def test_an_empty_file_is_not_intact(tmp_path):
    for text in ("", "\n\n"):
        empty = tmp_path / "empty.jsonl"
        empty.write_text(text, encoding="utf-8")
        (report,) = verify_export(empty)
        assert not report.ok and report.exit_code == 1 and "empty" in (report.reason or "")
        result = _cli("verify", "--file", str(empty))
        assert result.exit_code == 1, result.output
        assert "intact" not in result.output and "empty" in result.output


def test_a_header_only_export_has_nothing_to_verify_and_fails_under_strict(tmp_path):
    header = tmp_path / "header.jsonl"
    header.write_text(json.dumps({"format": "switchboard-audit-export", "version": 1}) + "\n", encoding="utf-8")
    (report,) = verify_export(header)
    assert report.records == 0 and any("nothing to verify" in w for w in report.warnings)
    plain = _cli("verify", "--file", str(header))
    assert plain.exit_code == 0 and "intact" not in plain.output and "nothing to verify" in plain.output
    strict = _cli("verify", "--file", str(header), "--strict", "--json")
    assert strict.exit_code == 1 and json.loads(strict.stdout)["ok"] is False


def test_cli_reports_the_stripped_export_as_broken_with_its_checkpoints_counted(tmp_path):
    path = run_async(lambda: _exported(tmp_path))
    stripped = _keep(path, lambda line, record: record is None)
    human = _cli("verify", "--file", str(stripped), "--strict")
    assert human.exit_code == 1 and "intact" not in human.output
    assert "acme" in human.output and "removed" in " ".join(human.output.split())
    result = _cli("verify", "--file", str(stripped), "--json")
    body = json.loads(result.stdout)
    assert result.exit_code == 1 and body["ok"] is False
    (org,) = body["orgs"]
    assert org["org_id"] == "acme" and org["checkpoints_checked"] >= 3 and org["exit_code"] == 1


async def test_records_cut_from_the_start_up_to_its_first_checkpoint_are_found(tmp_path):
    """A walk: with records 1..11 removed from an export whose first checkpoint was at seq 11, the
    checkpoint anchored the rest and the file verified "intact". The export now signs its start
    (the seq before its first record), so any cut at the start is found."""
    path = await _exported(tmp_path)  # checkpoints at seq 3 and 8
    for first in (2, 3, 4):  # records up to (and right after) the first checkpoint removed
        cut = _keep(path, lambda line, record, first=first: record is None or record["seq"] >= first)
        (report,) = verify_export(cut)
        assert not report.ok and report.broken_seq == 1, (first, report.to_dict())
        assert any(p.kind == "truncated" and "start" in p.reason for p in report.problems)
    (intact,) = verify_export(path, strict=True)
    assert intact.ok and intact.warnings == [], intact.to_dict()


async def test_an_export_without_its_signed_start_fails_under_strict(tmp_path):
    path = await _exported(tmp_path)
    no_start = _keep(path, lambda line, record: '"export_start"' not in line)
    (lenient,) = verify_export(no_start)
    assert lenient.ok and any("export start" in w for w in lenient.warnings), lenient.to_dict()
    (strict,) = verify_export(no_start, strict=True)
    assert not strict.ok and any(p.kind == "unproven" for p in strict.problems), strict.to_dict()


@pytest.mark.parametrize(
    "extra", [{"injected": "ignore previous instructions"}, {"note": "operator:evil"}, {"opened_by": "x"}]
)
async def test_a_field_added_to_a_record_line_is_found(tmp_path, extra):
    """A walk added `"injected": "ignore previous instructions"` to a record: the hash covers the
    record's fields only, and the file verified "intact", --strict too."""
    path = await _exported(tmp_path)
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if '"record_hash"' in line and '"seq": 5' in line)
    lines[at] = json.dumps({**json.loads(lines[at]), **extra}, ensure_ascii=False)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    (report,) = verify_export(path)
    assert not report.ok and any(p.kind == "altered" and next(iter(extra)) in p.reason for p in report.problems)
