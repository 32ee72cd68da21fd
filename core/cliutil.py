"""Shared helpers for the ``switchboard`` CLI: async commands, JSON output, clean errors."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from rich.console import Console
from rich.table import Table

from core.errors import SwitchboardError

T = TypeVar("T")
console = Console()
err_console = Console(stderr=True)

EXIT_USAGE = 2


def _default(value: Any) -> Any:
    if isinstance(value, datetime):  # before date: a datetime is a date too
        from core.clock import iso_utc

        return iso_utc(value)  # SQLite hands stored moments back naive: they are UTC, said so
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if hasattr(value, "__dataclass_fields__"):
        from dataclasses import asdict

        return asdict(value)
    return str(value)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=_default, indent=2)


def print_json(value: Any) -> None:
    """Write ``value`` as JSON to stdout (for ``--json``)."""
    sys.stdout.write(to_json(value) + "\n")
    sys.stdout.flush()


def run(coro_factory: Callable[[], Awaitable[T]]) -> T:
    """Run an async command; show SwitchboardErrors as one red line and exit 2."""

    async def _main() -> T:
        from core.db import dispose_engines

        try:
            return await coro_factory()
        finally:
            audit = sys.modules.get("audit")  # close the audit appender only if a command used it
            if audit is not None and hasattr(audit, "close"):
                await audit.close()
            await dispose_engines()

    try:
        return asyncio.run(_main())
    except SwitchboardError as err:
        message = err.message
        if err.code.value == "NOT_FOUND":  # say where we looked: the usual cause is another home
            from core.settings import get_settings

            message += f" (looked in {get_settings().location()})"
        fail(err.code.value, message)
    except Exception as err:
        fail_if_database_unreachable(err)
        raise


def fail_if_database_unreachable(err: BaseException) -> None:
    """When ``err`` is a failure to connect to the configured database (refused, unknown host,
    no such database or role, a wrong password), end with one UNAVAILABLE line naming the URL
    without its password; otherwise return (the caller re-raises). Used by :func:`run` and the
    ``switchboard`` entry point, so no command needs its own handling. A full disk (or a
    file-size limit) or a read-only data directory while writing is one UNAVAILABLE line too
    (:func:`disk_full_message`)."""
    message = database_unreachable_message(err) or disk_full_message(err)
    if message is not None:
        fail("UNAVAILABLE", message)


_DISK_FULL_SQLITE = ("database or disk is full", "disk I/O error")


def disk_full_message(err: BaseException) -> str | None:
    """The one line to show when ``err`` is a full disk, a quota or a file-size limit met while
    writing (the OS's ENOSPC/EDQUOT/EFBIG, SQLite's "disk is full" or "disk I/O error", PostgreSQL's
    disk_full), a read-only database (SQLite's "readonly database") or file (EROFS, EACCES), or
    memory run out (MemoryError), else None. Not a traceback: a database error's repr holds the
    statement's values."""
    import errno

    for current in _chain(err):
        module = type(current).__module__ or ""
        if isinstance(current, MemoryError):
            return (
                "ran out of memory (this machine's, or the process's limit): the input is too big to read at "
                "once; what the command writes in one transaction was rolled back. Split the input into smaller "
                "files and run the command on each"
            )
        full = (
            (isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG))
            or (module.startswith("sqlite3") and any(m in str(current) for m in _DISK_FULL_SQLITE))
            or (module.startswith("asyncpg") and type(current).__name__ == "DiskFullError")
        )
        if full:
            detail = ""
            if isinstance(current, OSError) and current.strerror:  # "(no space left on device: out/ae.jsonl)"
                detail = f" ({current.strerror.lower()}{f': {current.filename}' if current.filename else ''})"
            return (
                f"the disk is full (or a file-size limit was met) while writing{detail}: nothing half-written "
                "was kept; free space and run the command again (an import resumes or starts over, adding "
                "nothing twice)"
            )
        if isinstance(current, OSError) and current.errno in (errno.EROFS, errno.EACCES) and current.filename:
            return (  # a file beside the input (an import's state file), not the database
                f"cannot open {current.filename}: {current.strerror}; nothing more was written. Give this user "
                "access to it, or copy the input to a folder you can write to, and run the command again"
            )
        if module.startswith("sqlite3") and "readonly database" in str(current):
            from core.settings import get_settings

            return (
                f"the database cannot be written: {get_settings().location()} is read-only (a read-only mount, "
                "or files owned by another user); nothing was written. Point SWITCHBOARD_HOME at a writable "
                "data directory, or fix its permissions, and run the command again"
            )
    return None


