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


def _at_80_columns(monkeypatch, title, columns, rows) -> str:
    monkeypatch.setenv("COLUMNS", "80")  # the CLI's console reads it: a table is laid out for it
    console = Console(width=80, record=True)
    console.print(table(title, columns, rows))
    return console.export_text()


def _joined(shown: str, column: int) -> str:
    """The text of one column, its wrapped lines joined."""
    parts = []
    for line in shown.splitlines():
        cells = line.split("│")
        if len(cells) > column + 1:
            parts.append(cells[column + 1].strip())
    return "".join(parts)


def test_nothing_is_cut_with_an_ellipsis_at_80_columns(monkeypatch):
    """A walk: `registry agent show` printed four exposed names as `orders__get…`, and Korean cells
    lost digits (`주문번호 884…`, `오후 5 … 이후`)."""
    names = [f"orders__get_order_status_with_history_{n}" for n in range(4)]
    korean = "주문번호 8841234567890 환불 요청은 오후 5시 30분 이후 접수분부터 다음 영업일 처리됩니다 " * 2
    rows = [(name, "orders@1.4.0", name.split("__")[1], "confirm", "30000", korean) for name in names]
    columns = ["exposed name", "server", "tool", "policy", "timeout ms", "notes"]
    shown = _at_80_columns(monkeypatch, "Tools", columns, rows)
    assert "…" not in shown, shown
    assert max(len(line) for line in shown.splitlines()) <= 80
    exposed = _joined(shown, 0)
    for name in names:
        assert name in exposed, shown
    assert korean.replace(" ", "") in _joined(shown, 5).replace(" ", ""), shown


def test_an_id_column_that_fits_is_kept_on_one_line(monkeypatch):
    scenario = "rs-ko-elderly-refund-status-8841"
    rows = [(scenario, "refund_status", "ko", "카드 환불 진행 상태 문의 (주문 8841) " * 3)]
    shown = _at_80_columns(monkeypatch, "scenarios", ["id", "category", "lang", "title"], rows)
    assert scenario in shown and "…" not in shown, shown
