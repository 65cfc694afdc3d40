"""``runyard nodes upload|list|disable|enable|rm``: the team's ComfyUI custom node packages."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    connect,
    handles_errors,
    out,
    print_json,
    print_page,
)
from runyard_client.cli.upload import transfer_bars

app = typer.Typer(
    help="The team's ComfyUI custom node packages, unpacked by its agents in custom_nodes/.",
    no_args_is_help=True,
)

PackageArg = Annotated[str, typer.Argument(help="The package's id (see `runyard nodes list`).")]


@app.command("upload")
@handles_errors
def upload(
    ctx: typer.Context,
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            readable=True,
            help="The package's folder (packed here as a tar.gz) or an archive of one folder "
            "(zip or tar.gz).",
        ),
    ],
    name: Annotated[
        str | None,
        typer.Option("--name", help="Folder under custom_nodes/ (default: the package's)."),
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Upload a custom node package (sha256 computed here; bytes the team holds already are not
    sent again) and register it: the server checks the archive, the team's agents unpack it and
    restart their supervised ComfyUI."""
    with connect(ctx, server, api_key) as client, transfer_bars() as bars:
        bar = bars.add_task(path.name, total=None)
        row = client.upload_node_package(
            path, name, lambda sent, total: bars.update(bar, completed=sent, total=total)
        )
    if as_json:
        print_json(row)
    else:
        out.print(f"{row.id} custom_nodes/{row.name} sha256:{row.sha256}")


@app.command("list")
@handles_errors
def list_packages(
    ctx: typer.Context,
    status: Annotated[
        str | None, typer.Option("--status", help="Only `active` or `disabled` packages.")
    ] = None,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's node packages by name."""
    with connect(ctx, server, api_key) as client:
        result = client.node_packages.list(
            current_page=page, per_page=per_page, package_status=status
        )
    print_page(
        result,
        as_json,
        "Node packages",
        ["id", "name", "files", "bytes", "status", "requirements", "sha256"],
        lambda p: (
            p.id,
            p.name,
            p.file_count,
            p.unpacked_bytes,
            p.package_status,
            "yes" if p.requirements else "",
            p.sha256[:12],
        ),
    )


@app.command("disable")
@handles_errors
def disable(
    ctx: typer.Context, package_id: PackageArg, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """Take a package out of the agents' set (they remove its folder and restart ComfyUI)."""
    with connect(ctx, server, api_key) as client:
        row = client.node_packages.disable(package_id)
    out.print(f"{row.id} disabled")


@app.command("enable")
@handles_errors
def enable(
    ctx: typer.Context, package_id: PackageArg, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """Put a disabled package back in the agents' set."""
    with connect(ctx, server, api_key) as client:
        row = client.node_packages.enable(package_id)
    out.print(f"{row.id} active")


@app.command("rm")
@handles_errors
def remove(
    ctx: typer.Context, package_id: PackageArg, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """Delete a package from the library."""
    with connect(ctx, server, api_key) as client:
        client.node_packages.delete(package_id)
    out.print(f"{package_id} deleted")
