"""The ingestion worker: uploaded files are parsed, chunked and tokenised in a separate process.

Parsing is where a hostile file does its damage (a zip bomb, a 5 MB run-on line, a deeply nested
page), so it never runs in the process that serves searches or holds the database. One spawned
worker process per Switchboard process prepares files one at a time (a bounded pool of one), and
each file runs under its own budget (:class:`~servers.kb_server.limits.IngestLimits`):

- **memory**: before each file the worker sets its soft ``RLIMIT_AS`` to its current address
  space plus ``memory_mb``; an allocation past it fails (``MemoryError`` in Python, a failed
  ``malloc`` in C), the file is refused and the worker exits, so the next file gets a fresh one;
- **wall time**: the caller waits ``timeout_s`` for the answer, then kills the worker
  (``SIGKILL``) and refuses the file; the next file starts a new worker.

A refused file therefore costs at most its budget, and nothing is written: the database write
happens afterwards, in the caller, only when every file of the upload was prepared.
The worker loads kiwi once at start (~6 s) so a file's budget is spent on the file itself.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from core.errors import SwitchboardError, unavailable
from servers.kb_server.limits import MB, IngestLimits, over_limit

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from servers.kb_server.store import PreparedDocument, UploadItem

STOP_POLL_S = 0.2  # how often a file being prepared checks whether the upload was cancelled
STARTUP_TIMEOUT_S = 180.0  # importing and loading kiwi on a busy machine
DEFAULT_IDLE_S = 60.0  # an idle worker exits (kiwi holds ~550 MB); the next upload starts a new one


def idle_seconds() -> float:
    """``SWITCHBOARD_KB_WORKER_IDLE_S`` (default 60): how long an idle worker is kept."""
    try:
        return max(1.0, float(os.environ.get("SWITCHBOARD_KB_WORKER_IDLE_S", DEFAULT_IDLE_S)))
    except ValueError:
        return DEFAULT_IDLE_S


class Stopped(Exception):
    """The upload was cancelled while its files were prepared; nothing was written."""


@dataclass(slots=True)
class FileStats:
    """What one file cost in the worker (for `bench/hostile_files.py` and the upload report)."""

    filename: str
    outcome: str  # ok | refused | timeout | memory | crashed
    wall_s: float
    peak_rss_mb: float | None
    extra: dict[str, Any] = field(default_factory=dict)


def _status_kb(pid: int | str, key: str) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _serve(conn: Connection) -> None:
    """The worker's loop: receive (item, limits), answer (kind, payload, stats)."""
    from servers.kb_server.store import prepare
    from servers.retrieval.korean import backend

    backend()  # load kiwi before the first file's clock starts
    conn.send(("ready", os.getpid(), None))
    while True:
        try:
            item, limits = conn.recv()
        except (EOFError, OSError):
            return
        _reset_peak()
        base = (_status_kb("self", "VmSize") or 0) * 1024
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (int(base + limits.memory_mb * MB), hard))
        started = time.monotonic()
        kind, payload = "ok", None
        try:
            payload = prepare(item, limits)
        except SwitchboardError as err:
            kind, payload = "error", (err.code.value, err.message, err.details)
        except MemoryError:
            kind = "memory"
        except RecursionError:
            kind, payload = "error", ("INVALID_ARGUMENT", f"{item.filename}: the document nests too deep to read", {})
        except Exception as exc:  # a parser bug on odd input: refuse the file, keep serving
            kind, payload = "error", ("INVALID_ARGUMENT", f"{item.filename}: cannot be read ({type(exc).__name__})", {})
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        stats = {"wall_s": time.monotonic() - started, "peak_rss_kb": _status_kb("self", "VmHWM")}
        payload = None if kind == "memory" else payload
        conn.send((kind, payload, stats))
        if kind == "memory":
            return  # a process that hit its limit may be fragmented: the next file gets a fresh one


