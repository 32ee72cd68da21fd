"""Handing signed checkpoints to a witness outside the database (``SWITCHBOARD_AUDIT_WITNESS``).

- a directory (another disk or mount): the checkpoint is written there as
  ``<dir>/<org>/<seq>-<kind>-<time>.json``, like the local checkpoint directory; ``audit verify``
  reads it back and fails (exit 4) when the database contradicts it;
- ``cmd:<command line>``: the command runs (no shell; split like a POSIX shell would) with the
  checkpoint JSON on stdin and ``SWITCHBOARD_CHECKPOINT_ORG``, ``SWITCHBOARD_CHECKPOINT_SEQ`` and
  ``SWITCHBOARD_CHECKPOINT_FILE`` (the relative path a directory witness would use) in its
  environment, so a deployment can push checkpoints to object storage, a git remote or a syslog
  host. Check such a witness with ``audit verify --witness <a local copy of it>``.

A witness that fails is logged and retried with the next checkpoint; appends never wait for it.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
from pathlib import Path

from audit.checkpoints import SignedCheckpoint, checkpoint_file_name, write_checkpoint

WITNESS_ENV = "SWITCHBOARD_AUDIT_WITNESS"
COMMAND_PREFIX = "cmd:"
TIMEOUT_S = 30
log = logging.getLogger("switchboard.audit")


def witness_spec() -> str:
    return os.environ.get(WITNESS_ENV, "").strip()


def witness_dir() -> Path | None:
    """The witness directory, when the witness is one (``verify`` reads it)."""
    spec = witness_spec()
    return Path(spec) if spec and not spec.startswith(COMMAND_PREFIX) else None


def hand_over(signed: SignedCheckpoint, spec: str | None = None) -> bool:
    """Give ``signed`` to the witness (``spec``, default the configured one); True when it took it
    (or none is configured)."""
    spec = witness_spec() if spec is None else spec
    if not spec:
        return True
    try:
        if not spec.startswith(COMMAND_PREFIX):
            write_checkpoint(signed, spec)
            return True
        argv = shlex.split(spec[len(COMMAND_PREFIX) :])
        cp = signed.checkpoint
        env = {
            **os.environ,
            "SWITCHBOARD_CHECKPOINT_ORG": cp.org,
            "SWITCHBOARD_CHECKPOINT_SEQ": str(cp.seq),
            "SWITCHBOARD_CHECKPOINT_FILE": f"{cp.org}/{checkpoint_file_name(signed)}",
        }
        body = json.dumps(signed.to_json(), indent=2) + "\n"
        done = subprocess.run(argv, input=body, text=True, env=env, capture_output=True, timeout=TIMEOUT_S, check=False)
        if done.returncode != 0:
            log.warning("audit witness command exited %s: %s", done.returncode, done.stderr.strip()[:300])
            return False
        return True
    except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
        log.warning("audit witness %s failed: %s", spec[:80], type(exc).__name__)
        return False
