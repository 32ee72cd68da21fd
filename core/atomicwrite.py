"""Output files (``-o``/``--output``/``--out``/``--mapping``) written whole or not at all.

A command writes into a temporary file beside the target and renames it over the target only
when everything was written and synced. On any failure — a full disk, a permission error, an
error or Ctrl-C halfway through — the temporary file is deleted and an earlier file at the
target is left as it was: a cut-off export (one made with ``audit export --decrypt`` holds
readable payloads) never stays on disk. An OS error ends the command with one line:
``error [UNAVAILABLE] cannot write FILE: no space left on device; nothing was written``.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import NoReturn, TextIO

# the disk, not the path the user named: try again when there is room
_UNAVAILABLE = {errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EFBIG}

_fdopen = os.fdopen  # the temporary file's opener (tests replace it to fill the disk)


def write_failure(path: Path, err: OSError) -> tuple[str, str]:
    """The (code, message) for an OS error writing ``path``."""
    reason = (err.strerror or str(err)).strip()
    reason = reason[:1].lower() + reason[1:]
    code = "UNAVAILABLE" if err.errno in _UNAVAILABLE else "INVALID_ARGUMENT"
    return code, f"cannot write {path}: {reason}"


def _fail(path: Path, err: OSError) -> NoReturn:
    from core.cliutil import fail

    code, message = write_failure(path, err)
    fail(code, f"{message}; nothing was written")


def _mode(target: Path) -> int:
    """An existing file keeps its permissions; a new one gets what ``open(path, "w")`` gives."""
    with suppress(OSError):
        existing = os.stat(target)
        if stat.S_ISREG(existing.st_mode):
            return stat.S_IMODE(existing.st_mode)
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextmanager
def atomic_output(path: Path, *, encoding: str = "utf-8") -> Iterator[TextIO]:
    """A text file to write ``path`` through: renamed over ``path`` when the block ends normally,
    deleted when it raises (an OSError then ends the command with one line, exit 2)."""
    target = Path(os.path.realpath(path))  # a symlink is written through, as open(path, "w") would
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    except OSError as err:
        _fail(path, err)
    try:
        with _fdopen(fd, "w", encoding=encoding) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, _mode(target))
        os.replace(temp, target)
    except BaseException as err:
        with suppress(OSError):
            os.unlink(temp)
        if isinstance(err, OSError):
            _fail(path, err)
        raise


def write_atomic(path: Path, text: str, *, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` whole or not at all (see :func:`atomic_output`)."""
    with atomic_output(path, encoding=encoding) as handle:
        handle.write(text)