def _reset_peak() -> None:
    """Reset VmHWM so the peak RSS reported is this file's (Linux ``clear_refs`` 5)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass


class IngestWorker:
    """A spawned process preparing one file at a time under a per-file budget (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self._used = 0.0
        self._timer: threading.Timer | None = None
        self.last: FileStats | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _start(self, stop: threading.Event | None = None) -> Connection:
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_serve, args=(child,), daemon=True, name="switchboard-kb-ingest")
        with _without_main_module():
            proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        if not self._answered(parent, STARTUP_TIMEOUT_S, stop):  # kiwi loads for 6-10 s: Ctrl-C need not wait
            self.stop()
            raise unavailable("the ingestion worker did not start; try again (see the server log)")
        try:
            parent.recv()
        except (EOFError, OSError):
            self.stop()
            raise unavailable("the ingestion worker failed at start; try again (see the server log)") from None
        return parent

    def start(self) -> None:
        """Start the worker now if it is not running (uploads start it on demand)."""
        with self._lock:
            if self.pid is None or self._conn is None:
                self._start()

    def stop(self) -> None:
        """Kill the worker now (the next file starts a new one)."""
        proc, conn = self._proc, self._conn
        self._proc = self._conn = None
        if proc is not None and proc.is_alive():
            proc.kill()
        if proc is not None:
            proc.join(5)
        if conn is not None:
            conn.close()

    def _stop_if_idle(self, idle: float) -> None:
        with self._lock:
            if time.monotonic() - self._used >= idle - 0.5:
                self.stop()

    def _keep_until_idle(self) -> None:
        """Stop the worker once it has been idle for ``idle_seconds()`` (a daemon timer)."""
        idle = idle_seconds()
        self._used = time.monotonic()
        timer = threading.Timer(idle, self._stop_if_idle, args=(idle,))
        timer.daemon = True
        previous, self._timer = self._timer, timer
        if previous is not None:
            previous.cancel()  # one timer, not one thread per file (a 200,000-row import)
        timer.start()

    def prepare(self, item: UploadItem, limits: IngestLimits, stop: threading.Event | None = None) -> PreparedDocument:
        """Prepare one file in the worker; INVALID_ARGUMENT naming the limit when it is over budget.
        ``stop`` set while the file is prepared (the upload was cancelled: Ctrl-C) kills the worker
        and raises :class:`Stopped`."""
        try:
            return self._prepare(item, limits, stop)
        finally:
            self._keep_until_idle()

    def _answered(self, conn: Connection, timeout_s: float, stop: threading.Event | None) -> bool:
        """Whether the worker answered within ``timeout_s``; :class:`Stopped` once ``stop`` is set."""
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if conn.poll(max(0.0, min(left, STOP_POLL_S)) if stop is not None else max(0.0, left)):
                return True
            if stop is not None and stop.is_set():
                self.stop()  # the file is half-prepared: the next upload gets a fresh worker
                raise Stopped()
            if left <= 0:
                return False

    def _prepare(self, item: UploadItem, limits: IngestLimits, stop: threading.Event | None = None) -> PreparedDocument:
        with self._lock:
            conn = self._conn if self.pid is not None and self._conn is not None else self._start(stop)
            pid = self.pid
            started = time.monotonic()
            conn.send((item, limits))
            if not self._answered(conn, limits.timeout_s, stop):
                peak = _status_kb(pid, "VmHWM") if pid else None
                self.stop()
                self.last = FileStats(item.filename, "timeout", time.monotonic() - started, _mb(peak))
                raise over_limit(
                    item.filename, f"reading it took longer than the {limits.timeout_s:g} s per-file limit", "timeout_s"
                )
            try:
                kind, payload, stats = conn.recv()
            except (EOFError, OSError):  # killed by the kernel or a C library abort
                self.stop()
                self.last = FileStats(item.filename, "crashed", time.monotonic() - started, None)
                raise over_limit(
                    item.filename,
                    f"the parser ran out of its {limits.memory_mb:g} MB memory budget or crashed",
                    "memory_mb",
                ) from None
        outcome = {"ok": "ok", "error": "refused", "memory": "memory"}[kind]
        self.last = FileStats(item.filename, outcome, stats["wall_s"], _mb(stats["peak_rss_kb"]))
        if kind == "ok":
            return payload
        if kind == "memory":
            self.stop()
            raise over_limit(
                item.filename, f"reading it needs more than the {limits.memory_mb:g} MB budget", "memory_mb"
            )
        code, message, details = payload
        raise SwitchboardError(code, message, **details)


@contextmanager
def _without_main_module() -> Iterator[None]:
    """Spawn the worker without re-running the parent's ``__main__`` in it.

    ``multiprocessing`` re-imports the parent's main script in a spawned child; the worker needs
    only this module, and a main read from stdin (``python - <<EOF``) cannot be re-imported at all.
    """
    main = sys.modules.get("__main__")
    saved = {name: main.__dict__.pop(name) for name in ("__file__", "__spec__") if main and name in main.__dict__}
    if main is not None:
        main.__spec__ = None
    try:
        yield
    finally:
        if main is not None:
            main.__dict__.pop("__spec__", None)
            main.__dict__.update(saved)


def _mb(kb: float | None) -> float | None:
    return None if kb is None else round(kb / 1024, 1)


_worker = IngestWorker()


def worker() -> IngestWorker:
    """The process's ingestion worker."""
    return _worker


def prepare_all(
    items: Sequence[UploadItem],
    limits: IngestLimits | None = None,
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
) -> list[PreparedDocument]:
    """Prepare every file in the worker, in order; the first refused file stops the batch.
    ``progress(1)`` after each file. ``stop`` set (the upload awaiting this thread was cancelled:
    Ctrl-C, SIGTERM) ends the batch within :data:`STOP_POLL_S` with :class:`Stopped`, so the
    process does not wait for every remaining file before it exits."""
    limits = limits or IngestLimits.from_env()
    prepared = []
    for item in items:
        if stop is not None and stop.is_set():
            raise Stopped()
        try:
            prepared.append(_worker.prepare(item, limits, stop))
        except SwitchboardError as err:
            if item.label is None:
                raise
            # a row's made-up file name ("nul.txt") is named as the row: "rows.jsonl:2 (id 'nul'): …"
            message = err.message.removeprefix(f"{item.filename}: ").removeprefix(f"{item.filename} ")
            raise SwitchboardError(err.code, f"{item.label} (id {item.doc_id!r}): {message}", **err.details) from None
        if progress:
            progress(1)
    return prepared
