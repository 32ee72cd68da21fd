"""`switchboard memory` on a newcomer walk: CP949 query files, output paths whose directory is
missing, read-only commands on an empty home, and empty results that hide a typo'd customer or org."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[3]


def _invoke(*args: str):
    from switchboard_cli import build_app

    return CliRunner().invoke(build_app(), ["memory", *args])


def _flat(text: str) -> str:
    return " ".join(text.split())


def _import(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    lines = [{"id": "m1", "customer": "C1", "text": "전화 말고 문자로 연락 주세요"}]
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines), encoding="utf-8")
    done = _invoke("import", str(path), "--org", "acme", "--no-embed", "--json")
    assert done.exit_code == 0, done.output


def test_search_file_in_cp949_is_read(database_url: str, tmp_path: Path) -> None:
    _import(tmp_path)
    queries = tmp_path / "q.jsonl"
    queries.write_bytes((json.dumps({"id": "q1", "query": "문자 연락"}, ensure_ascii=False) + "\n").encode("cp949"))
    result = _invoke("search", "--file", str(queries), "--org", "acme", "--customer", "C1", "--mode", "lexical")
    assert result.exit_code == 0, result.output
    line = json.loads(result.stdout.splitlines()[0])
    assert line["query"] == "문자 연락" and line["results"][0]["text"] == "전화 말고 문자로 연락 주세요"


def test_an_output_in_a_missing_directory_is_a_clean_error_and_nothing_is_written(
    database_url: str, tmp_path: Path
) -> None:
    _import(tmp_path)
    target = tmp_path / "missing" / "x.json"
    result = _invoke("export", "--org", "acme", "--customer", "C1", "-o", str(target))
    said = _flat(result.output)
    assert result.exit_code == 2 and "[INVALID_ARGUMENT]" in said and "Traceback" not in said
    assert str(tmp_path / "missing") in "".join(result.output.split()) and not target.parent.exists()
    folder = _invoke("export", "--org", "acme", "--customer", "C1", "-o", str(tmp_path), "--json")
    assert folder.exit_code == 2 and json.loads(folder.stdout)["error"]["code"] == "INVALID_ARGUMENT"
    source = tmp_path / "more.jsonl"
    source.write_text(json.dumps({"id": "m2", "customer": "C2", "text": "주말엔 연락 사절"}) + "\n", encoding="utf-8")
    mapping = _invoke("import", str(source), "--org", "acme", "--no-embed", "--mapping", str(target))
    assert mapping.exit_code == 2 and "[INVALID_ARGUMENT]" in _flat(mapping.output)
    listed = _invoke("list", "--org", "acme", "--customer", "C2", "--json")
    assert json.loads(listed.stdout)["items"] == []  # the import did not run


def test_list_and_search_of_an_unknown_customer_say_so(database_url: str, tmp_path: Path) -> None:
    _import(tmp_path)
    human = _invoke("list", "--org", "acme", "--customer", "C-9999")
    assert human.exit_code == 0
    assert "nothing stored about customer 'C-9999' in org 'acme'" in _flat(human.output), human.output
    as_json = _invoke("list", "--org", "acme", "--customer", "C-9999", "--json")
    assert as_json.exit_code == 0 and json.loads(as_json.stdout)["items"] == []
    assert "C-9999" in as_json.stderr
    search = _invoke("search", "문자", "--org", "acme", "--customer", "C-9999", "--json")
    assert search.exit_code == 0 and json.loads(search.stdout)["results"] == []
    assert "nothing stored about customer 'C-9999'" in _flat(search.stderr)
    known = _invoke("list", "--org", "acme", "--customer", "C1")
    assert "nothing stored" not in known.output


def test_status_of_a_typod_org_names_the_orgs_that_exist(database_url: str, tmp_path: Path) -> None:
    _import(tmp_path)
    typo = _invoke("status", "--org", "acme-typo")
    assert typo.exit_code == 0 and "orgs that have some: acme" in _flat(typo.output), typo.output
    right = _invoke("status", "--org", "acme")
    assert "orgs that have some" not in right.output
