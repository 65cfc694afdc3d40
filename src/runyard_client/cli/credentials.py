"""``runyard credentials create|list|revoke``: the team's keys.

The server allows these to team admins with a *session token* only (contract section 2): with no
``--api-key`` the command mints a short session from the login ``runyard login`` saved
(``cli/_session.py``); a key passed with ``--api-key`` must be a session token.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    handles_errors,
    out,
    print_json,
    print_page,
    short_time,
)
from runyard_client.cli._session import connect_session

app = typer.Typer(
    help="Create, list and revoke the team's keys (admins; uses the session of `runyard login`).",
    no_args_is_help=True,
)


@app.command("create")
@handles_errors
def create(
    ctx: typer.Context,
    kind: Annotated[
        Literal["integration", "agent"],
        typer.Option("--kind", help="integration (sk-) or agent (ak-)."),
    ] = "integration",
    name: Annotated[str, typer.Option("--name", help="A name to recognise it by.")] = "",
    expires_in_days: Annotated[
        int | None, typer.Option("--expires-in-days", min=1, max=3650)
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a key; its secret is printed once."""
    with connect_session(ctx, server, api_key) as client:
        created = client.credentials.create(kind, name, expires_in_days)
    if as_json:
        print_json(created)
        return
    out.print(f"{created.kind} key {created.id} created; the secret is shown only now:")
    typer.echo(created.raw_key)


@app.command("list")
@handles_errors
def list_credentials(
    ctx: typer.Context,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's keys, newest first (never the secrets)."""
    with connect_session(ctx, server, api_key) as client:
        result = client.credentials.list(current_page=page, per_page=per_page)
    print_page(
        result,
        as_json,
        "Credentials",
        ["id", "kind", "name", "prefix", "created", "last used", "revoked"],
        lambda c: (
            c.id,
            c.kind,
            c.display_name,
            c.key_prefix,
            short_time(c.created_at),
            short_time(c.last_used_at),
            short_time(c.revoked_at),
        ),
    )


@app.command("revoke")
@handles_errors
def revoke(
    ctx: typer.Context,
    credential_id: Annotated[str, typer.Argument()],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Revoke a key (refused from its next request on)."""
    with connect_session(ctx, server, api_key) as client:
        client.credentials.revoke(credential_id)
    if as_json:
        print_json({"id": credential_id, "revoked": True})
    else:
        out.print(f"revoked {credential_id}")
