"""``runyard tunnel open|list|close``: tunnels to a port on an agent through the server."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from runyard_client._tunnels import forward_tcp
from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    ServerOpt,
    connect,
    err,
    handles_errors,
    out,
    print_json,
    print_table,
    short_time,
)

app = typer.Typer(
    help="Tunnels to a port on an agent (its ComfyUI, Jupyter…), through the server.",
    no_args_is_help=True,
)


@app.command("open")
@handles_errors
def open_tunnel(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="The agent (its agent_id).")],
    port: Annotated[
        int | None,
        typer.Option(
            "--port",
            min=1,
            max=65535,
            help="The port on the agent's 127.0.0.1 (default: the first it allows, its ComfyUI's).",
        ),
    ] = None,
    local_port: Annotated[
        int | None,
        typer.Option(
            "--local-port",
            min=0,
            max=65535,
            help="Listen on this port of 127.0.0.1 (default: the same as --port; 0: "
            "any free port).",
        ),
    ] = None,
    exclusive: Annotated[
        bool, typer.Option("--exclusive", help="Take the agent out of dispatch meanwhile.")
    ] = False,
    browser: Annotated[
        bool,
        typer.Option("--http", help="Open an http tunnel instead and print its browser link."),
    ] = False,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Forward 127.0.0.1:LOCAL_PORT here to PORT on the agent (any TCP protocol), like
    `kubectl port-forward`, until Ctrl-C; the tunnel is closed on exit. With --http, print a
    one-time link that opens the agent's app in a browser instead."""
    with connect(ctx, server, api_key) as client:
        tunnel = client.tunnels.open(
            agent_id, port, protocol="http" if browser else "tcp", exclusive=exclusive
        )
        if as_json:
            print_json(tunnel)
        elif browser:
            out.print(tunnel.url or "", highlight=False, soft_wrap=True)
        if browser or as_json:
            return
        headers = {"Authorization": f"Bearer {client.api_key}"}
        if client.team_id:
            headers["X-Team-ID"] = client.team_id
        listen = tunnel.port if local_port is None else local_port

        def listening(bound: int) -> None:
            out.print(
                f"Forwarding 127.0.0.1:{bound} -> {agent_id}:{tunnel.port} "
                f"(tunnel {tunnel.id}). Ctrl-C to stop.",
                highlight=False,
            )

        def failed(reason: str) -> None:
            err.print(f"[yellow]connection ended:[/yellow] {reason}")

        try:
            asyncio.run(
                forward_tcp(
                    client.server_url,
                    headers,
                    tunnel.id,
                    listen,
                    on_listening=listening,
                    on_error=failed,
                )
            )
        except KeyboardInterrupt:
            pass
        finally:
            client.tunnels.close(tunnel.id)
            out.print(f"Closed tunnel {tunnel.id}.")


@app.command("list")
@handles_errors
def list_tunnels(
    ctx: typer.Context,
    agent_id: Annotated[str, typer.Argument(help="The agent (its agent_id).")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The agent's tunnels, open ones first (then recently closed ones: who, when, why)."""
    with connect(ctx, server, api_key) as client:
        tunnels = client.tunnels.list(agent_id)
    if as_json:
        print_json(tunnels)
        return
    print_table(
        f"Tunnels of {agent_id}",
        ["id", "port", "protocol", "status", "opened", "by", "sessions", "bytes in/out",
         "closed / expires", "why"],
        (
            (
                t.id,
                t.port,
                t.protocol + (" (exclusive)" if t.exclusive else ""),
                t.tunnel_status,
                short_time(t.created_at),
                t.opened_by_email or t.opened_by or "",
                t.sessions_total,
                f"{t.bytes_to_agent}/{t.bytes_from_agent}",
                short_time(t.closed_at or t.expires_at),
                (t.close_reason or "")
                + (f": {t.closed_by_email or t.closed_by}" if t.closed_by else ""),
            )
            for t in tunnels
        ),
    )  # fmt: skip


@app.command("close")
@handles_errors
def close_tunnel(
    ctx: typer.Context,
    tunnel_id: Annotated[str, typer.Argument(help="The tunnel's id.")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Close a tunnel and end every session through it."""
    with connect(ctx, server, api_key) as client:
        tunnel = client.tunnels.close(tunnel_id)
    out.print(f"Tunnel {tunnel.id}: {tunnel.tunnel_status}.")
