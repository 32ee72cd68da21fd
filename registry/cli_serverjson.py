"""``switchboard registry export|import|serve``: the official MCP Registry format (server.json, API v0.1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from core.cliutil import console, print_json, run, table, to_json
from registry.cli_common import BY_OPTION, JSON_OPTION, actor, print_version, safe, status_label

NAMESPACE_OPTION = typer.Option(
    None,
    "--namespace",
    envvar="SWITCHBOARD_REGISTRY_NAMESPACE",
    help="Reverse-DNS namespace of exported names (default io.github.switchboard).",
)


def export(
    ref: str = typer.Argument(..., help="NAME@VERSION, e.g. orders@1.1.0."),
    out: Path = typer.Option(None, "--out", "-o", help="Write server.json here (default: print it).", dir_okay=False),
    remote_url: str = typer.Option(
        None, "--remote-url", help="Also offer this Streamable HTTP URL as a remote, e.g. https://mcp.example/mcp."
    ),
    ns: str = NAMESPACE_OPTION,
) -> None:
    """Write the official server.json of NAME@VERSION (schema 2025-12-11) with its tool pins in _meta.

    Examples:
      switchboard registry export orders@1.1.0 --out server.json
      switchboard registry export crm@2.1.0 --namespace com.example --remote-url https://crm.example/mcp
    """
    from core.atomicwrite import write_atomic
    from core.cliutil import check_output_file
    from registry.serverjson import export_server_json

    check_output_file(out, "--out")  # before any work: a missing directory is named, nothing is written
    document = run(lambda: export_server_json(ref, ns=ns, remote_url=remote_url))
    text = to_json(document) + "\n"
    if out is None:
        sys.stdout.write(text)
        return
    write_atomic(out, text)
    pins = document["_meta"]["io.modelcontextprotocol.registry/publisher-provided"]
    console.print(
        f"[green]✓[/] wrote {safe(out)}: {safe(document['name'])} {safe(document['version'])}, "
        f"{len(pins['tools'])} tool pins, manifest {pins['toolsManifestSha256'][:12]}"
    )


def import_(
    path: Path = typer.Argument(..., help="The server.json to register.", dir_okay=False),
    name: str = typer.Option(None, "--name", help="Local server name (default: the part after the '/')."),
    use: str = typer.Option(None, "--use", help="package or remote (default: the package when there is one)."),
    token: str = typer.Option(None, "--token", help="Remote: bearer token for this connection (never stored)."),
    token_ref: str = typer.Option(
        None, "--token-ref", help="Remote: environment variable the host reads the token from (stored)."
    ),
    by: str = BY_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Register a server version from a server.json: start or reach it, pin its tools, check the file's pins.

    A tool whose live definition differs from the sha256 in the file's _meta refuses the import.
    The version is pending review afterwards, as after `registry publish`.
    """
    from registry.serverjson import read_server_json
    from registry.serverjson_import import import_server_json

    async def _go() -> Any:
        document = read_server_json(path)
        kwargs = {"published_by": actor(by), "name": name, "use": use, "token": token, "token_ref": token_ref}
        if json_output:
            return await import_server_json(document, **kwargs)
        with console.status(f"Importing {safe(document['name'])} {safe(document['version'])} and listing its tools…"):
            return await import_server_json(document, **kwargs)

    result = run(_go)
    if json_output:
        print_json(result)
        return
    checked = "every tool matches the file's pins" if result.pins_checked else "the file carried no pins"
    console.print(
        f"[green]✓[/] imported {safe(result.registry_name)} as {safe(result.info.ref)} from its {result.source}: "
        f"{result.info.tool_count} tools, {checked}; status {status_label(result.info.status)}"
    )
    print_version(result.info)
    console.print(f"[dim]Next: switchboard registry review {safe(result.info.ref)} --approve --reason … --risk …[/]")


def serve(
    port: int = typer.Option(8780, "--port", help="TCP port."),
    bind: str = typer.Option("127.0.0.1", "--bind", help="Address to listen on (loopback by default)."),
    ns: str = NAMESPACE_OPTION,
    allowed_hosts: list[str] = typer.Option(
        None, "--allowed-host", help="Extra Host header values to accept (a balancer's NAME:PORT)."
    ),
    json_output: bool = JSON_OPTION,
) -> None:
    """Serve the read-only MCP Registry API v0.1 (GET /v0.1/servers …) over approved versions.

    The port is bound before anything is printed: a busy port is one CONFLICT; --port 0 takes a free one.
    """
    import uvicorn

    from core.cliutil import fail
    from core.errors import SwitchboardError
    from core.listen import listen_socket, url_host
    from registry.api import create_app, guard_hosts
    from registry.serverjson import namespace

    try:
        app = guard_hosts(create_app(ns), bind, allowed_hosts or None)
        sock = listen_socket(bind, port, host_option="--bind")
    except SwitchboardError as err:  # a bad namespace, a busy port, an address that is not ours
        fail(err.code.value, err.message)
    base = f"http://{url_host(bind)}:{sock.getsockname()[1]}/v0.1"
    if json_output:
        print_json({"url": f"{base}/servers", "namespace": namespace(ns)})
    else:
        rows = [
            ("GET", f"{base}/servers", "cursor, limit, search, version=latest, updated_since, include_deleted"),
            ("GET", f"{base}/servers/{{name}}/versions", "name URL-encoded, e.g. io.github.switchboard%2Forders"),
            ("GET", f"{base}/servers/{{name}}/versions/{{version}}", "an exact version or latest"),
        ]
        console.print(table(f"MCP Registry API v0.1 ({safe(namespace(ns))})", ["method", "url", "parameters"], rows))
        console.print("[dim]Read-only; only reviewed versions are listed. Ctrl-C stops it.[/]")
    sys.stdout.flush()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])


def register_serverjson_commands(app: typer.Typer) -> None:
    """Add export, import and serve to ``switchboard registry``."""
    app.command("export")(export)
    app.command("import")(import_)
    app.command("serve")(serve)
