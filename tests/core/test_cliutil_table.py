"""core.cliutil.table: cells are data, never Rich markup."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from core.cliutil import table


def _shown(*rows) -> str:
    console = Console(width=120, record=True)
    console.print(table("t", ["a", "b"], rows))
    return console.export_text()


def test_a_cell_that_looks_like_a_tag_is_shown_as_it_is():
    """A walk: an erased customer's "[erased]" showed as a blank name (Rich drops unknown tags)."""
    shown = _shown(("[erased]", "[vip] 고객"), ("[RRN]", "a [b] c"))
    for text in ("[erased]", "[vip] 고객", "[RRN]", "a [b] c"):
        assert text in shown, shown


def test_the_commands_own_markup_and_an_escaped_cell_are_kept():
    shown = _shown(("[green]✓[/]", escape("[erased]")))
    assert "✓" in shown and "[green]" not in shown and "[erased]" in shown and "\\[" not in shown
