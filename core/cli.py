"""``switchboard db``: schema migrations."""

from __future__ import annotations

import typer

from core.cliutil import console, print_json, run

app = typer.Typer(help="Database schema: apply migrations, show the current revision.", no_args_is_help=True)


@app.command()
def upgrade(json_output: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Apply every pending migration (also done automatically on first use)."""

    async def _go() -> dict:
        from core.db import get_engine
        from core.migrate import upgrade_if_needed
        from core.settings import get_settings

        engine = await get_engine(migrate=False)
        ran = await upgrade_if_needed(engine)
        return {"database": _safe_url(get_settings().resolved_database_url), "migrated": ran}

    result = run(_go)
    if json_output:
        print_json(result)
    else:
        state = "migrated to the latest revision" if result["migrated"] else "already up to date"
        console.print(f"[green]✓[/] {result['database']}: {state}")


@app.command()
def current(json_output: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    """Show the applied revision of every package's migration branch."""

    async def _go() -> list[str]:
        from alembic.runtime.migration import MigrationContext

        from core.db import get_engine

        engine = await get_engine(migrate=False)
        async with engine.connect() as conn:
            return sorted(await conn.run_sync(lambda c: MigrationContext.configure(c).get_current_heads()))

    heads = run(_go)
    if json_output:
        print_json({"heads": heads})
    else:
        console.print("\n".join(heads) or "no migrations applied yet")


def _safe_url(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
