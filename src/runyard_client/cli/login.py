"""``runyard login`` and ``runyard logout``: a device key saved in the profile.

Login exchanges email and password for a session (``POST /auth/login``), mints a ``dk-`` device
key with it (``POST /auth/device-keys``) and saves ``{server_url, api_key, team_id,
refresh_token}`` to the profile, readable by its owner only (0600): the device key serves the
runtime and workflow commands, the session's refresh token the commands only a user session may
call (``credentials``, ``webhooks``: ``cli/_session.py``). ``runyard logout`` ends that session.
``runyard login --device`` gets the key by pairing instead (``cli/pairing.py``): a signed-in
user confirms a short code in the dashboard, and no password is typed here.
"""

from __future__ import annotations

import contextlib
import platform
from typing import Annotated

import typer

from runyard_client._client import Client
from runyard_client._config import (
    DEFAULT_URL,
    Profile,
    delete_profile,
    load_profiles,
    profile_path,
    same_server,
    save_profile,
)
from runyard_client._errors import RunyardError
from runyard_client.cli._common import JsonOpt, handles_errors, out, print_json, transport_of
from runyard_client.cli.pairing import pair_device


@handles_errors
def login(
    ctx: typer.Context,
    email: Annotated[
        str | None, typer.Option("--email", help="Your email address (prompted for).")
    ] = None,
    password: Annotated[
        str | None,
        typer.Option("--password", hide_input=True, help="Prompted for when omitted."),
    ] = None,
    server: Annotated[
        str,
        typer.Option("--server", envvar="RUNYARD_URL", show_envvar=True, help="Server root URL."),
    ] = DEFAULT_URL,
    team_id: Annotated[
        str | None, typer.Option("--team-id", help="The team, when you belong to several.")
    ] = None,
    device_name: Annotated[
        str | None,
        typer.Option(
            "--device-name", help="Shown in the team's credential list (default: host name)."
        ),
    ] = None,
    device: Annotated[
        bool,
        typer.Option("--device", help="Pair through the dashboard (confirm a code there) instead."),
    ] = False,
    with_agent_key: Annotated[
        bool,
        typer.Option(
            "--with-agent-key",
            help="With --device: also get an agent (ak-) key for `runyard agent` (admins).",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Log in: save a device key and the login's session for every next command."""
    server = server.rstrip("/")
    name = device_name or f"runyard CLI on {platform.node() or 'this machine'}"
    if with_agent_key and not device:
        raise typer.BadParameter("--with-agent-key goes with --device")
    if device:
        with Client(server, None, use_profile=False, transport=transport_of(ctx)) as client:
            paired = pair_device(client, name, with_agent_key, quiet=as_json)
        profile = Profile(server, paired.device_key, paired.team_id, None, paired.agent_key)
        _saved(profile, as_json)
        return
    email = email or typer.prompt("Email")
    password = password or typer.prompt("Password", hide_input=True)
    with Client(server, None, use_profile=False, transport=transport_of(ctx)) as client:
        tokens = client.auth.login(email, password)
        kept = False
        try:
            if team_id is None:
                teams = client.auth.me(access_token=tokens.access_token).teams
                if len(teams) != 1:
                    listed = ", ".join(f"{t.id} ({t.display_name})" for t in teams) or "none"
                    raise typer.BadParameter(
                        f"you belong to several teams (or none): pass --team-id, one of {listed}"
                    )
                team_id = teams[0].id
            key = client.auth.create_device_key(
                name, access_token=tokens.access_token, team_id=team_id
            )
            kept = True
        finally:  # a login that saved nothing is ended
            if not kept:
                with contextlib.suppress(RunyardError):
                    client.auth.logout(access_token=tokens.access_token)
    profile = Profile(server, key.raw_key, team_id, email, refresh_token=tokens.refresh_token)
    _saved(profile, as_json)


def _saved(profile: Profile, as_json: bool) -> None:
    path = save_profile(profile)
    team, prefix = profile.team_id, profile.api_key[:11]
    if as_json:
        print_json(
            {
                "server_url": profile.server_url,
                "team_id": team,
                "key_prefix": prefix,
                "agent_key_prefix": profile.agent_key[:11] if profile.agent_key else None,
                "profile": str(path),
            }
        )
        return
    who = f" as {profile.email_address}" if profile.email_address else ""
    out.print(f"Logged in to {profile.server_url}{who}" + (f" (team {team})" if team else ""))
    out.print(f"Device key {prefix}… saved to {path}", style="dim")
    if profile.agent_key:
        out.print(
            f"Agent key {profile.agent_key[:11]}… saved there too (`agent_key`); start an agent "
            "with RUNYARD_AGENT_KEY set to it: `runyard agent`.",
            style="dim",
        )


@handles_errors
def logout(
    ctx: typer.Context,
    server: Annotated[
        str | None,
        typer.Option("--server", help="Forget only this server's login (default: every one)."),
    ] = None,
) -> None:
    """End the saved logins' sessions and forget their keys."""
    path = profile_path()
    for profile in load_profiles(path):
        if server is None or same_server(server, profile.server_url):
            _end_session(ctx, profile)
    if delete_profile(path, server):
        out.print(f"Logged out; removed {'the login for ' + server if server else path}")
    else:
        out.print("Not logged in" + (f" to {server}." if server else "."))


def _end_session(ctx: typer.Context, profile: Profile) -> None:
    """Best effort: a server that is down or a login already ended is not an error here."""
    if profile.refresh_token is None:
        return
    url = profile.server_url
    with (
        contextlib.suppress(RunyardError),
        Client(url, None, use_profile=False, transport=transport_of(ctx)) as client,
    ):
        tokens = client.auth.refresh(profile.refresh_token)
        client.auth.logout(access_token=tokens.access_token)
