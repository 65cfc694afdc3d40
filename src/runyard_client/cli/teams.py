"""``runyard teams …`` and ``runyard account …``: teams, members, invitations, your account.

The server allows these to *session tokens* only: pass ``--api-key`` with an access token from
``POST /api/v1/auth/login`` (a ``dk-`` key from ``runyard login`` is refused with 403). The team
is ``--team``, else the saved profile's.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from runyard_client._client import Client
from runyard_client.cli._common import (
    ApiKeyOpt,
    JsonOpt,
    PageOpt,
    PerPageOpt,
    ServerOpt,
    connect,
    fail,
    handles_errors,
    out,
    page_footer,
    print_json,
    print_table,
    short_time,
    transport_of,
)

app = typer.Typer(
    help="Teams, members and invitations (session token; see `runyard teams --help`).",
    no_args_is_help=True,
)
account = typer.Typer(help="Your account: display name and password.", no_args_is_help=True)

TeamOpt = Annotated[
    str | None, typer.Option("--team", help="Team id (default: the saved profile's team).")
]
Role = Literal["admin", "member", "viewer"]


def team_of(client: Client, team: str | None) -> str:
    chosen = team or client.team_id
    if not chosen:
        raise fail("which team? pass --team TEAM_ID (see `runyard teams list`)", 2)
    return chosen


@app.command("list")
@handles_errors
def list_teams(
    ctx: typer.Context,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The teams you belong to, with your role."""
    with connect(ctx, server, api_key) as client:
        me = client.auth.me()
    if as_json:
        print_json(me.teams)
        return
    print_table("Teams", ["id", "name", "role"], ((t.id, t.display_name, t.role) for t in me.teams))


@app.command("create")
@handles_errors
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The team's name.")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a team; you become its owner."""
    with connect(ctx, server, api_key) as client:
        created = client.teams.create(name)
    print_json(created) if as_json else out.print(f"created team {created.id}")


