"""A test hook: the host kills itself (SIGKILL) at a named step of a tool call.

Crash recovery can only be tested if the crash lands exactly where it matters, every time. With
``SWITCHBOARD_CRASH_AT=<point>[:<exposed_name>]`` in its environment, the host process sends
itself ``SIGKILL`` when a call (of that tool, when named) reaches ``<point>``:

``before_call_record``   admitted, the ``tool_call`` audit record not yet written
``after_call_record``    the record committed and ``tool.started`` sent, the server not yet called
``after_server_write``   the server answered (a write is done), the ``tool_result`` record not written
``after_result_record``  the ``tool_result`` record committed, the turn not yet recorded

Unset — always, outside tests — a check costs one environment lookup. The tests in
``tests/host/test_recovery.py`` use it on a real ``switchboard host`` process.
"""

from __future__ import annotations

import os
import signal

ENV = "SWITCHBOARD_CRASH_AT"
POINTS = ("before_call_record", "after_call_record", "after_server_write", "after_result_record")


def crash_point(point: str, exposed_name: str | None) -> None:
    """SIGKILL this process when ``SWITCHBOARD_CRASH_AT`` names ``point`` (and this tool)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    where, _, tool = spec.partition(":")
    if where == point and (not tool or tool == exposed_name):
        os.kill(os.getpid(), signal.SIGKILL)
