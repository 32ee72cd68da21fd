"""Hostile input files: deep JSON, NaN, repeated keys, FIFOs, directories, a full disk.

Every reader of a user's JSON goes through core.jsonload, every named input file must be a
regular file (core.inputfile), and every ``-o`` writer replaces its file atomically
(core.atomicwrite). Each case here crashed with a traceback, hung, or left a partial file.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import SwitchboardError
from core.jsonload import MAX_DEPTH, JSONInputError, loads

DEEP = "{" + '"a":{' * 1000 + '"b":1' + "}" * 1001  # 1001 objects deep: json.loads raises RecursionError
DEEP_METADATA = '{"id":"deep","text":"환불","metadata":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}"


def _refused(call, *args, **kwargs) -> str:
    with pytest.raises(SwitchboardError) as caught:
        call(*args, **kwargs)
    assert caught.value.code.value == "INVALID_ARGUMENT", caught.value
    return caught.value.message


# --- the loader ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (DEEP, "nests too deeply"),
        ("[" * 50_000 + "]" * 50_000, "nests too deeply"),
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "nests too deeply"),
        ('{"x": NaN}', "contains NaN, which is not JSON"),
        ('{"x": -Infinity}', "contains -Infinity"),
        ('{"customer": "C-1001", "customer": "C-1002"}', "repeats the key 'customer'"),
        ('{"a": {"actor": "x", "actor": "y"}}', "repeats the key 'actor'"),
        ("{nope", "is not JSON"),
        ("1" * 5000, "is not JSON"),
        ('{"text": "환불 \\ud800 안내"}', "a lone surrogate"),  # JSON syntax, but no character: crashed kb import
        ('{"a": ["\\uDC00"]}', "a lone surrogate"),
        ('{"\\ud83d": 1}', "a lone surrogate"),
    ],
)
def test_loader_refuses_with_file_and_line(text: str, reason: str) -> None:
    with pytest.raises(JSONInputError) as caught:
        loads(text, source="f.jsonl", line=7)
    assert caught.value.message.startswith("f.jsonl:7: "), caught.value.message
    assert reason in caught.value.message
    assert isinstance(caught.value, ValueError)  # readers that report bad lines keep doing so


def test_loader_accepts_what_is_json() -> None:
    assert loads('{"t": "\\ud83d\\ude00 \\\\ud800"}', source="f")["t"] == "😀 \\ud800"  # a pair; an escaped backslash
    nested = "[" * MAX_DEPTH + "]" * MAX_DEPTH
    assert loads(nested, source="f") is not None
    assert loads('{"t": "[[[[{{{{' + "[" * 200 + '"}', source="f")["t"].startswith("[[[[")  # brackets in a string
    assert loads('{"a": 1, "b": {"a": 2}}', source="f") == {"a": 1, "b": {"a": 2}}  # same key, other objects


# --- A: every reader of a user's JSON -----------------------------------------------------------


def test_kb_import_refuses_deep_metadata(tmp_path: Path) -> None:
    from servers.kb_server.rows import read_rows

    path = tmp_path / "kb.jsonl"
    path.write_text(DEEP_METADATA + "\n", encoding="utf-8")
    assert "kb.jsonl:1: nests too deeply" in _refused(read_rows, path)
    path.write_text('{"id":"a","text":"x","id":"b"}\n', encoding="utf-8")
    assert "kb.jsonl:1: repeats the key 'id'" in _refused(read_rows, path)
    path.write_text('{"id":"s","text":"환불 \\ud800 안내"}\n', encoding="utf-8")
    assert "kb.jsonl:1: " in (message := _refused(read_rows, path)) and "lone surrogate" in message
    csv = tmp_path / "kb.csv"
    csv.write_text('id,text,metadata\na,환불,"' + DEEP.replace('"', '""') + '"\n', encoding="utf-8")
    assert "kb.csv:2: " in (message := _refused(read_rows, csv)) and "nests too deeply" in message


def test_query_files_refuse_deep_lines(tmp_path: Path) -> None:
    from servers.memory_server.batch import read_memory_queries
    from servers.retrieval.queryfile import read_queries

    path = tmp_path / "q.jsonl"
    path.write_text('{"query": "환불"}\n{"query": "환불", "x": ' + DEEP + "}\n", encoding="utf-8")
    assert "q.jsonl:2: nests too deeply" in _refused(read_queries, path, 5)
    assert "q.jsonl:2: nests too deeply" in _refused(read_memory_queries, path, "C-1001", None, 5)
    path.write_text('{"query": "환불", "customer": "C-1001", "customer": "C-1002"}\n', encoding="utf-8")
    assert "repeats the key 'customer'" in _refused(read_memory_queries, path, None, None, 5)


def test_memory_import_refuses_deep_lines_and_repeated_customer(tmp_path: Path) -> None:
    from servers.memory_server.importer import read_records

    path = tmp_path / "m.jsonl"
    path.write_text('{"id": "r1", "customer": "C-1001", "text": "hi", "x": ' + DEEP + "}\n", encoding="utf-8")
    assert "m.jsonl:1: nests too deeply" in _refused(read_records, path, None)
    path.write_text(
        '{"id": "r1", "customer": "C-1001", "customer": "C-1002", "text": "배송지는 서울입니다"}\n', encoding="utf-8"
    )
    assert "m.jsonl:1: repeats the key 'customer'" in _refused(read_records, path, None)


def test_memory_import_state_file_with_a_deep_line_is_skipped(tmp_path: Path) -> None:
    from servers.memory_server.importer import load_state

    state = tmp_path / "m.jsonl.import-state.jsonl"
    good = {"org": "acme", "customer": "C1", "id": "r1", "memories": {"r1": ["m1"]}}
    state.write_text(DEEP + "\n" + json.dumps(good) + "\n", encoding="utf-8")
    assert load_state(state, "acme") == {("C1", "r1"): [{"r1": ["m1"]}]}


def test_audit_verify_file_reports_deep_and_forged_lines(tmp_path: Path) -> None:
    from audit.verify_file import _read_export

    path = tmp_path / "ae.jsonl"
    forged = '{"record_hash": "x", "actor": "forged", "actor": "real"}'
    path.write_text("[" * 50_000 + "]" * 50_000 + "\n" + forged + "\n", encoding="utf-8")
    problems = _read_export(path).problems
    assert [p.kind for p in problems] == ["bad_line", "bad_line"]
    assert "line 1" in problems[0].reason and "nests too deeply" in problems[0].reason
    assert "line 2" in problems[1].reason and "repeats the key 'actor'" in problems[1].reason


def test_import_legacy_refuses_a_deep_payload_cell() -> None:
    from host.legacy import RowError, _json

    with pytest.raises(RowError, match="payload nests too deeply"):
        _json("[" * 5000 + "]" * 5000, "payload", dict)
    with pytest.raises(RowError, match="payload repeats the key 'a'"):
        _json('{"a": 1, "a": 2}', "payload", dict)


def test_eval_pack_refuses_a_deep_scenario(tmp_path: Path) -> None:
    from host.evals.pack import BUNDLED, load_pack

    pack = tmp_path / "pack"
    (pack / "scenarios").mkdir(parents=True)
    (pack / "pack.json").write_text((BUNDLED / "ko-callcenter" / "pack.json").read_text(encoding="utf-8"))
    (pack / "scenarios" / "deep.json").write_text("[" * 5000 + "]" * 5000, encoding="utf-8")
    assert "deep.json nests too deeply" in _refused(load_pack, pack)


def test_kb_title_manifest_refuses_deep_json(tmp_path: Path) -> None:
    from servers.kb_server.titles import read_manifest

    path = tmp_path / "titles.jsonl"
    path.write_text('{"file": "a.md", "title": "x", "x": ' + DEEP + "}\n", encoding="utf-8")
    assert "nests too deeply" in _refused(read_manifest, path)


def test_model_param_refuses_deep_json() -> None:
    from registry.specs import parse_model_params

    assert "nests too deeply" in _refused(parse_model_params, ["x=" + "[" * 5000 + "]" * 5000])
    assert parse_model_params(["t=0.2", "name=plain text"]) == {"t": 0.2, "name": "plain text"}


# --- D: a full disk leaves nothing behind ---------------------------------------------------------


class _FullDisk:
    """A file that takes ``room`` characters, then fails as a full disk does."""

    def __init__(self, handle, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, text: str) -> int:
        if len(text) > self._room:
            self._handle.write(text[: self._room])
            self._handle.flush()
            self._room = 0
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(text)
        return self._handle.write(text)

    def __getattr__(self, name: str):
        return getattr(self._handle, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self._handle.close()


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch):
    """Every atomic output file fills the disk after 100 characters."""
    import core.atomicwrite

    monkeypatch.setattr(core.atomicwrite, "_fdopen", lambda fd, *a, **k: _FullDisk(os.fdopen(fd, *a, **k), 100))


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_atomic_output_on_a_full_disk_keeps_the_old_file_and_no_partial(tmp_path: Path, full_disk, capsys) -> None:
    from core.atomicwrite import write_atomic

    target = tmp_path / "out.json"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(SystemExit) as ended:
        write_atomic(target, "x" * 1000)
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert "error [UNAVAILABLE] cannot write" in err and "no space left on device" in err, err
    assert target.read_text(encoding="utf-8") == "old\n" and _only(tmp_path) == ["out.json"]


def test_atomic_output_replaces_the_file_whole(tmp_path: Path) -> None:
    from core.atomicwrite import write_atomic

    target = tmp_path / "out.json"
    write_atomic(target, "new\n")
    assert target.read_text(encoding="utf-8") == "new\n" and _only(tmp_path) == ["out.json"]


def test_an_error_halfway_leaves_no_file(tmp_path: Path) -> None:
    from core.atomicwrite import atomic_output

    with pytest.raises(RuntimeError), atomic_output(tmp_path / "out.jsonl") as handle:
        handle.write("half")
        raise RuntimeError("stopped")
    assert _only(tmp_path) == []


def test_memory_export_on_a_full_disk_leaves_no_partial_file(database_url: str, tmp_path: Path, full_disk) -> None:
    from typer.testing import CliRunner

    from switchboard_cli import build_app

    records = tmp_path / "m.jsonl"
    lines = [{"id": f"r{i}", "customer": "C-1001", "text": f"배송지는 서울 {i}동입니다"} for i in range(5)]
    records.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines), encoding="utf-8")
    imported = CliRunner().invoke(build_app(), ["memory", "import", str(records), "--org", "acme", "--no-embed"])
    assert imported.exit_code == 0, imported.output
    folder = tmp_path / "out"
    folder.mkdir()
    args = ["memory", "export", "--org", "acme", "--customer", "C-1001", "-o", str(folder / "me.json")]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2, result.output
    assert "UNAVAILABLE" in result.output and "no space left on device" in result.output
    assert _only(folder) == []


# --- C: a FIFO or a directory where a file is read ------------------------------------------------


def _switchboard(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess: a read that blocks on a FIFO fails the test after 20 s
    (TimeoutExpired) instead of hanging it."""
    exe = Path(sys.executable).with_name("switchboard")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=20, env=os.environ)


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "backend", "f/fifo.json"],
        ["registry", "import", "f/fifo.json"],
        ["eval", "list", "--pack", "f/pack"],
    ],
)
def test_a_fifo_is_refused_not_waited_on(database_url: str, tmp_path: Path, command: list[str]) -> None:
    from host.evals.pack import BUNDLED

    (tmp_path / "f" / "pack" / "scenarios").mkdir(parents=True)
    os.mkfifo(tmp_path / "f" / "fifo.json")
    os.mkfifo(tmp_path / "f" / "pack" / "scenarios" / "a.json")
    (tmp_path / "f" / "pack" / "pack.json").write_text((BUNDLED / "ko-callcenter" / "pack.json").read_text())
    done = _switchboard(*command, cwd=tmp_path)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "INVALID_ARGUMENT" in done.stderr and "not a regular file" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def _fifo_and_dir(tmp_path: Path, suffix: str) -> tuple[Path, Path]:
    fifo, folder = tmp_path / f"fifo{suffix}", tmp_path / f"dir{suffix}"
    os.mkfifo(fifo)
    folder.mkdir()
    return fifo, folder


