"""An import that meets a full disk (or a file-size limit), or a read-only data directory, ends
with one line, not a traceback.

`kb import`, `orders import` and `memory import` under `prlimit --fsize` ended with a Rich
traceback of `sqlite3.OperationalError: disk I/O error` (exit 1); the orders one printed 10 rows
of bound parameters. What was written is as the command promises (kb and orders roll back, memory
import keeps finished records and resumes), so the line says to free space and run it again."""

from __future__ import annotations

import errno
import sqlite3

import pytest

from core.cliutil import disk_full_message, run


def _db_error(message: str) -> Exception:
    from sqlalchemy.exc import OperationalError

    values = {"text": "송*늘 010-****-5678"}
    return OperationalError("INSERT INTO kb_chunk ...", values, sqlite3.OperationalError(message))


@pytest.mark.parametrize(
    "err",
    [
        _db_error("disk I/O error"),
        _db_error("database or disk is full"),
        OSError(errno.ENOSPC, "No space left on device"),
        OSError(errno.EFBIG, "File too large"),
    ],
)
def test_a_full_disk_is_one_line_saying_what_to_do(err: Exception, capsys: pytest.CaptureFixture[str]) -> None:
    async def write() -> None:
        raise err

    with pytest.raises(SystemExit) as caught:
        run(write)
    assert caught.value.code == 2
    out = " ".join(capsys.readouterr().err.split())
    assert "UNAVAILABLE" in out and "full" in out and "run the command again" in out, out
    assert "Traceback" not in out and "010-" not in out and "INSERT" not in out


def test_other_errors_are_not_taken_for_a_full_disk() -> None:
    assert disk_full_message(_db_error("no such table: kb_chunk")) is None
    assert disk_full_message(OSError(errno.ENOENT, "No such file")) is None
    assert disk_full_message(ValueError("disk I/O error")) is None  # only the database driver's or the OS's


def test_a_read_only_data_directory_is_one_line_naming_it(capsys: pytest.CaptureFixture[str]) -> None:
    """SWITCHBOARD_HOME on a read-only mount: `kb import` printed a traceback holding the row's
    text in the bound parameters, `orders import` the customer's name."""

    async def write() -> None:
        raise _db_error("attempt to write a readonly database")

    with pytest.raises(SystemExit) as caught:
        run(write)
    assert caught.value.code == 2
    out = " ".join(capsys.readouterr().err.split())
    assert "UNAVAILABLE" in out and "read-only" in out and "SWITCHBOARD_HOME" in out, out
    assert "010-" not in out and "INSERT" not in out


def test_a_read_only_input_folder_names_the_file_not_the_data_home(capsys: pytest.CaptureFixture[str]) -> None:
    """`memory import` of a file on a read-only mount cannot write its state file beside it."""

    async def write() -> None:
        raise OSError(errno.EROFS, "Read-only file system", "/mnt/ro/in.jsonl.import-state.jsonl")

    with pytest.raises(SystemExit):
        run(write)
    out = " ".join(capsys.readouterr().err.split())
    assert "cannot open /mnt/ro/in.jsonl.import-state.jsonl: Read-only file system" in out, out
    assert "SWITCHBOARD_HOME" not in out


def test_running_out_of_memory_is_one_line_saying_to_split_the_input(capsys: pytest.CaptureFixture[str]) -> None:
    """`orders import` of a 29 MB CSV peaks at 800 MB resident; under a memory limit a bigger file
    ended in a MemoryError traceback."""

    async def read() -> None:
        raise MemoryError()

    with pytest.raises(SystemExit) as caught:
        run(read)
    assert caught.value.code == 2
    out = " ".join(capsys.readouterr().err.split())
    assert "UNAVAILABLE" in out and "out of memory" in out and "Split the input" in out, out