@app.command("rename")
@handles_errors
def rename(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The new name.")],
    team: TeamOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Rename the team (admins and the owner)."""
    with connect(ctx, server, api_key) as client:
        renamed = client.teams.update(team_of(client, team), name)
    out.print(f"team {renamed.id} is now {renamed.display_name!r}")


@app.command("members")
@handles_errors
def members(
    ctx: typer.Context,
    team: TeamOpt = None,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's members (admins and the owner)."""
    with connect(ctx, server, api_key) as client:
        result = client.teams.members(team_of(client, team), current_page=page, per_page=per_page)
    if as_json:
        print_json(result)
        return
    print_table(
        "Members",
        ["user id", "email", "name", "role", "since"],
        (
            (m.user_id, m.email_address, m.display_name, m.role, short_time(m.created_at))
            for m in result.items
        ),
        page_footer(result.page_meta),
    )


@app.command("invite")
@handles_errors
def invite(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The colleague's email address.")],
    role: Annotated[Role, typer.Option("--role", help="admin, member or viewer.")] = "member",
    team: TeamOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Invite an email address; prints the one-time link to send them (shown only now)."""
    with connect(ctx, server, api_key) as client:
        created = client.teams.invite(team_of(client, team), email, role)
    if as_json:
        print_json(created)
        return
    emailed = " (also emailed)" if created.emailed else ""
    out.print(f"invited {created.email_address} as {created.role}{emailed}; send them this link:")
    typer.echo(created.accept_url)


@app.command("invitations")
@handles_errors
def invitations(
    ctx: typer.Context,
    team: TeamOpt = None,
    page: PageOpt = 1,
    per_page: PerPageOpt = 20,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The team's pending invitations."""
    with connect(ctx, server, api_key) as client:
        result = client.teams.invitations(
            team_of(client, team), current_page=page, per_page=per_page
        )
    if as_json:
        print_json(result)
        return
    print_table(
        "Pending invitations",
        ["id", "email", "role", "sent", "expires"],
        (
            (i.id, i.email_address, i.role, short_time(i.created_at), short_time(i.expires_at))
            for i in result.items
        ),
        page_footer(result.page_meta),
    )


@app.command("revoke-invitation")
@handles_errors
def revoke_invitation(
    ctx: typer.Context,
    invitation_id: Annotated[str, typer.Argument()],
    team: TeamOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Revoke a pending invitation (its link stops working)."""
    with connect(ctx, server, api_key) as client:
        client.teams.revoke_invitation(team_of(client, team), invitation_id)
    out.print(f"revoked invitation {invitation_id}")


@app.command("set-role")
@handles_errors
def set_role(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument()],
    role: Annotated[Role, typer.Argument(help="admin, member or viewer.")],
    team: TeamOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Change a member's role."""
    with connect(ctx, server, api_key) as client:
        member = client.teams.set_role(team_of(client, team), user_id, role)
    out.print(f"{member.email_address} is now {member.role}")


@app.command("remove")
@handles_errors
def remove(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument()],
    team: TeamOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Remove a member (their access to the team ends at once)."""
    with connect(ctx, server, api_key) as client:
        client.teams.remove_member(team_of(client, team), user_id)
    out.print(f"removed {user_id}")


@app.command("transfer")
@handles_errors
def transfer(
    ctx: typer.Context,
    user_id: Annotated[str, typer.Argument(help="The member who becomes owner.")],
    team: TeamOpt = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Hand the team over (owner only); you become an admin."""
    with connect(ctx, server, api_key) as client:
        client.teams.transfer_ownership(team_of(client, team), user_id)
    out.print(f"{user_id} now owns the team; you are an admin")


@app.command("leave")
@handles_errors
def leave(
    ctx: typer.Context, team: TeamOpt = None, server: ServerOpt = None, api_key: ApiKeyOpt = None
) -> None:
    """Leave the team (not the owner: transfer ownership first)."""
    with connect(ctx, server, api_key) as client:
        chosen = team_of(client, team)
        client.teams.leave(chosen)
    out.print(f"left team {chosen}")


@app.command("delete")
@handles_errors
def delete(
    ctx: typer.Context,
    team: TeamOpt = None,
    confirm: Annotated[
        str | None,
        typer.Option("--confirm", help="The team's name, typed back (else asked for)."),
    ] = None,
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Delete the team and everything in it: tasks cancelled, keys revoked, files removed."""
    with connect(ctx, server, api_key) as client:
        chosen = team_of(client, team)
        name = confirm if confirm is not None else typer.prompt("Type the team's name to delete it")
        client.teams.delete(chosen, name)
    out.print(f"deleted team {chosen}")


@app.command("accept")
@handles_errors
def accept(
    ctx: typer.Context,
    link: Annotated[str, typer.Argument(help="The invitation link (or its token).")],
    new_account: Annotated[
        bool,
        typer.Option(
            "--new-account",
            help="Accept as the invited address's account (created when it has none), with a "
            "password asked for; otherwise as your session (--api-key).",
        ),
    ] = False,
    name: Annotated[str, typer.Option("--name", help="Your display name (new account).")] = "",
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Join a team with an invitation link."""
    if new_account:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        with Client(server, None, transport=transport_of(ctx), use_profile=False) as client:
            joined = client.teams.accept_invitation(link, password=password, display_name=name)
    else:
        with connect(ctx, server, api_key) as client:
            joined = client.teams.accept_invitation(link)
    if as_json:
        print_json(joined.model_dump(exclude={"access_token", "refresh_token"}))
        return
    out.print(f"joined team {joined.team_id} as {joined.role}; sign in with `runyard login`")


@account.command("name")
@handles_errors
def set_name(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Your display name.")],
    server: ServerOpt = None,
    api_key: ApiKeyOpt = None,
) -> None:
    """Change your display name."""
    with connect(ctx, server, api_key) as client:
        client.account.update(name)
    out.print("display name changed")


@account.command("password")
@handles_errors
def password(ctx: typer.Context, server: ServerOpt = None, api_key: ApiKeyOpt = None) -> None:
    """Change your password (asked for); your other sessions end."""
    current = typer.prompt("Current password", hide_input=True)
    new = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    with connect(ctx, server, api_key) as client:
        client.account.change_password(current, new)
    out.print("password changed; your other sessions ended")
