"""``switchboard audit``: tail, find, verify (exit codes), export + verify --file, checkpoint, prune."""

from __future__ import annotations

import asyncio
import json

import pytest
from typer.testing import CliRunner

from audit.cli import app

from .helpers import drop_guards, event, sql

pytestmark = pytest.mark.usefixtures("audit_db")
runner = CliRunner()


def run_async(factory) -> object:
    async def go() -> object:
        from audit import close
        from core.db import dispose_engines

        try:
            return await factory()
        finally:
            await close()
            await dispose_engines()

    return asyncio.run(go())


def seed(n: int) -> None:
    async def go() -> None:
        from audit import append

        for i in range(n):
            await append(event(i, arguments={"phone": "010-1234-5678" if i % 2 else "02-987-6543", "i": i}))

    run_async(go)


def cli(*args: str, input: str | None = None) -> object:
    return runner.invoke(app, list(args), input=input, catch_exceptions=False)


def test_tail_find_and_verify():
    seed(5)
    tail = cli("tail", "--json", "-n", "3")
    assert tail.exit_code == 0
    assert [r["seq"] for r in json.loads(tail.stdout)] == [3, 4, 5]
    assert "010-1234-5678" not in tail.stdout
    found = cli("find", "--value", "+82 10-1234-5678", "--json")
    assert [r["seq"] for r in json.loads(found.stdout)] == [2, 4]
    human = cli("tail", "-n", "2")
    assert human.exit_code == 0 and "get_order" in human.stdout
    ok = cli("verify", "--json")
    assert ok.exit_code == 0 and json.loads(ok.stdout)["ok"] is True


def test_verify_exits_non_zero_at_the_broken_seq():
    seed(4)
    run_async(drop_guards)
    run_async(lambda: sql("UPDATE audit_event SET tool_name = 'x' WHERE seq = 2"))
    result = cli("verify", "--org", "acme", "--json")
    assert result.exit_code == 1
    (org,) = json.loads(result.stdout)["orgs"]
    assert org["broken_seq"] == 2 and "edited" in org["reason"]
    human = cli("verify")
    assert human.exit_code == 1 and "broken at seq 2" in human.stdout


def test_export_checkpoint_verify_file_and_prune(tmp_path):
    seed(6)
    signed = cli("checkpoint", "--json")
    assert signed.exit_code == 0 and json.loads(signed.stdout)[0]["seq"] == 6
    out = tmp_path / "export.jsonl"
    exported = cli("export", "--since", "30d", "-o", str(out), "--json")
    assert exported.exit_code == 0 and json.loads(exported.stdout)["records"] == 6
    offline = cli("verify", "--file", str(out), "--json")
    assert offline.exit_code == 0 and json.loads(offline.stdout)["orgs"][0]["records"] == 6
    lines = out.read_text().splitlines()
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    cut = cli("verify", "--file", str(tmp_path / "cut.jsonl"), "--json")
    assert cut.exit_code == 1 and json.loads(cut.stdout)["orgs"][0]["broken_seq"] == 5
    key = cli("public-key", "--json")
    (tmp_path / "pub.pem").write_text(json.loads(key.stdout)["pem"])
    assert cli("verify", "--file", str(out), "--public-key", str(tmp_path / "pub.pem")).exit_code == 0
    pruned = cli("prune", "--before", "2999-01-01", "--yes", "--json")
    assert pruned.exit_code == 0 and json.loads(pruned.stdout)[0]["removed"] == 6
    assert cli("verify").exit_code == 0
    assert run_async(lambda: sql("SELECT count(*) FROM audit_event")) == [(0,)]


def test_bad_input_gives_clear_errors():
    seed(1)
    assert cli("find", "--value", "ORD-1").exit_code == 2
    assert cli("find").exit_code == 2
    assert cli("export", "--since", "yesterday-ish").exit_code == 2
    assert cli("verify", "--file", "/nonexistent/export.jsonl").exit_code == 2
    assert cli("verify", "--org", "no-such-org").exit_code == 2
    assert cli("prune", "--before", "2999-01-01", input="n\n").exit_code == 1
    assert run_async(lambda: sql("SELECT count(*) FROM audit_event")) == [(1,)]


