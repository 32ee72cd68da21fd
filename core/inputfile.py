"""An input file a user names on the command line must be a regular file.

Opening a FIFO blocks until something writes to it (a command hangs forever), and a directory
or device is not the file the user meant. :func:`require_regular_file` says which it is instead
of a misleading "no such file".
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

from core.errors import SwitchboardError, invalid


def not_regular_reason(path: Path) -> str | None:
    """Why ``path`` is not a readable regular file ("no such file", "is a directory", ...), or None."""
    try:
        mode = os.stat(path).st_mode  # follows symlinks, as opening it would
    except FileNotFoundError:
        return "no such file"
    except NotADirectoryError:
        return "no such file (a part of the path is not a folder)"
    except PermissionError:
        return "cannot be read (permission denied)"
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "is a directory"
    return "is not a regular file (a pipe, socket or device)"


def require_regular_file(
    path: Path,
    *,
    what: str = "file",
    missing: Callable[[str], SwitchboardError] = invalid,
) -> None:
    """Raise unless ``path`` is a regular file: ``missing`` builds the error for a path that does
    not exist (INVALID_ARGUMENT by default), the rest are INVALID_ARGUMENT naming what it is."""
    reason = not_regular_reason(path)
    if reason is None:
        return
    if reason.startswith("no such file"):
        raise missing(f"{path}: {reason.replace('file', what, 1)}")
    raise invalid(f"{path}: {reason}; give a {what}")
