"""The write-ahead journal of tool-call records: durable before the answer, chained just after.

A server's tool call must not answer before its audit record is durable (fail closed). Chaining
the record into the log (the database's write lock, the chain head, the SQLite transaction) is
most of an audited call's cost, and a call waited for all of it. With the journal, the call
waits only for its prepared record (validated, redacted, sealed under the data subject's key:
no plain personal data) to be appended as one line to a file of this process's own; the
appender chains it into the database a moment later (``SWITCHBOARD_AUDIT_JOURNAL_DELAY_MS``,
default 2 ms), once the answer has left, in one transaction with the lines written meanwhile.
Under steady traffic the transactions are paced: one starts at most every
``SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS`` (default 50 ms) unless the lines waiting fill a batch,
so a server answering one call after another commits once per ~25 calls instead of once per call
(an order lookup's record costs ~0.2 ms less CPU; ``docs/performance.md``). A lone call after a
quiet spell is still chained 2 ms after it answered.

Durability is the database's: the line is in the operating system's cache when ``os.write``
returns, so it survives kill -9 of the process, as a WAL commit with ``synchronous=NORMAL`` does;
with ``SWITCHBOARD_AUDIT_SQLITE_SYNCHRONOUS=FULL`` or ``EXTRA`` each line is also ``fdatasync``-ed.

Files live beside the SQLite database, in ``<database>.audit-journal/``, one per appender
(``<pid>-<random>.jnl``, mode 0600), each held under an exclusive ``flock`` while its process
lives. A file whose lock can be taken belongs to a process that died: the next appender to open
the database chains the lines that are not in the log yet (by ``event_id``) and removes the file
(:func:`candidates`, :func:`claimed`, :func:`read_entries`). A line is ``<sha256 prefix> <JSON>``;
a line torn by a crash fails its checksum and is dropped (its call never answered).
``SWITCHBOARD_AUDIT_JOURNAL=off`` makes every call wait for its commit instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import secrets
from pathlib import Path
from typing import Any

from audit.deferred import DeferredEvent, from_line, is_deferred_line, is_whole_deferred_line
from audit.prepare import PreparedEvent
from core.errors import unavailable

SUFFIX = ".audit-journal"
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
_SUM = 16  # hex characters of the line checksum
DEFAULT_DELAY_MS = 2.0
DEFAULT_INTERVAL_MS = 50.0


def enabled() -> bool:
    """``SWITCHBOARD_AUDIT_JOURNAL``: ``on`` (default) or ``off`` (each call waits for its commit)."""
    value = os.environ.get("SWITCHBOARD_AUDIT_JOURNAL", "on").strip().lower()
    if value not in {"on", "off"}:
        raise unavailable("SWITCHBOARD_AUDIT_JOURNAL must be on or off")
    return value == "on"


def _milliseconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        value = float(raw) if raw else default
    except ValueError:
        raise unavailable(f"{name} must be a number of milliseconds") from None
    if value != value:  # NaN
        raise unavailable(f"{name} must be a number of milliseconds")
    return min(max(value, 0.0), 1000.0) / 1000


def delay_s() -> float:
    """``SWITCHBOARD_AUDIT_JOURNAL_DELAY_MS`` (default 2, at most 1000): how long after a line is
    written its chaining starts, so that the call's answer leaves first and a burst shares a commit."""
    return _milliseconds("SWITCHBOARD_AUDIT_JOURNAL_DELAY_MS", DEFAULT_DELAY_MS)


def interval_s() -> float:
    """``SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS`` (default 50, at most 1000): the least time from the
    start of one chaining transaction to the start of the next, unless a full batch waits."""
    return _milliseconds("SWITCHBOARD_AUDIT_JOURNAL_INTERVAL_MS", DEFAULT_INTERVAL_MS)


def directory_for(db_path: str) -> Path:
    """The journal directory of the SQLite database at ``db_path``."""
    path = Path(db_path).resolve()
    return path.with_name(path.name + SUFFIX)


