"""`switchboard kb upload KB FOLDER`: what a folder upload takes, and every skipped entry named with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

from typer.testing import CliRunner

from servers.kb_server.cli import app

runner = CliRunner()


def kb(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.output  # stdout and stderr (the warnings)


def kb_json(*args: str):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # the warnings go to stderr


def _flat(text: str) -> str:
    return " ".join(text.split())


def _folder(root: Path) -> Path:
    """The newcomer's folder: one Markdown file, a Hangul (.hwp) file, a subfolder with Markdown in it."""
    folder = root / "f"
    (folder / "sub").mkdir(parents=True)
    (folder / "refund.hwp").write_text("환불은 7일\n", encoding="utf-8")
    (folder / "return.md").write_text("# 반품\n\n30일\n", encoding="utf-8")
    (folder / "sub" / "exchange.md").write_text("# 교환\n\n14일\n", encoding="utf-8")
    return folder


def test_folder_upload_names_every_skipped_file_and_subfolder(database_url: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "old.doc").write_bytes(b"\xd0\xcf\x11\xe0 legacy word")
    (folder / "[draft] notes.xyz").write_text("draft", encoding="utf-8")  # brackets are not Rich markup
    (folder / "passwd.txt").symlink_to("/etc/passwd")
    os.mkfifo(folder / "pipe.md")  # a named pipe: reading it would hang
    kb_json("create", "KB", "--org", "acme")

    code, out = kb("upload", "KB", str(folder), "--org", "acme")
    flat = _flat(out)
    assert code == 0, out
    assert "created return 1 chunks" in flat and "version 1" in flat
    assert f"skipped {folder / 'refund.hwp'}: " in flat and "PDF or DOCX" in flat
    assert f"skipped {folder / 'old.doc'}: " in flat and ".docx" in flat
    assert f"skipped {folder / '[draft] notes.xyz'}: unsupported file type .xyz" in flat
    assert f"skipped {folder / 'sub'}: a subfolder" in flat
    assert f"skipped {folder / 'pipe.md'}: not a regular file" in flat
    assert f"skipped symlink {folder / 'passwd.txt'} → /etc/passwd" in flat
    assert [d["doc_id"] for d in kb_json("show", "KB", "--org", "acme")["documents"]] == ["return"]

    (folder / "return.md").write_text("# 반품\n\n반품은 30일 이내입니다.\n", encoding="utf-8")
    up = kb_json("upload", "KB", str(folder), "--org", "acme")
    assert up["version"] == 2 and [d["doc_id"] for d in up["documents"]] == ["return"]
    skipped = {Path(s["path"]).name: s["reason"] for s in up["skipped"]}
    assert set(skipped) == {"refund.hwp", "old.doc", "[draft] notes.xyz", "sub", "passwd.txt", "pipe.md"}
    assert ".hwp" in skipped["refund.hwp"] and "PDF or DOCX" in skipped["refund.hwp"]
    assert "subfolder" in skipped["sub"] and "symlink" in skipped["passwd.txt"]
    assert all(s["path"].startswith(str(folder)) for s in up["skipped"])
    assert up["symlinks_skipped"] == [str(folder / "passwd.txt")]  # kept for older scripts


def test_folder_with_nothing_to_upload_is_an_error_and_writes_nothing(database_url: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "return.md").unlink()
    empty = tmp_path / "empty"
    empty.mkdir()
    good = tmp_path / "good.md"
    good.write_text("# 배송\n\n배송은 1~2일 걸립니다.\n", encoding="utf-8")
    kb_json("create", "KB", "--org", "acme")

    code, out = kb("upload", "KB", str(folder), "--org", "acme")
    flat = _flat(out)
    assert code == 2 and "INVALID_ARGUMENT" in flat, out
    assert f"{folder}: nothing to upload" in flat
    assert f"skipped {folder / 'refund.hwp'}" in flat and f"skipped {folder / 'sub'}" in flat
    code, out = kb("upload", "KB", str(folder), "--org", "acme", "--json")
    assert code == 2 and "nothing to upload" in _flat(out)
    code, out = kb("upload", "KB", str(empty), "--org", "acme")
    assert code == 2 and f"{empty}: nothing to upload" in _flat(out) and "empty" in _flat(out)
    code, out = kb("upload", "KB", str(good), str(empty), "--org", "acme")  # one named folder gave nothing
    assert code == 2 and f"{empty}: nothing to upload" in _flat(out)
    assert kb_json("list", "--org", "acme")[0]["version"] == 0


def test_a_named_hwp_file_is_refused_with_what_to_do(database_url: str, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    kb_json("create", "KB", "--org", "acme")
    code, out = kb("upload", "KB", str(folder / "refund.hwp"), "--org", "acme")
    flat = _flat(out)
    assert code == 2 and "INVALID_ARGUMENT" in flat and "unsupported file type .hwp" in flat
    assert "PDF or DOCX" in flat
    assert kb_json("list", "--org", "acme")[0]["version"] == 0


def test_upload_help_says_what_a_folder_upload_takes() -> None:
    code, out = kb("upload", "--help")
    flat = _flat(out.replace("│", " "))
    assert code == 0
    assert "subfolders" in flat and "skipped with a warning" in flat


def test_a_folder_copied_from_a_mac_skips_its_hidden_metadata_files(database_url: str, tmp_path: Path) -> None:
    """macOS copies leave '._name.md' AppleDouble files (binary) beside each document; an editor
    leaves '.name.md.swp'. They are hidden entries, skipped with a reason, not read as documents."""
    folder = tmp_path / "mac"
    folder.mkdir()
    (folder / "refund.md").write_text("# 환불\n\n카드 취소는 3~5영업일이 걸립니다.\n", encoding="utf-8")
    (folder / "._refund.md").write_bytes(b"\x00\x05\x16\x07\x00\x02\x00\x00Mac OS X        \x00\x02\xff\xfe")
    (folder / ".refund.md.swp").write_bytes(b"b0VIM 8.2\x00\x00\x10\x00")
    assert kb("create", "MAC", "--org", "acme")[0] == 0
    out = kb_json("upload", "MAC", str(folder), "--org", "acme")
    assert [d["doc_id"] for d in out["documents"]] == ["refund"]
    skipped = {Path(s["path"]).name: s["reason"] for s in out["skipped"]}
    assert set(skipped) == {"._refund.md", ".refund.md.swp"} and all("hidden" in r for r in skipped.values())
