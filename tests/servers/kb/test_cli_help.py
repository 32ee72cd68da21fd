"""`switchboard kb --help`: no help text is eaten by Rich markup (``[erased]`` would vanish)."""

from __future__ import annotations

from servers.kb_server.cli import app
from tests.audit.test_cli import _lost_to_markup


def test_kb_help_texts_survive_rich_markup() -> None:
    assert _lost_to_markup(app) == []
