"""Issue 19: hostile files are refused within their per-file budget; the KB keeps working after.

Every file is generated here (see ``hostile.py``) and uploaded through ``switchboard kb upload``;
parsing runs in the real ingestion worker process (RLIMIT_AS + timeout).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from servers.kb_server import parsers
from servers.kb_server.chunking import MAX_TOKENS, chunk_blocks, estimate_tokens
from servers.kb_server.cli import app
from servers.kb_server.parsers import Block
from servers.kb_server.worker import worker
from tests.servers.kb import hostile

runner = CliRunner()

REFUND = "# 환불 정책\n\n카드 환불은 영업일 기준 3일이 걸립니다. 계좌 환불은 하루 안에 처리됩니다.\n"
SHIPPING = "# 배송 안내\n\n제주도 배송은 추가로 2일이 더 걸립니다.\n"


def kb(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, " ".join(result.output.split())  # Rich wraps long lines


def kb_json(*args: str):
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# (file, generator, what the refusal says, the variable it names)
CASES = [
    (
        "run-on.txt",
        hostile.run_on_line,
        "a line of 5,242,880 characters is longer than",
        "SWITCHBOARD_KB_MAX_LINE_CHARS",
    ),
    ("bomb.docx", hostile.zip_bomb_docx, "unpacks to 1,100 MB, over the 200 MB", "SWITCHBOARD_KB_MAX_DECOMPRESSED_MB"),
    ("huge-node.docx", hostile.huge_text_node_docx, "unpacks to 1,150 MB", "SWITCHBOARD_KB_MAX_DECOMPRESSED_MB"),
    ("high-bytes.md", hostile.high_bytes, "not a text file (binary data)", "Hanja mixed into Hangul"),
    ("deep.html", hostile.deep_html, "nested deeper than 256 levels", "SWITCHBOARD_KB_MAX_DEPTH"),
]


def test_hostile_files_are_refused_within_budget_and_the_kb_keeps_working(database_url: str, tmp_path: Path) -> None:
    kb_json("create", "정책", "--org", "acme")
    (tmp_path / "refund.md").write_text(REFUND, encoding="utf-8")
    assert kb_json("upload", "정책", str(tmp_path / "refund.md"), "--org", "acme")["version"] == 1
    for name, make, says, names in CASES:
        path = tmp_path / name
        path.write_bytes(make())
        started = time.monotonic()
        code, out = kb("upload", "정책", str(path), str(tmp_path / "refund.md"), "--org", "acme")
        elapsed = time.monotonic() - started
        path.unlink()
        assert code == 2 and "[INVALID_ARGUMENT]" in out and f"{name}:" in out, out
        assert says in out and names in out, out
        stats = worker().last
        assert stats is not None and stats.filename == name and stats.outcome == "refused"
        assert stats.wall_s < 10 and elapsed < 30, (name, stats, elapsed)
        assert stats.peak_rss_mb is not None and stats.peak_rss_mb < 1500, (name, stats)
    assert [v["version"] for v in kb_json("versions", "정책", "--org", "acme")] == [1]  # nothing written

    (tmp_path / "shipping.md").write_text(SHIPPING, encoding="utf-8")
    assert kb_json("upload", "정책", str(tmp_path / "shipping.md"), "--org", "acme")["version"] == 2
    hits = kb_json("search", "제주도 배송 며칠", "--org", "acme")["hits"]
    assert hits and "제주도" in hits[0]["text"]


def test_folder_upload_skips_symlinks_and_names_followed_links(database_url: str, tmp_path: Path) -> None:
    folder = hostile.symlink_folder(tmp_path / "docs")
    kb_json("create", "정책", "--org", "acme")
    code, out = kb("upload", "정책", str(folder), "--org", "acme")
    assert code == 0, out
    assert f"skipped symlink {folder / 'passwd.txt'} → /etc/passwd" in out
    assert f"skipped symlink {folder / 'environ.txt'} → /proc/self/environ" in out
    assert "created refund 1 chunks" in out and "version 1" in out
    shown = kb_json("show", "정책", "--org", "acme")
    assert [d["doc_id"] for d in shown["documents"]] == ["refund"]
    hits = kb_json("search", "root bin bash nologin", "--org", "acme")["hits"]
    assert not any("nologin" in h["text"] for h in hits)

    target = tmp_path / "real" / "shipping.md"
    target.parent.mkdir()
    target.write_text(SHIPPING, encoding="utf-8")
    (tmp_path / "link.md").symlink_to(target)
    up = kb_json("upload", "정책", str(tmp_path / "link.md"), "--org", "acme")
    assert up["version"] == 2 and up["symlinks_followed"] == [str(tmp_path / "link.md")]
    assert up["documents"][0]["doc_id"] == "link"
    code, out = kb("upload", "정책", str(tmp_path / "link.md"), "--org", "acme")
    assert f"{tmp_path / 'link.md'} is a symlink to {target}" in out


def test_wall_time_and_memory_budgets_are_enforced_by_the_worker(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kb_json("create", "정책", "--org", "acme")
    long_doc = tmp_path / "long.md"  # ~300k Hangul characters of real prose: seconds of kiwi work
    long_doc.write_text(
        ("# 안내\n\n" + "환불은 영업일 기준 삼일 안에 처리되며 카드사 사정에 따라 늦어질 수 있습니다. " * 40 + "\n\n")
        * 150
    )
    monkeypatch.setenv("SWITCHBOARD_KB_FILE_TIMEOUT_S", "0.5")
    first = worker().pid
    started = time.monotonic()
    code, out = kb("upload", "정책", str(long_doc), "--org", "acme")
    assert code == 2 and "took longer than the 0.5 s per-file limit" in out and "SWITCHBOARD_KB_FILE_TIMEOUT_S" in out
    assert time.monotonic() - started < 10
    assert worker().last.outcome == "timeout" and worker().pid is None  # killed, not left running
    monkeypatch.delenv("SWITCHBOARD_KB_FILE_TIMEOUT_S")

    # past the static limits, the address-space budget stops the parser itself
    monkeypatch.setenv("SWITCHBOARD_KB_MAX_DECOMPRESSED_MB", "5000")
    monkeypatch.setenv("SWITCHBOARD_KB_MAX_COMPRESSION_RATIO", "100000")
    monkeypatch.setenv("SWITCHBOARD_KB_FILE_MEMORY_MB", "256")
    bomb = tmp_path / "node.docx"
    bomb.write_bytes(hostile.huge_text_node_docx(600))
    code, out = kb("upload", "정책", str(bomb), "--org", "acme")
    assert code == 2 and "256 MB" in out and "SWITCHBOARD_KB_FILE_MEMORY_MB" in out, out
    assert worker().last.outcome in ("memory", "crashed")
    for var in (
        "SWITCHBOARD_KB_MAX_DECOMPRESSED_MB",
        "SWITCHBOARD_KB_MAX_COMPRESSION_RATIO",
        "SWITCHBOARD_KB_FILE_MEMORY_MB",
    ):
        monkeypatch.delenv(var)

    (tmp_path / "refund.md").write_text(REFUND, encoding="utf-8")
    assert kb_json("upload", "정책", str(tmp_path / "refund.md"), "--org", "acme")["version"] == 1
    assert worker().pid not in (None, first)  # a fresh worker took over
    assert [v["version"] for v in kb_json("versions", "정책", "--org", "acme")] == [1]


def test_binary_data_is_refused_in_every_shape_and_real_text_is_not() -> None:
    for data in (hostile.high_bytes(), hostile.random_high_bytes(), os.urandom(4096)):
        with pytest.raises(Exception, match="not a text file"):
            parsers.parse(data, "x.md")
    prose = (
        "카드 환불은 영업일 기준 3일이 걸립니다. 韓國 표기도 가끔 섞입니다. https://example.com/a/very/long/path\n" * 50
    )
    for encoding in ("utf-8", "cp949", "utf-16"):
        assert "카드 환불" in parsers.parse(prose.encode(encoding), "ok.txt").text
    assert parsers.parse(("退款需要三个工作日。" * 100).encode(), "zh.txt").text  # no spaces, but ideographs
    assert parsers.parse(("返金には三営業日かかります。" * 100).encode(), "ja.txt").text
    assert parsers.parse(("退款需要三个工作日，详情请咨询 스위치보드 고객센터。" * 40).encode(), "zh-ko.txt").text


def test_chunking_a_run_on_line_is_linear_and_fits_the_model() -> None:
    def timed(n: int) -> float:
        started = time.perf_counter()
        chunks = chunk_blocks([Block("가" * n), Block("x" * n)])
        assert all(estimate_tokens(c.text) <= MAX_TOKENS for c in chunks)
        assert sum(len("".join(c.text.split())) for c in chunks) == 2 * n
        return time.perf_counter() - started

    small, large = timed(50_000), timed(400_000)
    assert large < max(small, 0.05) * 8 * 3  # 8× the input: linear (quadratic would be ~64×)
