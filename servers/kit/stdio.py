"""MCP over stdio on the event loop's own pipe reader and writer: no worker thread per message.

The MCP SDK's stdio transport (``mcp.server.stdio.stdio_server``) reads every line and writes
and flushes every message through ``anyio.wrap_file``: a hand-off to a worker thread and back,
three to four of them per tool call. On a small box those hand-offs were most of what a call
cost a server: a bare FastMCP server spent ~1.1 ms of CPU per call, ~0.6 ms on pipes read and
written by the event loop (``bench/order_server.py``).

:func:`run_stdio` serves a FastMCP server the way ``FastMCP.run(transport="stdio")`` does,
through the same SDK session code, with two line streams of its own:

- when fd 0 and fd 1 are pipes (Python clients) or sockets (Node.js clients, Claude Desktop),
  they are read and written without blocking from the event loop: a pipe is reopened through
  ``/proc/self/fd`` as a new, non-blocking open file description, a socket is used with
  ``MSG_DONTWAIT``; so the wire's own descriptions (which a wrapper process may share) keep their
  blocking mode;
- fd 0 then reads ``/dev/null`` and fd 1 writes to stderr while serving, as with the SDK's
  transport: a stray ``print`` or a child process cannot corrupt the wire;
- lines are split on ``\\n`` with no length limit and decoded as UTF-8 with replacement, as the
  SDK's text wrapper does.

Anything else (a terminal, a file) falls back to the SDK's transport, as does
``SWITCHBOARD_STDIO=sdk``.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import re
import socket
import stat
from collections.abc import AsyncIterator
from typing import Any

from core.errors import invalid


class _Wire:
    """One direction of the MCP wire: non-blocking reads or writes on a descriptor of its own.

    A pipe is reopened through ``/proc/self/fd`` with ``O_NONBLOCK`` (a new open file description);
    a socket (Node.js clients launch servers on socket pairs) is used with ``MSG_DONTWAIT`` on each
    call. Either way the wire's own descriptions keep their blocking mode.
    """

    def __init__(self, fd: int, *, writing: bool) -> None:
        self.sock: socket.socket | None = None
        self._watching: asyncio.AbstractEventLoop | None = None  # the loop the reader stays registered on
        self._waiter: asyncio.Future[None] | None = None
        self._idle_wakes = 0  # wake-ups with nobody waiting since the last wait
        if _kind(fd) == "socket":
            self.fd = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
            self.sock = socket.socket(fileno=self.fd)
        else:  # ENXIO when the other end is gone: the caller falls back to the SDK's transport
            mode = os.O_WRONLY if writing else os.O_RDONLY
            self.fd = os.open(f"/proc/self/fd/{fd}", mode | os.O_NONBLOCK | os.O_CLOEXEC)

    def read(self) -> bytes | None:
        """What has arrived (b"" at the end of input), or None when nothing has yet."""
        try:
            if self.sock is not None:
                return self.sock.recv(1 << 16, socket.MSG_DONTWAIT)
            return os.read(self.fd, 1 << 16)
        except (BlockingIOError, InterruptedError):
            return None
        except ConnectionResetError:
            return b""

    def write(self, data: memoryview) -> int:
        """Bytes written now (0 when the wire is full); raises BrokenPipeError when the client is gone."""
        try:
            if self.sock is not None:
                return self.sock.send(data, socket.MSG_DONTWAIT)
            return os.write(self.fd, data)
        except (BlockingIOError, InterruptedError):
            return 0

    async def ready(self, *, writing: bool) -> None:
        """Wait until the descriptor can be read (or written) without blocking."""
        if not writing:
            return await self._readable()
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()

        def wake() -> None:
            if not waiter.done():
                waiter.set_result(None)

        loop.add_writer(self.fd, wake)
        try:
            await waiter
        finally:
            loop.remove_writer(self.fd)

    async def _readable(self) -> None:
        """Wait until a read may not block (it may still find nothing: read again, wait again).

        The reader stays registered from one wait to the next: adding and removing it for every
        message (two ``epoll_ctl`` calls and the selector's bookkeeping) was ~4% of an order
        server's busy samples. The selector is level-triggered, so a wake-up queued before the last
        read can arrive after it, and data nobody reads yet would wake the loop on every turn: the
        second wake-up in a row with nobody waiting unregisters the reader until the next wait."""
        loop = asyncio.get_running_loop()
        self._waiter = loop.create_future()
        self._idle_wakes = 0
        if self._watching is not loop:
            self._unwatch()
            loop.add_reader(self.fd, self._wake)
            self._watching = loop
        try:
            await self._waiter
        finally:
            self._waiter = None

    def _wake(self) -> None:
        if self._waiter is None:
            self._idle_wakes += 1
            if self._idle_wakes >= 2:  # readable and nobody reads: stop watching until the next wait
                self._unwatch()
        elif not self._waiter.done():
            self._waiter.set_result(None)

    def _unwatch(self) -> None:
        loop, self._watching = self._watching, None
        if loop is not None and not loop.is_closed():
            loop.remove_reader(self.fd)

    def close(self) -> None:
        self._unwatch()
        if self.sock is not None:
            self.sock.close()
        else:
            os.close(self.fd)


class _Lines:
    """The wire's incoming lines (``async for``), as ``anyio.AsyncFile`` iteration yields them."""

    def __init__(self, wire: _Wire, out: _Out | None = None) -> None:
        self._wire = wire
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer known to hold no newline
        self._out = out  # where lines the SDK cannot read are answered (None: passed on as they are)

    def __aiter__(self) -> _Lines:
        return self

    async def __anext__(self) -> str:
        while True:
            line = await self._next_line()
            answers = refusal(line) if self._out is not None else None
            if answers is None:
                return line
            for answer in answers:  # the SDK would drop the line without a word: answer it here
                await self._out.write(answer)

    async def _next_line(self) -> str:
        while True:
            end = self._buffer.find(b"\n", self._scanned)
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                self._scanned = 0
                return line.decode("utf-8", "replace")
            self._scanned = len(self._buffer)
            chunk = self._wire.read()
            if chunk is None:
                await self._wire.ready(writing=False)
                continue
            if not chunk:  # end of input: a last line without its newline still counts
                if not self._buffer:
                    raise StopAsyncIteration
                line = bytes(self._buffer)
                self._buffer.clear()
                self._scanned = 0
                return line.decode("utf-8", "replace")
            self._buffer += chunk


# an escaped UTF-16 surrogate that is not half of a pair (JSON allows it; it is no character)
_LONE_SURROGATE = re.compile(
    r"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F][0-9a-fA-F]{2})"
    r"|(?<!\\u[dD][89abAB][0-9a-fA-F]{2})\\u[dD][c-fC-F][0-9a-fA-F]{2}"
)
NOT_JSON = "Parse error: the line is not JSON: send one JSON-RPC message per line"
BATCH = (
    "a JSON-RPC batch (a JSON array) is not accepted: MCP removed batching in protocol 2025-06-18; "
    "send one JSON-RPC message per line"
)
SURROGATE = (
    "a string in this message holds a lone surrogate (an escaped \\ud800-\\udfff that is not part of a "
    "pair), which is not text: send valid UTF-8"
)


def refusal(line: str) -> list[str] | None:
    """The answers to a line the MCP SDK's reader would drop without a word (a batch, a line that is
    not JSON, a lone surrogate its parser refuses), else None. Ordinary messages cost a first-character
    test (and a substring test)."""
    text = line.strip()
    if not text:
        return None
    if text[0] == "{":
        if "\\u" not in text or not _LONE_SURROGATE.search(text):
            return None
        try:
            message = json.loads(text)
        except ValueError:
            return None  # the SDK answers (or drops) broken JSON as before
        try:
            json.dumps(message, ensure_ascii=False).encode("utf-8")
            return None  # an escaped backslash before "ud800", not a surrogate
        except UnicodeEncodeError:
            pass
        rid = message.get("id") if isinstance(message, dict) else None
        return [_error_line(rid, -32602, SURROGATE)] if _is_id(rid) else []
    try:
        message = json.loads(text)
    except ValueError:
        return [_error_line(None, -32700, NOT_JSON)]
    if isinstance(message, list):
        ids = [m.get("id") for m in message if isinstance(m, dict) and _is_id(m.get("id"))]
        return [_error_line(rid, -32600, BATCH) for rid in ids] or [_error_line(None, -32600, BATCH)]
    return None


def _is_id(value: Any) -> bool:
    return isinstance(value, str | int) and not isinstance(value, bool)


def _error_line(rid: Any, code: int, message: str) -> str:
    body = {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": message}}
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n"


class _Out:
    """The wire's outgoing side: ``write`` sends what the wire takes now, ``flush`` waits for the rest."""

    def __init__(self, wire: _Wire) -> None:
        self._wire = wire
        self._pending = bytearray()

    async def write(self, text: str) -> None:
        self._pending += text.encode("utf-8")
        self._send()

    def _send(self) -> None:
        if self._pending:
            sent = self._wire.write(memoryview(self._pending))
            del self._pending[:sent]

    async def flush(self) -> None:
        while self._pending:
            await self._wire.ready(writing=True)
            self._send()


def mode() -> str:
    """``SWITCHBOARD_STDIO``: ``pipes`` (default: the event loop's own reads and writes when it can)
    or ``sdk`` (the MCP SDK's transport)."""
    value = os.environ.get("SWITCHBOARD_STDIO", "pipes").strip().lower() or "pipes"
    if value not in {"pipes", "sdk"}:
        raise invalid("SWITCHBOARD_STDIO must be pipes or sdk")
    return value


_serving = [False]  # wire_streams() is open in this process


def on_pipes() -> bool:
    """True while this process serves MCP on the event loop's own reads and writes (not the SDK's)."""
    return _serving[0]


def _kind(fd: int) -> str:
    try:
        mode_bits = os.fstat(fd).st_mode
    except OSError:
        return "other"
    if stat.S_ISFIFO(mode_bits):
        return "pipe"
    if stat.S_ISSOCK(mode_bits):
        return "socket"
    return "other"


def usable() -> bool:
    """True when this process's stdin and stdout are pipes or sockets this module can serve."""
    return (
        mode() == "pipes"
        and _kind(0) != "other"
        and _kind(1) != "other"
        and (os.path.isdir("/proc/self/fd") or (_kind(0) == "socket" and _kind(1) == "socket"))
    )


@contextlib.contextmanager
def _claimed_wire() -> Any:
    """Yields (incoming, outgoing) wires of their own for fd 0 and fd 1, which read ``/dev/null`` and
    write to stderr meanwhile (a stray print or a child cannot corrupt the wire) and are restored after."""
    incoming = _Wire(0, writing=False)
    try:
        outgoing = _Wire(1, writing=True)
    except OSError:
        incoming.close()
        raise
    saved = [os.dup(0), os.dup(1)]
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        os.dup2(devnull, 0)
        os.dup2(2, 1)
        yield incoming, outgoing
    finally:
        os.close(devnull)
        for fd, original in zip((0, 1), saved, strict=True):
            with contextlib.suppress(OSError):
                os.dup2(original, fd)
            os.close(original)
        incoming.close()
        outgoing.close()


@contextlib.asynccontextmanager
async def wire_streams() -> AsyncIterator[tuple[_Lines, _Out]]:
    """The MCP wire as (incoming lines, outgoing writer) on this event loop's own reads and writes."""
    with _claimed_wire() as (incoming, outgoing):
        out = _Out(outgoing)
        _serving[0] = True
        try:
            yield _Lines(incoming, out), out
        finally:
            _serving[0] = False
            with contextlib.suppress(OSError):
                await out.flush()  # the last answers leave before the process ends


async def _serve(server: Any) -> None:
    from fastmcp.server.context import reset_transport, set_transport
    from mcp.server.stdio import stdio_server

    token = set_transport("stdio")
    try:
        async with (
            server._lifespan_manager(),
            wire_streams() as (lines, out),
            stdio_server(lines, out) as (read_stream, write_stream),  # type: ignore[arg-type]
        ):
            low_level = server._mcp_server
            await low_level.run(read_stream, write_stream, low_level.create_initialization_options())
    finally:
        reset_transport(token)


def run_stdio(server: Any) -> None:
    """Serve ``server`` (a FastMCP server) over stdio until the client closes stdin."""
    import anyio

    from servers.kit.heap import freeze_startup_heap

    freeze_startup_heap()  # short full collections while serving (servers/kit/heap.py)

    if usable() and hasattr(server, "_lifespan_manager") and hasattr(server, "_mcp_server"):
        anyio.run(_serve, server)
    else:
        server.run(transport="stdio", show_banner=False)
