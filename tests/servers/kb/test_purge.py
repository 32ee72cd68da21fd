"""`switchboard kb purge-doc`: a document uploaded by mistake leaves every version and every file.

The walk: a customer's complaint letter was uploaded, embedded, searched (BM25 and vector files
written), then `kb delete-doc` made v2 without it; v1 (which an agent version may pin), the
chroma vectors and kb-index/<kb>/v1 kept it, and no command removed it.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from typer.testing import CliRunner

from servers.kb_server.cli import app
from tests.homefiles import files_holding, rows_are_files

runner = CliRunner()
SENTENCE = "저는 홍길순이고 지난달 세탁기 설치 기사님이 거실 바닥을 긁어 놓고 그냥 가셨습니다"
NAME = "홍길순"


def kb(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=input)
    return result.exit_code, result.output


def kb_json(*args: str):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def _document_in_v1(kb_id: str) -> str:
    """What the MCP tool get_document finds for 'letter' under a pin to v1 (an error code if none)."""
    from core.errors import SwitchboardError
    from servers.kb_server.lookups import find_document, resolve_targets

    try:
        targets = await resolve_targets("acme", pins={kb_id: 1})
        return (await find_document("acme", "letter", targets))["doc_id"]
    except SwitchboardError as exc:
        return exc.code.value


def _setup(tmp_path: Path) -> tuple[str, Path]:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refund.md").write_text(
        "# 환불 정책\n\n카드 환불은 영업일 기준 3일이 걸립니다. 계좌 환불은 하루 안에 처리됩니다.\n", encoding="utf-8"
    )
    (docs / "letter.md").write_text(
        f"# 고객 민원 편지 v2\n\n{SENTENCE}. 주소는 서울시 마포구 상암동 11번지입니다.\n\n"
        "보상을 요구합니다. 답변이 없으면 소비자원에 신고하겠습니다.\n",
        encoding="utf-8",
    )
    kb_json("create", "고객센터", "--org", "acme")
    up = kb_json("upload", "고객센터", str(docs), "--org", "acme", "--embed")
    kb_id = up["kb_id"]
    # both versions searched (BM25 + vector files), v1 through a pin as an agent version does
    kb_json("search", "세탁기 설치 기사 바닥", "--org", "acme")
    kb_json("delete-doc", "고객센터", "letter", "--org", "acme")
    kb_json("search", "세탁기 설치 기사 바닥", "--org", "acme", "--pin", f"{kb_id}=1")
    kb_json("search", "카드 환불", "--org", "acme")
    return kb_id, Path(os.environ["SWITCHBOARD_HOME"])


def test_purge_doc_removes_the_letter_from_every_version_and_file(database_url: str, tmp_path: Path) -> None:
    rows_are_files(database_url)
    kb_id, home = _setup(tmp_path)
    assert files_holding(home, SENTENCE), "the walk's premise: the letter is stored"
    assert asyncio.run(_document_in_v1(kb_id)) == "letter"

    # asked, refused: nothing changes
    code, out = kb("purge-doc", "고객센터", "letter", "--org", "acme", "--reason", "uploaded by mistake", input="n\n")
    assert code != 0 and "nothing" in out.lower()
    assert files_holding(home, SENTENCE)

    done = kb_json("purge-doc", "고객센터", "letter", "--org", "acme", "--reason", "uploaded by mistake", "--yes")
    assert done["status"] == "purged" and done["versions"] == [1] and done["doc_id"] == "letter"
    assert done["vectors"] > 0  # its whole and sentence vectors left Chroma

    for needle in (SENTENCE, NAME, "상암동 11번지"):
        assert files_holding(home, needle) == [], needle

    # the pinned old version keeps answering for the other documents, never with the letter
    pinned = kb_json("search", "세탁기 설치 기사 바닥", "--org", "acme", "--pin", f"{kb_id}=1")
    assert all(h["doc_id"] != "letter" for h in pinned["hits"])
    refund = kb_json("search", "카드 환불은 며칠", "--org", "acme", "--pin", f"{kb_id}=1")
    assert refund["hits"] and refund["hits"][0]["doc_id"] == "refund"
    assert asyncio.run(_document_in_v1(kb_id)) == "NOT_FOUND"  # get_document on the pinned version
    versions = kb_json("versions", "고객센터", "--org", "acme")
    assert [v["n_documents"] for v in versions] == [1, 1]

    shown = kb_json("show", "고객센터", "--org", "acme")
    assert shown["embedding"]["embedded"] == shown["embedding"]["total"] > 0  # the rest keep their vectors
    assert shown["embedding"]["pending_all_versions"] == 0
    (purged,) = shown["purged"]
    assert purged["doc_id"] == "letter" and purged["versions"] == [1]
    assert purged["reason"] == "uploaded by mistake" and purged["purged_by"] and purged["purged_at"]

    # an audit record, without the letter's text
    from audit import find

    records = asyncio.run(find(org_id="acme", event_type="kb_document_purged"))
    assert len(records) == 1 and NAME not in json.dumps(records, default=str, ensure_ascii=False)

    # idempotent: again says so, changes nothing, writes no second record
    again = kb_json("purge-doc", "고객센터", "letter", "--org", "acme", "--reason", "again", "--yes")
    assert again["status"] == "already_purged"
    assert len(asyncio.run(find(org_id="acme", event_type="kb_document_purged"))) == 1


def test_purge_doc_refuses_unknown_doc_kb_org_and_writes_nothing(database_url: str, tmp_path: Path) -> None:
    rows_are_files(database_url)
    _setup(tmp_path)
    for args in (
        ("고객센터", "nope", "--org", "acme"),
        ("없는KB", "letter", "--org", "acme"),
        ("고객센터", "letter", "--org", "globex"),
    ):
        code, out = kb("purge-doc", *args, "--reason", "x", "--yes")
        assert code == 2 and "NOT_FOUND" in out, out
    shown = kb_json("show", "고객센터", "--org", "acme")
    assert shown["purged"] == []
    code, out = kb("purge-doc", "고객센터", "letter", "--org", "acme", "--yes")
    assert code != 0 and "--reason" in out
    assert files_holding(Path(os.environ["SWITCHBOARD_HOME"]), SENTENCE)


async def test_the_purge_record_migration_matches_its_table(database_url: str) -> None:
    from servers.kb_server.models import kb_purged_document
    from tests.dbcheck import migration_differences

    differences, heads = await migration_differences({kb_purged_document.name})
    assert differences == []
    assert "kb_0002" in heads
