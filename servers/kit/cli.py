"""``switchboard serve`` and ``switchboard tokens``."""

from __future__ import annotations

from enum import StrEnum

import typer

from core.cliutil import console, err_console, print_json, run, table


class TransportChoice(StrEnum):
    stdio = "stdio"
    http = "http"


def serve(
    server: str = typer.Argument(..., help="Which server: orders, kb or memory."),
    transport: TransportChoice = typer.Option(TransportChoice.stdio, help="stdio (default) or http."),
    host: str = typer.Option("127.0.0.1", help="HTTP bind address (loopback by default)."),
    port: int = typer.Option(8765, help="HTTP port (0 picks a free one; the URL is printed)."),
    path: str = typer.Option("/mcp", help="HTTP path of the MCP endpoint."),
    org: str = typer.Option(None, envvar="SWITCHBOARD_ORG", help="stdio: the tenant this server serves."),
    customer: str = typer.Option(None, envvar="SWITCHBOARD_CUSTOMER", help="stdio: restrict to one customer."),
    trust_meta: bool = typer.Option(
        False, "--trust-meta", envvar="SWITCHBOARD_TRUST_META", help="stdio: honour identity in _meta (host only)."
    ),
    tools: str = typer.Option(
        None, "--tools", help="Expose only these tools, comma-separated (e.g. get_order,get_refund_status)."
    ),
    read_only: bool = typer.Option(False, "--read-only", help="Expose only tools that change nothing."),
    allowed_host: list[str] = typer.Option(None, "--allowed-host", help="HTTP: extra Host header values to accept."),
) -> None:
    """Serve one MCP server to Claude Desktop, the MCP Inspector or the Switchboard host.

    Over stdio the tenant comes from --org (and --customer); over HTTP from each request's bearer
    token (`switchboard tokens create`), so --org is refused there.
    """
    from core.errors import SwitchboardError
    from servers.catalog import SERVERS
    from servers.kit.identity import ServerLaunch
    from servers.kit.serve import serve as run_server

    if server not in SERVERS:
        err_console.print(f"[red]unknown server {server!r}[/]: choose one of {', '.join(sorted(SERVERS))}")
        raise typer.Exit(2)
    if transport is TransportChoice.http:
        # an exported SWITCHBOARD_ORG must not make every HTTP start fail: only the flag is refused
        org = org if "--org" in _argv() else None
        customer = customer if "--customer" in _argv() else None
    launch = ServerLaunch(org_id=org, customer_ref=customer, trust_meta=trust_meta)
    subset = [t.strip() for t in tools.split(",") if t.strip()] if tools else None

    def listening(url: str) -> None:
        import os

        oauth = os.environ.get("SWITCHBOARD_OAUTH_ISSUER")
        note = f"(Streamable HTTP, bearer tokens{f'; OAuth from {oauth}' if oauth else ''}); Ctrl-C stops"
        err_console.print(f"[green]✓[/] switchboard {server} on {url} {note}", soft_wrap=True)

    try:
        run_server(
            server,
            transport=transport.value,
            host=host,
            port=port,
            path=path,
            launch=launch,
            allowed_hosts=allowed_host or None,
            tools=subset,
            read_only=read_only,
            on_listen=listening,
        )
    except SwitchboardError as err:
        err_console.print(f"[bold red]error[/] [{err.code.value}] {err.message}")
        raise typer.Exit(2) from None


def _argv() -> list[str]:
    import sys

    return [a.split("=", 1)[0] for a in sys.argv[1:]]


# tables whose rows belong to an org: what "data" means when a token names an org
_ORG_TABLES = ("ord_order", "knowledge_base", "memory_scope", "agent")


async def _orgs_with_data() -> list[str]:
    """Orgs with orders, knowledge bases, memories or agents here (a table not created yet is none)."""
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from core.db import get_engine

    orgs: set[str] = set()
    engine = await get_engine()
    for name in _ORG_TABLES:
        try:
            async with engine.connect() as conn:
                orgs.update(r[0] for r in (await conn.execute(text(f"SELECT DISTINCT org_id FROM {name}"))).all())
        except DBAPIError:  # a store whose tables are not created holds no org
            continue
    return sorted(orgs)


tokens_app = typer.Typer(help="Bearer tokens for Streamable HTTP. Only a hash is stored.", no_args_is_help=True)


@tokens_app.command("create")
def tokens_create(
    org: str = typer.Option(None, help="The tenant the token acts for (omit for a trusted service token)."),
    customer: str = typer.Option(
        None, "--customer", help="Bind the token to one customer of --org (e.g. a CRM reading their memories)."
    ),
    label: str = typer.Option("", help="A note to recognise the token by."),
    trusted: bool = typer.Option(False, help="Honour switchboard/* identity in _meta (for the host)."),
    json_output: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Create a token; the plaintext is printed once and never stored."""
    from servers.kit.tokens import create_token

    plaintext, info = run(lambda: create_token(org, label=label, trusted=trusted, customer_ref=customer))
    if org:  # a token may come before the data; a typo'd --org must not go unnoticed
        from core.cliutil import hint_unknown_org

        hint_unknown_org(org, run(_orgs_with_data), "data")
    if json_output:
        print_json(
            {
                "token": plaintext,
                "id": info.id,
                "org_id": info.org_id,
                "customer_ref": info.customer_ref,
                "trusted": info.trusted,
            }
        )
        return
    who = f" customer [bold]{customer}[/]" if customer else ""
    console.print(f"[green]✓[/] token {info.id} for org [bold]{org or '(service)'}[/]{who}")
    console.print(f"  {plaintext}")
    console.print("  [dim]Store it now: only its hash is kept. Send it as `Authorization: Bearer <token>`.[/]")


@tokens_app.command("list")
def tokens_list(
    org: str = typer.Option(None, help="Only this tenant's tokens."), json_output: bool = typer.Option(False, "--json")
) -> None:
    """List tokens (never their plaintext)."""
    from servers.kit.tokens import list_tokens

    infos = run(lambda: list_tokens(org))
    if json_output:
        print_json(infos)
        return
    rows = [
        (
            i.id,
            i.org_id or "(service)",
            i.customer_ref or "",
            "yes" if i.trusted else "no",
            i.label,
            i.created_at,
            i.revoked_at or "",
        )
        for i in infos
    ]
    columns = ["id", "org", "customer", "trusted", "label", "created", "revoked"]
    console.print(table("API tokens", columns, rows))


@tokens_app.command("revoke")
def tokens_revoke(token_id: str = typer.Argument(..., help="The token id from `tokens list`.")) -> None:
    """Revoke a token; requests with it are refused from now on."""
    from servers.kit.tokens import revoke_token

    run(lambda: revoke_token(token_id))
    console.print(f"[green]✓[/] revoked {token_id}")