def test_verify_reports_records_waiting_in_a_stopped_servers_journal(audit_db):
    if not audit_db.startswith("sqlite"):
        pytest.skip("the journal is SQLite's")
    from sqlalchemy.engine import make_url

    from audit.journal import _line, directory_for
    from audit.log import _prepare

    seed(2)
    folder = directory_for(make_url(audit_db).database or "")
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / "999-0000000000aa.jnl").write_bytes(b"".join(_line(_prepare(event(7 + i))) for i in range(3)))
    result = cli("verify", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["journaled_waiting"] == 3
    human = cli("verify")
    assert "3 tool-call record(s) wait in the journal of a stopped server" in human.stdout
    assert run_async(lambda: sql("SELECT COUNT(*) FROM audit_event"))[0][0] == 2  # verify writes nothing


def _lost_to_markup(typer_app) -> list[str]:
    """Help texts (commands and options) that Rich would change by reading them as markup."""
    import click
    from rich.errors import MarkupError
    from rich.text import Text
    from typer.main import get_command

    lost: list[str] = []

    def walk(command: click.Command) -> None:
        texts = [command.help or "", *(getattr(p, "help", None) or "" for p in command.params)]
        for text in texts:
            try:
                shown = Text.from_markup(text).plain
            except MarkupError:
                shown = None
            if shown != text.replace("\\[", "["):
                lost.append(f"{command.name}: {text!r} shows as {shown!r}")
        for sub in getattr(command, "commands", {}).values():
            walk(sub)

    walk(get_command(typer_app))
    return lost


def test_help_texts_survive_rich_markup():
    assert _lost_to_markup(app) == []
    shown = " ".join(cli("export", "--help").stdout.replace("│", " ").split())
    assert "([erased] for erased customers)" in shown


def test_export_summary_counts_in_the_singular_and_plural(tmp_path):
    seed(1)
    one = cli("export", "-o", str(tmp_path / "one.jsonl"))
    assert one.exit_code == 0 and "exported 1 record from 1 org" in " ".join(one.stderr.split())

    async def other_org() -> None:
        from audit import append

        await append(event(9, "globex"))

    run_async(other_org)
    seed(1)
    two = cli("export", "-o", str(tmp_path / "two.jsonl"))
    assert two.exit_code == 0 and "exported 3 records from 2 orgs" in " ".join(two.stderr.split())


def test_export_of_an_org_with_no_records_is_not_found_and_writes_no_file(tmp_path):
    """A newcomer walk: `audit export --org dmeo -o x.jsonl` said "✓ exported 0 records from 0 orgs"."""
    seed(1)
    target = tmp_path / "typo.jsonl"
    typo = cli("export", "--org", "acme-typo", "-o", str(target))
    assert typo.exit_code == 2 and not target.exists()
    said = _flat(typo.stderr)
    assert "[NOT_FOUND]" in said and "noauditrecordsfororg'acme-typo'" in said


def _flat(text: str) -> str:
    """``text`` without whitespace: Rich wraps an error line wherever the terminal width (and the
    length of the temporary path in it) puts the break."""
    return "".join(text.split())


def test_error_lines_quote_user_input_that_looks_like_markup(tmp_path):
    seed(1)
    since = cli("export", "--since", "[/x]")  # Rich used to raise MarkupError here (a traceback)
    assert since.exit_code == 2 and "[/x]" in since.stderr
    missing = cli("verify", "--file", str(tmp_path / "[/x].jsonl"))
    assert missing.exit_code == 2 and _flat("[/x].jsonl: no such export file") in _flat(missing.stderr)
    key = cli("verify", "--public-key", str(tmp_path / "[red]key.pem"))
    assert key.exit_code == 2 and _flat("[red]key.pem: no such file") in _flat(key.stderr)
    witness = cli("verify", "--witness", str(tmp_path / "[bold]w"))
    assert witness.exit_code == 2 and _flat("[bold]w: no such directory") in _flat(witness.stderr)


def test_export_into_a_missing_directory_is_a_clean_error_and_writes_nothing(tmp_path):
    """A newcomer walk: `audit export -o /missing/dir/x.jsonl` ended in a FileNotFoundError traceback."""
    seed(1)
    target = tmp_path / "missing" / "x.jsonl"
    result = cli("export", "--org", "acme", "-o", str(target))
    assert result.exit_code == 2 and "[INVALID_ARGUMENT]" in result.stderr
    assert _flat(str(tmp_path / "missing")) in _flat(result.stderr) and not target.parent.exists()
    folder = cli("export", "-o", str(tmp_path), "--json")
    assert folder.exit_code == 2 and json.loads(folder.stdout)["error"]["code"] == "INVALID_ARGUMENT"


def test_tail_and_find_of_a_typod_org_name_the_orgs_that_exist():
    seed(2)
    for command in (("tail",), ("find", "--text", "ORD")):
        typo = cli(*command, "--org", "acme-typo")
        assert typo.exit_code == 0 and "orgs that have some: acme" in " ".join(typo.stderr.split()), typo.output
        assert "tool / event" not in typo.stdout and "no " in typo.stdout  # no empty table
        right = cli(*command, "--org", "acme")
        assert "orgs that have some" not in right.stderr
