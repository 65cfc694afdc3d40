"""``runyard login`` and ``runyard logout``: a device key saved in the profile.

Login exchanges email and password for a session (``POST /auth/login``), mints a ``dk-`` device
key with it (``POST /auth/device-keys``), ends the session (the key is all the CLI keeps) and
saves ``{server_url, api_key, team_id}`` to the profile, readable by its owner only (0600).
"""

from __future__ import annotations

import contextlib
import platform
from typing import Annotated

import typer

from runyard_client._client import Client
from runyard_client._config import DEFAULT_URL, Profile, delete_profile, profile_path, save_profile
from runyard_client._errors import RunyardError
from runyard_client.cli._common import JsonOpt, handles_errors, out, print_json, transport_of


@handles_errors
def login(
    ctx: typer.Context,
    email: Annotated[str, typer.Option("--email", prompt=True, help="Your email address.")],
    password: Annotated[
        str,
        typer.Option("--password", prompt=True, hide_input=True, help="Prompted for when omitted."),
    ],
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
    as_json: JsonOpt = False,
) -> None:
    """Log in and save a device key for the next commands."""
    server = server.rstrip("/")
    with Client(server, None, use_profile=False, transport=transport_of(ctx)) as client:
        tokens = client.auth.login(email, password)
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
                device_name or f"runyard CLI on {platform.node() or 'this machine'}",
                access_token=tokens.access_token,
                team_id=team_id,
            )
        finally:  # the session was only needed to mint the device key
            with contextlib.suppress(RunyardError):
                client.auth.logout(access_token=tokens.access_token)
    path = save_profile(Profile(server, key.raw_key, team_id, email))
    if as_json:
        print_json(
            {
                "server_url": server,
                "team_id": team_id,
                "key_prefix": key.key_prefix,
                "profile": str(path),
            }
        )
        return
    out.print(f"Logged in to {server} as {email}" + (f" (team {team_id})" if team_id else ""))
    out.print(f"Device key {key.key_prefix}… saved to {path}", style="dim")


@handles_errors
def logout() -> None:
    """Forget the saved key (an admin can revoke it in the team's credentials)."""
    path = profile_path()
    if delete_profile(path):
        out.print(f"Removed {path}")
    else:
        out.print("Not logged in.")
