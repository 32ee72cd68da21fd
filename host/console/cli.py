"""``switchboard operators``: accounts for the operator console (``/console`` of ``switchboard host``)."""

from __future__ import annotations

import os

import typer

from core.cliutil import console, fail, print_json, run, table
from core.clock import shown

app = typer.Typer(help="Operator accounts for the web console at /console.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable output.")


@app.command("create")
def create(
    username: str = typer.Argument(..., help="Sign-in name, unique across orgs (letters, digits, ._:@-)."),
    org: str = typer.Option(..., "--org", help="The tenant this operator works for; they see only its data."),
    name: str = typer.Option(None, "--name", help="Display name (default: the username)."),
    password_env: str = typer.Option(
        None, "--password-env", help="Read the password from this environment variable (for scripts)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Create an operator. The password is asked twice (or read from --password-env), stored as argon2id."""
    from host.console.operators import check_password, create_operator

    if password_env:
        password = os.environ.get(password_env, "")
        if not password:
            fail("INVALID_ARGUMENT", f"${password_env} is empty or unset: export the password in it first")
    else:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    try:
        check_password(password)
    except Exception as err:
        fail("INVALID_ARGUMENT", str(getattr(err, "message", err)))
    row = run(lambda: create_operator(org, username, password, display_name=name))
    if json_output:
        print_json(row)
        return
    console.print(f"[green]✓[/] operator [bold]{row['username']}[/] ({row['id']}) of org {row['org_id']}")


@app.command("list")
def list_(
    org: str = typer.Option(None, "--org", help="Only this tenant."),
    json_output: bool = JSON_OPTION,
) -> None:
    """List operators with their state (active, locked, disabled)."""
    from host.console.operators import list_operators

    rows = run(lambda: list_operators(org))
    if json_output:
        print_json(rows)
        return

    def state(r: dict) -> str:
        return "disabled" if r["is_disabled"] else "locked" if r["locked"] else "active"

    console.print(
        table(
            "operators",
            ["username", "org", "name", "state", "last sign-in", "id"],
            [
                (r["username"], r["org_id"], r["display_name"], state(r), shown(r["last_login_at"]), r["id"])
                for r in rows
            ],
        )
    )


@app.command("disable")
def disable(
    username: str = typer.Argument(..., help="The operator to disable (they are signed out at their next request)."),
    enable: bool = typer.Option(False, "--enable", help="Enable the account again instead."),
    json_output: bool = JSON_OPTION,
) -> None:
    """Disable an operator account (or --enable it again)."""
    from host.console.operators import set_disabled

    row = run(lambda: set_disabled(username, not enable))
    if json_output:
        print_json(row)
        return
    console.print(f"[green]✓[/] {row['username']} is now {'disabled' if row['is_disabled'] else 'enabled'}")
