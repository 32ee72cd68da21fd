"""`switchboard kb ...`: every command, --json, clear errors, and tenant isolation."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from servers.kb_server.cli import app
from tests.servers.kb.files import make_pdf

runner = CliRunner()


def kb(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output


def kb_json(*args: str):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # warnings (a skipped file) go to stderr


def test_cli_lifecycle_and_isolation(database_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refund.md").write_text("# 환불 정책\n\n에이크미 환불은 3영업일이 걸립니다.\n", encoding="utf-8")
    (docs / "ship.md").write_text("# 배송\n\n배송은 1~2일 걸립니다.\n", encoding="utf-8")
    (docs / "notes.xyz").write_text("unsupported files in a folder are skipped, with a warning", encoding="utf-8")
    other = tmp_path / "globex.md"
    other.write_text("# 환불 정책\n\n글로벡스 환불은 7영업일이 걸립니다.\n", encoding="utf-8")

    created = kb_json("create", "정책", "--org", "acme", "--description", "환불·배송")
    assert created["version"] == 0 and created["is_active"]
    kb_json("create", "정책", "--org", "globex")
    up = kb_json("upload", "정책", str(docs), "--org", "acme")
    assert up["version"] == 1 and [d["status"] for d in up["documents"]] == ["created", "created"]
    assert [s["path"] for s in up["skipped"]] == [str(docs / "notes.xyz")]
    again = kb_json("upload", "정책", str(docs / "refund.md"), "--org", "acme")
    assert not again["new_version"] and again["documents"][0]["status"] == "unchanged"
    kb_json("upload", "정책", str(other), "--org", "globex", "--doc-id", "refund")

    listed = kb_json("list", "--org", "acme")
    assert [(k["kb_id"], k["version"], k["n_documents"]) for k in listed] == [(created["kb_id"], 1, 2)]
    for command in (("list",), ("search", "환불")):  # a typo'd org: empty, and the orgs with KBs are named
        code, out = kb(*command, "--org", "acme-typo")
        assert code == 0 and "orgs that have some: acme, globex" in " ".join(out.split()), out
    theirs = kb_json("list", "--org", "globex")
    assert len(theirs) == 1 and theirs[0]["kb_id"] != created["kb_id"] and theirs[0]["n_documents"] == 1
    assert [v["version"] for v in kb_json("versions", "정책", "--org", "globex")] == [1]
    assert {d["doc_id"] for d in kb_json("show", "정책", "--org", "globex")["documents"]} == {"refund"}
    code, out = kb("versions", created["kb_id"], "--org", "globex")  # acme's KB id, asked as globex
    assert code == 2 and "NOT_FOUND" in out
    shown = kb_json("show", "정책", "--org", "acme")
    assert {d["doc_id"] for d in shown["documents"]} == {"refund", "ship"}
    assert shown["embedding"]["embedded"] == 0 and shown["embedding"]["total"] == 2

    hits = kb_json("search", "환불 며칠", "--org", "acme")["hits"]  # the MCP tool's shape
    assert hits and all("에이크미" in h["text"] for h in hits)
    # a newcomer walk: right after an upload, search found only keyword matches and nothing said so
    code, out = kb("search", "환불 며칠", "--org", "acme")
    assert code == 0 and "keyword only where vectors are missing: 정책 (0 of 2 passages)" in " ".join(out.split())
    hits = kb_json("search", "환불 며칠", "--org", "globex")["hits"]
    assert hits and all("글로벡스" in h["text"] for h in hits)

    deleted = kb_json("delete-doc", "정책", "ship", "--org", "acme")
    assert deleted["version"] == 2
    versions = kb_json("versions", "정책", "--org", "acme")
    assert [v["version"] for v in versions] == [2, 1]
    pinned = kb_json("search", "배송", "--org", "acme", "--pin", f"{created['kb_id']}=1")["hits"]
    assert pinned and pinned[0]["doc_id"] == "ship" and pinned[0]["version"] == 1
    assert all(h["doc_id"] != "ship" for h in kb_json("search", "배송 1~2일", "--org", "acme")["hits"])

    assert not kb_json("deactivate", "정책", "--org", "acme")["is_active"]
    assert kb_json("search", "환불", "--org", "acme") == {"query": "환불", "hits": [], "searched": []}
    assert kb_json("activate", created["kb_id"], "--org", "acme")["is_active"]

    code, out = kb("show", "정책", "--org", "nobody")
    assert code == 2 and "NOT_FOUND" in out
    code, out = kb("delete-doc", "정책", "ship", "--org", "globex")
    assert code == 2 and "NOT_FOUND" in out


def test_cli_errors_are_clear_and_change_nothing(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "정책", "--org", "acme")
    locked = tmp_path / "locked.pdf"
    locked.write_bytes(make_pdf(["secret"], password="pw"))
    big = tmp_path / "big.md"
    with open(big, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    image = tmp_path / "photo.png"
    image.write_bytes(b"\x89PNG")
    for path, expected in ((locked, "encrypted"), (big, "upload limit"), (empty, "empty"), (image, "unsupported")):
        code, out = kb("upload", "정책", str(path), "--org", "acme")
        assert code == 2 and "INVALID_ARGUMENT" in out and expected in out, out
    assert kb_json("list", "--org", "acme")[0]["version"] == 0
    code, out = kb("create", "정책", "--org", "acme")
    assert code == 2 and "CONFLICT" in out
    code, out = kb("search", "", "--org", "acme")
    assert code == 2 and "empty" in out
    code, out = kb("search", "환불", "--org", "acme", "--pin", "nonsense")
    assert code == 2 and "KB_ID=VERSION" in out
    code, out = kb("list", "--org", "acme")
    assert code == 0 and "정책" in out


def test_load_demo_is_idempotent(database_url: str) -> None:
    first = kb_json("load-demo", "--org", "demo")
    second = kb_json("load-demo", "--org", "demo")
    assert first["version"] == second["version"] == 1 and not second["new_version"]
    shown = kb_json("show", "고객센터", "--org", "demo")
    assert shown["n_documents"] >= 20
    hits = kb_json("search", "카드 환불은 며칠 걸려요?", "--org", "demo")["hits"]
    assert any("3영업일" in h["text"] for h in hits)
