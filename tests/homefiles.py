"""Test helper: which files under a data home hold a text (an erase or purge must leave none)."""

from __future__ import annotations

import os
from pathlib import Path


def files_holding(home: Path | str, needle: str) -> list[str]:
    """Every file under ``home`` whose bytes hold ``needle`` (UTF-8), relative to ``home``."""
    home = Path(home)
    raw = needle.encode("utf-8")
    found = []
    for root, _dirs, names in os.walk(home):
        for name in names:
            path = Path(root) / name
            try:
                if raw in path.read_bytes():
                    found.append(str(path.relative_to(home)))
            except OSError:
                continue
    return found


def rows_are_files(database_url: str) -> None:
    """Skip unless the database is SQLite: only then are the rows in files under the data home.
    (On PostgreSQL the same command runs in the other pass's tests; what is grepped here is not there.)"""
    import pytest

    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite only: on PostgreSQL the rows are in the database server, not in files under the home")
