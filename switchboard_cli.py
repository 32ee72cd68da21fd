"""The ``switchboard`` console script: one command, a sub-command per area.

Each area's CLI module keeps heavy imports inside its commands, so ``--help`` stays fast.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys

import typer

# sub-command group -> "module:attribute" of a Typer app
GROUPS: dict[str, tuple[str, str]] = {
    "db": ("core.cli:app", "Database schema migrations."),
    "tokens": ("servers.kit.cli:tokens_app", "Bearer tokens for serving over HTTP."),
    "orders": ("servers.order_server.cli:app", "Order data: seed, import, list, show an order, check the backend."),
    "kb": ("servers.kb_server.cli:app", "Knowledge bases: create, upload, version, search."),
    "memory": ("servers.memory_server.cli:app", "Customer memories: list, search, erase, export."),
    "audit": ("audit.cli:app", "The tamper-evident audit log: tail, find, verify, export."),
    "registry": ("registry.cli:app", "Server versions, tool pins and agent versions."),
    "review": ("host.review_cli:app", "The human review queue."),
    "operators": ("host.console.cli:app", "Operator accounts for the web console (/console)."),
    "customer": ("switchboard_erase:app", "Data-subject requests: erase a customer from every store."),
    "eval": ("host.evals.cli:app", "Evaluate an agent version on scenario packs before approval."),
}
# single commands -> "module:function"
COMMANDS: dict[str, str] = {
    "serve": "servers.kit.cli:serve",
    "chat": "host.cli:chat",
    "host": "host.cli:host",
    "demo": "host.cli:demo",
    "import-legacy": "host.cli:import_legacy",
}


def _load(target: str):
    """The object at ``module:attr``, or None while that area is not installed."""
    module_name, attr = target.split(":")
    try:
        if importlib.util.find_spec(module_name) is None:
            return None
    except ModuleNotFoundError:
        return None
    return getattr(importlib.import_module(module_name), attr, None)


def build_app(only: str | None = None) -> typer.Typer:
    """The CLI; with ``only``, just that command or group is loaded (fast start-up for `serve`)."""
    app = typer.Typer(
        name="switchboard",
        help="Switchboard: versioned MCP servers, a pinning registry and an audited host for customer service.",
        no_args_is_help=True,
        pretty_exceptions_show_locals=False,
    )

    @app.callback()
    def _root() -> None:
        """Keeps Typer in group mode even when only one command is loaded."""

    for name, target in COMMANDS.items():
        if only and name != only:
            continue
        func = _load(target)
        if func is not None:
            app.command(name)(func)
    for name, (target, help_text) in GROUPS.items():
        if only and name != only:
            continue
        sub = _load(target)
        if sub is not None:
            app.add_typer(sub, name=name, help=help_text)
    return app


# Commands that only read: with no data store they say where they looked and create nothing.
NESTED_GROUPS = frozenset({"agent"})  # `registry agent <verb>`
READ_VERBS = frozenset(
    {"list", "show", "search", "versions", "tail", "find", "verify", "export", "diff", "current", "status", "servers"}
)


def is_read_only(argv: list[str]) -> bool:
    """``chat``, or a group command whose verb (``kb list``, ``registry agent show``) only reads."""
    if not argv or any(a in ("--help", "-h") for a in argv):
        return False
    if argv[0] == "chat":
        return True
    if argv[0] not in GROUPS or len(argv) < 2:
        return False
    verb = argv[2] if argv[1] in NESTED_GROUPS and len(argv) > 2 else argv[1]
    return verb in READ_VERBS


def refuse_without_store(argv: list[str]) -> None:
    """Exit 2 (NOT_FOUND) when a read-only command would find (and create) an empty store."""
    if not is_read_only(argv):
        return
    from core.cliutil import require_store

    require_store()


def _stop_on_sigterm_as_on_ctrl_c() -> None:
    """SIGTERM (systemd, docker, ``kill PID``) stops a command the way Ctrl-C does.

    Python's default for SIGTERM ends the process at once: no exit handlers, so a server stopped
    that way never signed its last audit checkpoint and ``audit verify`` later reported its records
    as broken (a walk: ``kill -TERM`` of ``serve memory --transport http``; ``kill -INT`` was fine).
    uvicorn installs its own handler while it serves and raises the signal again once it has shut
    down; this one then ends the process through the same path as Ctrl-C."""
    import signal

    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)


def main() -> None:
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    _stop_on_sigterm_as_on_ctrl_c()
    from servers.retrieval.threads import limit_blas_threads_at_start

    limit_blas_threads_at_start()  # before numpy loads: no threadpoolctl scan at the first search
    from servers.retrieval.kiwi_process import start_for

    start_for(sys.argv[1:])  # serve kb|memory: kiwi loads in a helper process, on another core
    refuse_without_store(sys.argv[1:])
    first = sys.argv[1] if len(sys.argv) > 1 else None
    try:
        build_app(first if first in COMMANDS or first in GROUPS else None)()
    except KeyboardInterrupt:  # Ctrl-C before Typer runs the command (while its modules load)
        print("interrupted (Ctrl-C)", file=sys.stderr)
        raise SystemExit(130) from None
    except Exception as err:  # an unreachable database is one line, whatever the command
        from core.cliutil import fail_if_database_unreachable

        fail_if_database_unreachable(err)
        raise


if __name__ == "__main__":
    main()