def _line(item: PreparedEvent | DeferredEvent) -> bytes:
    if isinstance(item, DeferredEvent):
        body = item.line_text()  # = _ENCODER.encode(item.line_body()), without the encoder
    else:
        body = _ENCODER.encode({"row": item.row, "hmacs": list(item.hmacs)})
    raw = body.encode()
    return b"%s %s\n" % (hashlib.sha256(raw).hexdigest()[:_SUM].encode("ascii"), raw)


def _parse(line: bytes) -> dict[str, Any] | None:
    """The data of one line, or None when the line is torn or corrupt."""
    try:
        text = line.decode()
        digest, body = text.split(" ", 1)
        if hashlib.sha256(body.encode()).hexdigest()[:_SUM] != digest:
            return None
        data = json.loads(body)
        if not isinstance(data, dict):
            return None
        if is_deferred_line(data):
            return data if is_whole_deferred_line(data) else None
        return data if isinstance(data["row"], dict) and isinstance(data["hmacs"], list) else None
    except (ValueError, KeyError, TypeError):
        return None


def _lines(path: Path) -> list[dict[str, Any]]:
    return [data for line in path.read_bytes().split(b"\n") if line and (data := _parse(line)) is not None]


def read_entries(path: Path) -> list[PreparedEvent]:
    """The intact entries of the journal file ``path``, in the order they were written.

    A deferred line (``audit/deferred.py``) is opened with its data subject's key and redacted now.
    """
    return [
        from_line(data) if is_deferred_line(data) else PreparedEvent(dict(data["row"]), tuple(data["hmacs"]))
        for data in _lines(path)
    ]


@contextlib.contextmanager
def claimed(path: Path) -> Any:
    """Yields True when ``path`` is not held by a live process (and holds it meanwhile)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def candidates(db_path: str) -> list[Path]:
    """Every journal file of ``db_path``, oldest first (live ones too: :func:`claimed` tells)."""
    folder = directory_for(db_path)
    if not folder.is_dir():
        return []
    paths = []
    for path in folder.glob("*.jnl"):
        with contextlib.suppress(FileNotFoundError):
            paths.append((path.stat().st_mtime, path))
    return [path for _, path in sorted(paths)]


def pending_orphan_entries(db_path: str) -> int:
    """How many intact entries wait in the journals of stopped processes (for ``audit verify``)."""
    total = 0
    for path in candidates(db_path):
        with claimed(path) as free:
            if free:
                total += len(_lines(path))
    return total


class Journal:
    """This appender's journal file: one line per record, emptied once every line is chained."""

    def __init__(self, db_path: str, *, sync: bool = False) -> None:
        self.folder = directory_for(db_path)
        self.sync = sync
        self.delay_s = delay_s()
        self.interval_s = interval_s()
        self.path: Path | None = None
        self._fd: int | None = None
        self._size = 0

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.folder / f"{os.getpid()}-{secrets.token_hex(6)}.jnl"
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a new file: nobody else holds it
        self.path, self._fd, self._size = path, fd, 0
        return fd

    def write(self, item: PreparedEvent | DeferredEvent) -> None:
        """Append ``item``'s line; raises UNAVAILABLE (and keeps the file whole) if it cannot."""
        data = _line(item)
        try:
            fd = self._open()
            written = os.write(fd, data)
            if written != len(data):
                raise OSError(f"short write ({written} of {len(data)} bytes)")
            if self.sync:
                os.fdatasync(fd)
        except OSError as exc:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)  # no torn line before the next one
            raise unavailable(
                f"the audit journal cannot be written ({exc.strerror or exc}), so the call was not answered"
            ) from None
        self._size += len(data)

    def entries(self) -> list[PreparedEvent]:
        """What this journal holds now (after a failed chaining, to retry it)."""
        if self.path is None:
            return []
        try:
            return read_entries(self.path)
        except FileNotFoundError:  # its directory was removed (a test's data home)
            return []

    def clear(self) -> None:
        """Every line is chained: empty the file."""
        if self._fd is not None and self._size:
            os.ftruncate(self._fd, 0)
            self._size = 0

    def close(self) -> None:
        """Clean shutdown after every line is chained: remove the file."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            if self._size == 0 and self.path is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.path.unlink()
        finally:
            os.close(fd)
