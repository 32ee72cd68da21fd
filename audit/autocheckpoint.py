"""Automatic signed checkpoints: the appender signs each org's head with no operator action.

Every ``SWITCHBOARD_AUDIT_CHECKPOINT_EVERY`` records (default 1,000), at the latest
``SWITCHBOARD_AUDIT_CHECKPOINT_SECONDS`` after a record arrived (default 60) and at clean
shutdown (``audit.close()``, or interpreter exit for a server whose loop ended without it),
each org this appender wrote to gets an ``auto`` checkpoint of the last record it committed:
signed (Ed25519), written to the local checkpoint directory and handed to the witness
(audit/witness.py). Both settings at 0 turn automatic checkpoints off.

Signing and the file writes run on a worker thread; appends never wait for them. A failure
(no signing key, a full disk, a witness down) is logged and retried with the next checkpoint.
The window this leaves: records appended after the last checkpoint (at most N records or T
seconds, or everything since the last one if the process is killed) are protected by the hash
chain only, which someone with database access can recompute (see docs/audit.md).
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger("switchboard.audit")
EVERY_ENV = "SWITCHBOARD_AUDIT_CHECKPOINT_EVERY"
SECONDS_ENV = "SWITCHBOARD_AUDIT_CHECKPOINT_SECONDS"
DEFAULT_EVERY = 1000
DEFAULT_SECONDS = 60.0


def _number(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    try:
        return max(0.0, float(raw)) if raw else default
    except ValueError:
        return default


def policy() -> tuple[int, float]:
    """(records, seconds) between automatic checkpoints; 0 turns that trigger off."""
    return int(_number(EVERY_ENV, DEFAULT_EVERY)), _number(SECONDS_ENV, DEFAULT_SECONDS)


@dataclass(frozen=True, slots=True)
class Target:
    """Where and with what an appender's checkpoints go, fixed when it first commits (so a
    process whose environment changes later, e.g. a test suite, never signs into another home)."""

    directory: Path
    private: Any  # Ed25519PrivateKey, or None when it could not be loaded (logged)
    witness: str

    @classmethod
    def current(cls) -> Target:
        from audit.checkpoints import checkpoint_dir
        from audit.keys import signing_key
        from audit.witness import witness_spec

        try:
            private = signing_key()
        except Exception as exc:
            log.warning("automatic audit checkpoints are off: no signing key (%s)", exc)
            private = None
        return cls(checkpoint_dir(), private, witness_spec())


def sign_heads(heads: dict[str, tuple[int, str]], target: Target) -> list[Any]:
    """Sign, write and hand over one ``auto`` checkpoint per org; returns the signed checkpoints."""
    from audit.checkpoints import sign, write_checkpoint
    from audit.witness import hand_over

    done = []
    if target.private is None:
        return done
    try:
        for org, (seq, head_hash) in sorted(heads.items()):
            signed = sign(org, seq, head_hash, "auto", target.private)
            write_checkpoint(signed, target.directory)
            hand_over(signed, target.witness)
            done.append(signed)
    except Exception as exc:  # never fail an append over a checkpoint: log, retry next time
        log.warning("automatic audit checkpoint failed: %s: %s", type(exc).__name__, exc)
    return done


class AutoCheckpointer:
    """Tracks one appender's committed heads and signs them on count, on time and at close."""

    def __init__(self) -> None:
        self.every, self.seconds = policy()
        self.enabled = bool(self.every or self.seconds)
        self._heads: dict[str, tuple[int, str]] = {}
        self._count = 0
        self._timer: asyncio.TimerHandle | None = None
        self._task: asyncio.Task[None] | None = None
        self.target: Target | None = None
        _live.add(self)

    def observe(self, rows: Iterable[dict[str, Any]]) -> None:
        """Note committed rows (in commit order); start a checkpoint when one is due."""
        if not self.enabled:
            return
        if self.target is None:
            self.target = Target.current()
        for row in rows:
            self._heads[row["org_id"]] = (row["seq"], row["record_hash"])
            self._count += 1
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop (a journal chained at exit): the exit checkpoint signs these
            return
        if self.every and self._count >= self.every:
            self._start()
        elif self.seconds and self._timer is None and (self._task is None or self._task.done()):
            self._timer = asyncio.get_running_loop().call_later(self.seconds, self._start)

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None and not self._task.done():
            return  # the running one re-arms the timer for what arrived meanwhile
        self._task = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        heads, self._heads, self._count = self._heads, {}, 0
        if heads and self.target is not None:
            await asyncio.to_thread(sign_heads, heads, self.target)
        if self._heads and self.seconds and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.seconds, self._start)

    async def aclose(self) -> None:
        """Clean shutdown: sign whatever is not covered yet."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._task is not None and not self._task.done():
            await self._task
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._heads:
            await self._flush()


_live: weakref.WeakSet[AutoCheckpointer] = weakref.WeakSet()


@atexit.register
def _sign_at_exit() -> None:
    """A process ending normally (a stdio server whose client went away) signs what is left."""
    for checkpointer in list(_live):
        heads, checkpointer._heads = checkpointer._heads, {}
        target = checkpointer.target
        if heads and target is not None and target.directory.parent.exists():
            sign_heads(heads, target)
