"""Kiwi in a helper process, so a search server's start never waits for it under the GIL.

Kiwi's constructor and first analysis hold the GIL for ~0.65 s in one piece. In a server process
that freezes the event loop and runs in series with every other start-up job (imports, the e5
model), so the first search after a start paid for all of them one after the other, on one of the
machine's cores. ``switchboard serve kb|memory`` therefore starts this helper first thing, before
importing FastMCP (:func:`start_for`): a child Python process (``python -m
servers.retrieval.korean``) that builds kiwi on another core while the server imports and answers
the MCP handshake, then answers the server's tokenizer calls (``tokenize``, ``tokenize_many``,
``split_sentences``, ``backend``) over its stdin and stdout, one JSON line each way (~0.3 ms a
call). The child runs the very functions of :mod:`servers.retrieval.korean`, so the answers are
the same as in process.

It is started only when the machine has a core to spare (:func:`spare_core`): on a saturated
machine it would only slow the handshake down. The helper is an optimisation, never a dependency:
if it cannot start, answers garbage, takes longer than :data:`TIMEOUT_S`, or dies, it is stopped
and the server loads kiwi in its own process as before (``SWITCHBOARD_KIWI_PROCESS=0`` does that
from the start, ``=1`` starts the helper whatever the load). It exits when the server does (end of
file on its stdin; on Linux also the parent-death signal), so nothing is left behind.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("switchboard.retrieval")

COMMANDS = frozenset({"kb", "memory"})  # the `switchboard serve` servers that tokenise
TIMEOUT_S = 60.0  # one call, including the helper's start-up when it is the first
_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ASCII lines: a lone surrogate travels as \ud800


def enabled(*, serving: bool = False) -> bool:
    """``SWITCHBOARD_KIWI_PROCESS``: ``auto`` (default: when a core is spare, see :func:`spare_core`,
    or always for a process already ``serving`` traffic), ``1`` (always) or ``0`` (never: kiwi
    loads in the server's process)."""
    value = os.environ.get("SWITCHBOARD_KIWI_PROCESS", "auto").strip().lower()
    if value in {"0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    return serving or spare_core()


def spare_core(loadavg: str | None = None, cpus: int | None = None) -> bool:
    """True when this machine has a core to spare for the helper right now.

    On a saturated machine a helper building kiwi beside the server only takes CPU from the
    server's own imports and its MCP handshake (measured at load 3-4 on 2 cores: ``initialize``
    1.7-3.8 s instead of ~1.0 s), so it is started only when neither the 1-minute load average nor
    the processes runnable at this instant (``/proc/loadavg``, this one not counted) reach
    ``cpus - 0.5``. Without ``/proc`` the helper is used."""
    try:
        if loadavg is None:
            with open("/proc/loadavg", encoding="ascii") as handle:
                loadavg = handle.read()
        fields = loadavg.split()
        load1, running = float(fields[0]), int(fields[3].split("/")[0]) - 1
    except (OSError, ValueError, IndexError):
        return True
    cores = cpus if cpus is not None else (os.cpu_count() or 1)
    return max(load1, running) < cores - 0.5


class KiwiProcess:
    """The parent's end of one helper process: one call at a time, answers in order."""

    def __init__(self, command: Sequence[str] | None = None) -> None:
        child_env = {**os.environ, "SWITCHBOARD_KIWI_PROCESS": "0"}  # the child tokenises itself
        self._proc = subprocess.Popen(
            list(command or [sys.executable, "-m", "servers.retrieval.korean", "--serve-stdio"]),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=child_env,
            close_fds=True,
        )
        self._lock = threading.Lock()
        self._buffer = b""
        self.alive = True

    @property
    def pid(self) -> int:
        return self._proc.pid

    def call(self, op: str, arg: Any = None) -> Any:
        """The helper's answer to ``op(arg)``; raises ``HelperGone`` (and stops it) on any failure."""
        line = (_ENCODER.encode({"op": op, "arg": arg}) + "\n").encode("ascii")
        with self._lock:
            if not self.alive:
                raise HelperGone("the kiwi helper has stopped")
            try:
                assert self._proc.stdin is not None
                self._proc.stdin.write(line)
                self._proc.stdin.flush()
                answer = json.loads(self._read_line())
            except (OSError, ValueError, HelperGone) as exc:
                self._stop()
                raise HelperGone(f"the kiwi helper failed ({type(exc).__name__})") from None
        if "ok" not in answer:
            raise HelperGone(f"the kiwi helper refused {op}: {answer.get('error')}")
        return answer["ok"]

    def _read_line(self) -> bytes:
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            ready, _, _ = select.select([fd], [], [], TIMEOUT_S)
            if not ready:
                raise HelperGone(f"no answer in {TIMEOUT_S:.0f} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise HelperGone("it exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def _stop(self) -> None:
        self.alive = False
        try:
            self._proc.kill()
            self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            pass
        for stream in (self._proc.stdin, self._proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass

    def close(self) -> None:
        """Stop the helper (a server just exits and the helper follows; the host stops it on shutdown).

        Never waits for a call in progress (it may be waiting for kiwi to load, in a thread, while
        this runs on an event loop): the helper is killed and that call ends with ``HelperGone``."""
        if self._lock.acquire(blocking=False):
            try:
                if self.alive:
                    self._stop()
            finally:
                self._lock.release()
            return
        self.alive = False
        with contextlib.suppress(OSError):
            self._proc.kill()


class HelperGone(Exception):
    """The helper cannot answer: the caller tokenises in process."""


_current: KiwiProcess | None = None


def current() -> KiwiProcess | None:
    """The running helper of this process, or None (tokenise in process)."""
    helper = _current
    return helper if helper is not None and helper.alive else None


def start(*, serving: bool = False) -> KiwiProcess | None:
    """Start this process's helper (once); None when it is switched off or cannot start.

    ``serving``: for a process that already serves traffic (the host), where kiwi loading in
    process would freeze every connection's event loop, so the helper is started whatever the
    load (``SWITCHBOARD_KIWI_PROCESS=0`` still keeps kiwi in process)."""
    global _current
    if _current is not None or not enabled(serving=serving):
        return current()
    try:
        _current = KiwiProcess()
    except OSError as exc:
        log.warning("kiwi helper not started (%s): kiwi loads in process", exc)
        return None
    return _current


def start_for(argv: Sequence[str]) -> KiwiProcess | None:
    """Start the helper when ``argv`` (``switchboard``'s arguments) serves the KB or memory."""
    if len(argv) >= 2 and argv[0] == "serve" and argv[1] in COMMANDS and not {"--help", "-h"} & set(argv):
        return start()
    return None


def stop() -> None:
    """Stop this process's helper (tests)."""
    global _current
    helper, _current = _current, None
    if helper is not None:
        helper.close()


def serve_stdio(handlers: dict[str, Any]) -> None:
    """The child's loop: one JSON request per stdin line, one JSON answer per stdout line."""
    _die_with_parent()
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        try:
            request = json.loads(raw)
            answer = {"ok": handlers[request["op"]](request.get("arg"))}
        except Exception as exc:  # a bad request is answered, never fatal
            answer = {"error": type(exc).__name__}
        out.write((_ENCODER.encode(answer) + "\n").encode("ascii"))
        out.flush()


def _die_with_parent() -> None:
    """Linux: get SIGTERM when the parent dies, even if it never closes our stdin (kill -9)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() == 1:  # the parent died before the call
            raise SystemExit(0)
    except (OSError, AttributeError):
        pass