def _chain(err: BaseException) -> Iterable[BaseException]:
    """``err`` and every exception behind it: causes, contexts, a DBAPI error's original, groups."""
    seen: set[int] = set()
    todo = [err]
    while todo:
        current = todo.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend(e for e in (current.__cause__, current.__context__, getattr(current, "orig", None)) if e)
        if isinstance(current, BaseExceptionGroup):
            todo.extend(current.exceptions)


def _raised_by_database_driver(err: BaseException) -> bool:
    tb = err.__traceback__
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename.replace("\\", "/")
        if "/asyncpg/" in filename or "/sqlalchemy/" in filename or "/aiosqlite/" in filename:
            return True
        tb = tb.tb_next
    return False


def _connect_failure(err: BaseException) -> tuple[str, str] | None:
    """(what went wrong, what to do) when ``err`` or one behind it is a failed database connection."""
    import socket

    for current in _chain(err):
        name = type(current).__name__
        module = type(current).__module__ or ""
        if module.startswith("asyncpg"):
            text = str(current).splitlines()[0] if str(current) else name
            if name == "InvalidCatalogNameError":
                return text, "create it (createdb), or fix the name in the URL"
            if name in ("InvalidAuthorizationSpecificationError", "InvalidPasswordError"):
                return text, "check the user and password in the URL"
            if name in ("CannotConnectNowError", "TooManyConnectionsError", "ConnectionDoesNotExistError"):
                return text, "start it, or wait and try again"
        if isinstance(current, OSError) and _raised_by_database_driver(current):
            if isinstance(current, ConnectionRefusedError):
                return "connection refused", "start it"
            if isinstance(current, socket.gaierror):
                return "host not found", "check the host in the URL"
            if isinstance(current, TimeoutError):
                return "timed out", "start it, or check the host and port"
            return current.strerror or str(current) or name, "start it"
    return None


def database_unreachable_message(err: BaseException) -> str | None:
    """The one line to show for a failed connection to SWITCHBOARD_DATABASE_URL, else None."""
    from core.settings import get_settings

    settings = get_settings()
    if not settings.database_url:
        return None
    failure = _connect_failure(err)
    if failure is None:
        return None
    why, todo = failure
    return (
        f"cannot reach the database in SWITCHBOARD_DATABASE_URL ({safe_database_url(settings.database_url)}, "
        f"password hidden): {why} — {todo}, or unset SWITCHBOARD_DATABASE_URL to use SQLite in $SWITCHBOARD_HOME"
    )


def safe_database_url(url: str) -> str:
    """``url`` with no password at all (not even ``***``): safe to print and to log."""
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url).difference_update_query(["password"])
        return parsed._replace(password=None).render_as_string(hide_password=False)
    except Exception:  # not a URL SQLAlchemy reads: show the scheme and host part only
        scheme, _, rest = url.partition("://")
        return f"{scheme}://{rest.rpartition('@')[2]}" if rest else "(unreadable URL)"


def wants_json() -> bool:
    """The running command was given ``--json`` (its errors are then JSON on stdout too)."""
    try:  # Typer 0.29 runs commands on its own copy of click
        from typer._click.globals import get_current_context
    except ImportError:
        from click import get_current_context

    ctx = get_current_context(silent=True)
    if ctx is not None:
        return bool(ctx.params.get("json_output"))
    return "--json" in sys.argv[1:]  # before a command runs (the data-home check of switchboard_cli)


def hint_unknown_org(org: str, known: Iterable[str], what: str) -> bool:
    """After an empty result: when no ``what`` of ``org`` exists here but other orgs have some, say
    so on stderr (a typo'd ``--org`` otherwise reads as "nothing there"). True when it said so."""
    from rich.markup import escape

    orgs = sorted(set(known))
    if org in orgs or not orgs:
        return False
    err_console.print(
        f"[yellow]org {escape(repr(org))} has no {what} here; orgs that have some: "
        f"{escape(', '.join(orgs[:10]))} (check --org)[/]",
        soft_wrap=True,
    )
    return True


def fail(code: str, message: str, exit_code: int = EXIT_USAGE) -> NoReturn:
    """End a command with an error: one red line on stderr, and with ``--json`` also
    ``{"error": {"code", "message"}}`` on stdout, so a script reading stdout sees why."""
    from rich.markup import escape  # messages quote user input and patterns: never read them as markup

    if wants_json():
        print_json({"error": {"code": code, "message": message}})
    err_console.print(f"[bold red]error[/] [{code}] {escape(message)}", soft_wrap=True)
    raise SystemExit(exit_code) from None


