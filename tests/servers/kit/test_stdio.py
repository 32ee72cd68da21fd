"""servers/kit/stdio.py: MCP over the event loop's own pipes, with the SDK's transport as the fallback.

Each test runs a real server process and talks raw JSON-RPC lines to it, so what is checked is
the wire a client sees: sloppy and hostile input, a stray print, messages larger than any
buffer, the end of input, and the descriptors the server was given.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]

SERVER = textwrap.dedent(
    """
    import os, subprocess, sys
    sys.path.insert(0, sys.argv[1])
    WIRE_IN, WIRE_OUT = os.dup(0), os.dup(1)  # share the wire's open file descriptions
    from fastmcp import FastMCP
    from servers.kit.stdio import on_pipes, run_stdio
    mcp = FastMCP("probe", version="1.0.0")

    @mcp.tool
    async def echo(text: str) -> dict:
        \"\"\"Echo the text, printing junk to stdout on the way.\"\"\"
        print("stray print")
        os.write(1, b"stray write\\n")
        subprocess.run(["echo", "a child's output"], check=True)
        return {"text": text, "length": len(text)}

    @mcp.tool
    async def probe() -> dict:
        \"\"\"Which transport serves, and whether the wire's own descriptions are still blocking.\"\"\"
        import gc
        return {"pipes": on_pipes(), "blocking": [os.get_blocking(WIRE_IN), os.get_blocking(WIRE_OUT)],
                "frozen": gc.get_freeze_count()}

    @mcp.tool
    async def big(size: int) -> dict:
        \"\"\"A large answer.\"\"\"
        return {"blob": "가" * size}

    run_stdio(mcp)
    """
)


def _request(rid: int, method: str, params: dict | None = None) -> bytes:
    body: dict = {"jsonrpc": "2.0", "id": rid, "method": method}
    if params is not None:
        body["params"] = params
    return json.dumps(body, ensure_ascii=False).encode() + b"\n"


HELLO = (
    _request(
        1,
        "initialize",
        {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
    )
    + b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n'
)


def _call(rid: int, tool: str, arguments: dict) -> bytes:
    return _request(rid, "tools/call", {"name": tool, "arguments": arguments})


def _serve(
    tmp_path: Path,
    data: bytes | list[bytes],
    want: set[int],
    *,
    env: dict[str, str] | None = None,
    stdin_file: bool = False,
) -> tuple[subprocess.CompletedProcess, dict[int, dict]]:
    """Run the probe server, send ``data`` (chunks written with pauses), read answers until every
    id in ``want`` came back, then close its input (as a client that is done) and wait for it."""
    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    run_env = {**os.environ, "FASTMCP_SHOW_SERVER_BANNER": "false", "FASTMCP_LOG_LEVEL": "ERROR", **(env or {})}
    argv = [sys.executable, str(script), str(ROOT)]
    chunks = [data] if isinstance(data, bytes) else data
    handle = None
    if stdin_file:  # a file holds every request; its end comes at once, so ask for the handshake only
        requests = tmp_path / "requests.jsonl"
        requests.write_bytes(b"".join(chunks))
        handle = requests.open("rb")
    proc = subprocess.Popen(
        argv, stdin=handle or subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=run_env
    )
    answers: dict[int, dict] = {}
    errors: list[bytes] = []

    def write() -> None:
        if proc.stdin is None:
            return
        for chunk in chunks:
            proc.stdin.write(chunk)
            proc.stdin.flush()
            time.sleep(0.01 if len(chunks) > 1 else 0)

    def read_errors() -> None:
        assert proc.stderr is not None
        errors.append(proc.stderr.read())

    threads = [threading.Thread(target=write, daemon=True), threading.Thread(target=read_errors, daemon=True)]
    for thread in threads:
        thread.start()
    assert proc.stdout is not None
    deadline = time.monotonic() + 60
    while not want <= set(answers) and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        message = json.loads(line)  # every line on the wire is one JSON-RPC message: no stray output
        if "id" in message:
            answers[message["id"]] = message
    threads[0].join(timeout=60)
    if proc.stdin is not None:
        proc.stdin.close()
    rest = proc.stdout.read()
    code = proc.wait(timeout=60)
    threads[1].join(timeout=60)
    if handle is not None:
        handle.close()
    for line in rest.splitlines():
        json.loads(line)
    return subprocess.CompletedProcess(argv, code, b"", b"".join(errors)), answers


def _result(answer: dict) -> dict:
    assert "error" not in answer, answer
    return answer["result"]["structuredContent"]


def test_pipes_serve_calls_and_keep_stray_output_off_the_wire(tmp_path):
    done, answers = _serve(tmp_path, HELLO + _call(2, "probe", {}) + _call(3, "echo", {"text": "안녕하세요"}), {2, 3})
    assert done.returncode == 0, done.stderr.decode()
    probe = _result(answers[2])
    assert probe["pipes"] is True and probe["blocking"] == [True, True]
    assert probe["frozen"] > 10_000  # start-up objects exempt from full collections (servers/kit/heap.py)
    assert _result(answers[3]) == {"text": "안녕하세요", "length": 5}
    stderr = done.stderr.decode()
    assert "stray print" in stderr and "stray write" in stderr and "a child's output" in stderr


def test_sloppy_lines_get_errors_and_the_server_answers_the_next_call(tmp_path):
    junk = b"\xff\xfe not json\n" + b'{"jsonrpc": "2.0", "id": 9\n' + b"\n" + b"\r\n"
    crlf = _call(4, "echo", {"text": "crlf"})[:-1] + b"\r\n"
    done, answers = _serve(tmp_path, HELLO + junk + crlf + _call(5, "echo", {"text": "next"}), {4, 5})
    assert done.returncode == 0, done.stderr.decode()
    assert _result(answers[4])["text"] == "crlf"
    assert _result(answers[5])["text"] == "next"


def test_messages_larger_than_any_buffer_pass_both_ways(tmp_path):
    long_text = "환불" * 300_000  # a 1.8 MB line
    requests = HELLO + _call(2, "echo", {"text": long_text}) + _call(3, "big", {"size": 400_000})
    done, answers = _serve(tmp_path, requests, {2, 3})
    assert done.returncode == 0, done.stderr.decode()
    assert _result(answers[2])["length"] == len(long_text)
    assert len(_result(answers[3])["blob"]) == 400_000


def test_a_line_that_arrives_in_pieces_is_read_whole(tmp_path):
    line = _call(2, "echo", {"text": "조각조각 도착한 요청"})
    pieces = [HELLO + line[:7]] + [line[i : i + 5] for i in range(7, len(line), 5)]
    done, answers = _serve(tmp_path, pieces, {2})
    assert done.returncode == 0, done.stderr.decode()
    assert _result(answers[2])["text"] == "조각조각 도착한 요청"


@pytest.mark.parametrize("how", ["file", "sdk"])
def test_anything_but_pipes_falls_back_to_the_sdk_transport(tmp_path, how):
    env = {"SWITCHBOARD_STDIO": "sdk"} if how == "sdk" else None
    if how == "file":  # the end of the file comes at once: the handshake is what can be awaited
        done, answers = _serve(tmp_path, HELLO, {1}, stdin_file=True)
        assert answers[1]["result"]["serverInfo"]["name"] == "probe"
    else:
        done, answers = _serve(tmp_path, HELLO + _call(2, "probe", {}), {2}, env=env)
        assert _result(answers[2])["pipes"] is False
    assert done.returncode == 0, done.stderr.decode()


def test_a_wrong_setting_is_refused_with_a_stable_code(tmp_path):
    done = subprocess.run(
        [str(Path(sys.executable).with_name("switchboard")), "serve", "orders", "--org", "demo"],
        input=b"",
        capture_output=True,
        env={**os.environ, "SWITCHBOARD_HOME": str(tmp_path), "SWITCHBOARD_STDIO": "threads"},
        timeout=60,
    )
    assert done.returncode != 0
    assert b"SWITCHBOARD_STDIO must be pipes or sdk" in done.stderr
    assert done.stdout == b""


def test_a_socket_pair_as_node_clients_launch_servers_is_served_without_blocking_mode_changes(tmp_path):
    """Node.js (Claude Desktop) gives a child its stdio as socket pairs, not pipes."""
    import socket

    script = tmp_path / "server.py"
    script.write_text(SERVER, encoding="utf-8")
    ours, theirs = socket.socketpair()
    env = {**os.environ, "FASTMCP_SHOW_SERVER_BANNER": "false", "FASTMCP_LOG_LEVEL": "ERROR"}
    proc = subprocess.Popen(
        [sys.executable, str(script), str(ROOT)], stdin=theirs, stdout=theirs, stderr=subprocess.PIPE, env=env
    )
    theirs.close()
    try:
        ours.sendall(HELLO + _call(2, "probe", {}) + _call(3, "echo", {"text": "소켓"}))
        answers: dict[int, dict] = {}
        reader = ours.makefile("rb")
        ours.settimeout(60)
        while not {2, 3} <= set(answers):
            line = reader.readline()
            assert line, "the server closed the wire"
            message = json.loads(line)
            if "id" in message:
                answers[message["id"]] = message
        ours.shutdown(socket.SHUT_WR)  # the client is done
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        ours.close()
    probe = _result(answers[2])
    assert probe["pipes"] is True and probe["blocking"] == [True, True]
    assert probe["frozen"] > 10_000  # start-up objects exempt from full collections (servers/kit/heap.py)
    assert _result(answers[3])["text"] == "소켓"
    assert b"stray print" in proc.stderr.read()


def test_the_reader_stays_registered_between_waits_and_unread_data_never_spins_the_loop():
    """One registration serves every wait; data arriving while nobody waits costs at most two
    wake-ups, after which the descriptor is no longer watched (a level-triggered reader would
    otherwise wake the loop on every turn until the data is read)."""
    import asyncio

    from servers.kit.stdio import _Wire

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        read_end, write_end = os.pipe()
        wire = _Wire(read_end, writing=False)
        wakes = []
        original = wire._wake
        wire._wake = lambda: (wakes.append(1), original())[-1]

        async def next_read() -> bytes:
            while (data := wire.read()) is None:  # a wake-up may be spurious: read, wait again
                async with asyncio.timeout(5):
                    await wire.ready(writing=False)
            return data

        try:
            for _ in range(20):  # a message per wait: the same registration throughout
                loop.call_later(0.002, os.write, write_end, b"line\n")
                assert await next_read() == b"line\n"
                assert wire._watching is loop
            assert len(wakes) <= 40  # one per message, plus at most one stale wake-up each
            os.write(write_end, b"unread\n")  # nobody waits now
            wakes.clear()
            for _ in range(50):
                await asyncio.sleep(0)
            assert len(wakes) == 2 and wire._watching is None
            assert loop.remove_reader(wire.fd) is False  # really unregistered
            assert await next_read() == b"unread\n" and wire.read() is None
            wire.close()
            assert wire._watching is None and loop.remove_reader(read_end) is False
        finally:
            os.close(read_end)
            os.close(write_end)

    asyncio.run(scenario())


def test_lines_the_sdk_cannot_read_are_answered_not_dropped(tmp_path):
    """A walk over `switchboard serve orders --org demo`: a JSON-RPC batch, a line that is not JSON
    and a call holding an escaped lone surrogate ("\\ud800") got no answer at all; a client waits
    for its ids until it times out. Each is answered now, with the request's id where it has one."""
    batch = b'[{"jsonrpc":"2.0","id":7,"method":"ping"},{"jsonrpc":"2.0","id":8,"method":"tools/list"}]\n'
    lone = b'{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo","arguments":{"text":"\\ud800"}}}\n'
    pair = _call(9, "echo", {"text": "\U0001f600"})  # an escaped surrogate pair is a character
    pair = pair.replace("\U0001f600".encode(), b"\\ud83d\\ude00")
    data = HELLO + batch + b"not json\n" + lone + pair + _call(10, "echo", {"text": "next"})
    done, answers = _serve(tmp_path, data, {10})  # answered in order: the refusals come before 10
    assert {6, 7, 8, 9, None} <= set(answers), answers
    assert done.returncode == 0, done.stderr.decode()
    for rid in (7, 8):
        assert "batch" in answers[rid]["error"]["message"], answers[rid]
        assert "one JSON-RPC message per line" in answers[rid]["error"]["message"]
    assert answers[None]["error"]["code"] == -32700 and "not JSON" in answers[None]["error"]["message"]
    assert answers[6]["error"]["code"] == -32602 and "surrogate" in answers[6]["error"]["message"], answers[6]
    assert _result(answers[9])["text"] == "\U0001f600"
    assert _result(answers[10])["text"] == "next"