def test_readers_say_what_the_path_is(tmp_path: Path) -> None:
    from registry.serverjson import read_server_json
    from servers.kb_server.rows import read_rows
    from servers.kb_server.titles import read_manifest
    from servers.memory_server.importer import read_records
    from servers.retrieval.queryfile import read_queries

    fifo, folder = _fifo_and_dir(tmp_path, ".jsonl")
    for read in (read_rows, lambda p: read_queries(p, 5), lambda p: read_records(p, None), read_manifest):
        assert "is not a regular file" in _refused(read, fifo)
        assert "is a directory" in _refused(read, folder)
        gone = _refused(read, tmp_path / "missing.jsonl")
        assert "missing.jsonl" in gone and ("no such" in gone or "does not exist" in gone), gone
    assert "is not a regular file" in _refused(read_server_json, fifo)


def test_audit_verify_says_what_the_export_and_key_are(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from audit.cli import app

    def verify(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(app, ["verify", *args])
        return result.exit_code, " ".join(result.output.split())  # Rich wraps long lines

    fifo, folder = _fifo_and_dir(tmp_path, ".jsonl")
    for path, said in ((fifo, "is not a regular file"), (folder, "is a directory")):
        code, out = verify("--file", str(path))
        assert code == 2 and "INVALID_ARGUMENT" in out and said in out, out
        code, out = verify("--file", str(path), "--public-key", str(path))
        assert code == 2 and "--public-key" in out and said in out, out
    code, out = verify("--file", str(tmp_path / "none.jsonl"))
    assert code == 2 and "NOT_FOUND" in out and "no such export file" in out, out


# --- B: other tracebacks ----------------------------------------------------------------------------

YEAR_ONE = "0001-01-01T00:00:00+09:00"  # in UTC, year 0: OverflowError / ValueError before


def test_kb_import_csv_with_a_field_over_the_limit(tmp_path: Path) -> None:
    from servers.kb_server.rows import MAX_TEXT_CHARS, read_rows

    path = tmp_path / "big.csv"
    path.write_text("id,text\na,short\nb," + "가" * (MAX_TEXT_CHARS + 1) + "\n", encoding="utf-8")
    message = _refused(read_rows, path)
    assert message.startswith("big.csv:3: ") and f"longer than {MAX_TEXT_CHARS}" in message, message


@pytest.mark.parametrize(
    "record",
    [
        {"id": "r1", "customer": "C-1001", "text": "배송지는 서울입니다", "observed_at": YEAR_ONE},
        {"id": "r1", "customer": "C-1001", "messages": [{"role": "user", "text": "안녕하세요", "timestamp": YEAR_ONE}]},
    ],
)
def test_memory_import_refuses_a_time_out_of_range(tmp_path: Path, record: dict) -> None:
    from servers.memory_server.importer import read_records

    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    message = _refused(read_records, path, None)
    assert message.startswith("m.jsonl:1: ") and "between" in message, message


def test_memory_search_file_refuses_year_one_and_a_list_customer(tmp_path: Path) -> None:
    from servers.memory_server.batch import read_memory_queries

    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({"query": "지난주 주문", "asked_at": YEAR_ONE}) + "\n", encoding="utf-8")
    assert "q.jsonl:1: asked_at" in _refused(read_memory_queries, path, "C-1001", None, 5)
    path.write_text(json.dumps({"query": "지난주 주문", "customer": ["C-1001"]}) + "\n", encoding="utf-8")
    assert "q.jsonl:1: `customer` must be a string" in _refused(read_memory_queries, path, None, None, 5)


def test_memory_search_asked_at_year_one_is_one_line(database_url: str) -> None:
    from typer.testing import CliRunner

    from switchboard_cli import build_app

    args = ["memory", "search", "지난주 주문", "--org", "acme", "--customer", "C-1001", "--asked-at", YEAR_ONE]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2, result.output
    assert "INVALID_ARGUMENT" in result.output and "--asked-at" in result.output, result.output


@pytest.mark.parametrize(
    "data",
    [b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, b"\x1f\x8b\x08\x00" + bytes(range(255, 0, -1)) * 4, os.urandom(999)],
)
def test_audit_public_key_of_binary_data(tmp_path: Path, data: bytes) -> None:
    from audit.verify import trusted_keys

    key = tmp_path / "key.pub"
    key.write_bytes(data)
    message = _refused(trusted_keys, [key])
    assert message.startswith(f"--public-key {key}: ") and "not an Ed25519 public key" in message, message


def test_kb_title_manifest_in_cp949_or_binary(tmp_path: Path) -> None:
    from servers.kb_server.titles import read_manifest

    manifest = tmp_path / "titles.csv"
    manifest.write_bytes("file,title\na.md,환불 규정\n".encode("cp949"))
    assert read_manifest(manifest) == {"a.md": "환불 규정"}
    manifest.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    assert "titles.csv: not UTF-8" in _refused(read_manifest, manifest)