def require_store() -> None:
    """For a command that only reads: with no database here, NOT_FOUND (exit 2) naming the data
    home, and nothing is created (the same refusal the ``switchboard`` entry point gives read verbs)."""
    from core.settings import get_settings

    settings = get_settings()
    if settings.store_exists():
        return
    fail(
        "NOT_FOUND",
        f"no Switchboard data in {settings.location()}: nothing to read, nothing created.\n"
        "  `make demo` prints the directory it used: run `export SWITCHBOARD_HOME=<that directory>` first,\n"
        "  or create data here (`switchboard kb create`, `switchboard registry ...`).",
    )


def check_output_file(path: Path | None, option: str = "--output") -> None:
    """Before a command does any work: ``path`` can be written as a file (its directory exists and
    it is no directory itself); otherwise one INVALID_ARGUMENT line, exit 2, nothing written."""
    if path is None:
        return
    if path.is_dir():
        fail("INVALID_ARGUMENT", f"{option} {path} is a directory: name a file in it; nothing was written")
    folder = path.parent
    if not folder.is_dir():
        why = "is not a directory" if folder.exists() else "does not exist"
        message = f"{option} {path}: the directory {folder} {why} (create it first); nothing was written"
        fail("INVALID_ARGUMENT", message)


def write_output(path: Path, text: str, option: str = "--output") -> None:
    """Write ``text`` to ``path`` (UTF-8); an OS error (permissions, a full disk) is one INVALID_ARGUMENT line."""
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        fail("INVALID_ARGUMENT", f"{option} {path}: cannot write: {err.strerror or err}")


def confirm_destructive(question: str, *, yes: bool, json_output: bool) -> None:
    """Ask before an irreversible change; with --json (no prompt possible) --yes is required (exit 2)."""
    if yes:
        return
    if json_output:
        fail("INVALID_ARGUMENT", "add --yes to erase without a prompt")
    import typer

    typer.confirm(question, abort=True)


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *, width: int | None = None) -> Table:
    """A Rich table with the house style.

    Cells are data: "[erased]", "[VIP] 고객", "[RRN]" are shown as they are, never read as Rich
    markup (which drops an unknown "[tag]" silently). A cell that closes a tag ("[green]✓[/]") is
    the command's own markup and is kept, and so is one the caller escaped already.

    Nothing is cut with an ellipsis: a cell too long for its column wraps, and a word longer than
    the column folds onto the next line. A column of ids (every cell one word: an id, a tool name,
    a URL) is kept on one line whenever the terminal (``width``, default the console's) has room
    for it beside the other columns, so what is printed can be copied as it is.
    """
    cells = [[_cell(v) for v in row] for row in rows]
    one_line = _one_line_columns(columns, cells, width or console.width)
    out = Table(title=title, title_justify="left", header_style="bold cyan")
    for index, column in enumerate(columns):
        out.add_column(column, overflow="fold", no_wrap=index in one_line)
    for row in cells:
        out.add_row(*row)
    return out


# what a column keeps at least (when it is that wide) before id columns are kept whole
_ID_FLOOR, _TEXT_FLOOR = 8, 14


def _one_line_columns(columns: Sequence[str], cells: list[list[Any]], width: int) -> set[int]:
    """The columns of one-word cells that fit whole (narrowest first) while every other column keeps room."""
    from rich.cells import cell_len
    from rich.text import Text

    def plain(cell: Any) -> str:
        return cell.plain if isinstance(cell, Text) else Text.from_markup(cell).plain

    widths: list[int] = []
    ids: list[int] = []
    for index, header in enumerate(columns):
        texts = [plain(row[index]) for row in cells if index < len(row)]
        longest = max([cell_len(header.split()[0] if header.split() else ""), *(cell_len(t) for t in texts)])
        widths.append(longest)
        if texts and any(texts) and not any(any(ch.isspace() for ch in t) for t in texts):
            ids.append(index)
    # every column keeps at least a floor; what is left goes to whole id columns: the first column
    # (a table's key: an id, an exposed tool name) first, then the narrowest
    floors = [min(w, _ID_FLOOR if i in ids else _TEXT_FLOOR) for i, w in enumerate(widths)]
    budget = width - (3 * len(columns) + 1) - sum(floors)  # minus borders and padding
    kept: set[int] = set()
    for index in sorted(ids, key=lambda i: (i != 0, widths[i])):
        extra = widths[index] - floors[index]
        if extra <= budget:
            kept.add(index)
            budget -= extra
    return kept


def _cell(value: Any) -> Any:
    from rich.markup import escape
    from rich.text import Text

    if value is None:
        return ""
    if isinstance(value, Text):
        return value
    text = str(value)
    return text if "[/" in text or "\\[" in text else escape(text)  # markup, or escaped by the caller
