"""A user session for the commands the server allows only to session tokens (``credentials``,
``webhooks``): one login serves every command.

``runyard login`` (email and password) keeps the login's refresh token in the profile (0600).
A management command given no key of its own mints a short session from it
(``POST /auth/refresh``) and saves the rotated refresh token at once, so the next command uses
the new one (the server revokes a login whose old refresh token is presented again). A key
given with ``--api-key``/``RUNYARD_API_KEY`` is used as it is.
"""

from __future__ import annotations

import dataclasses

import typer

from runyard_client._client import Client
from runyard_client._config import load_profile, resolve, save_profile
from runyard_client._errors import AuthenticationError
from runyard_client.cli._common import fail, transport_of


def connect_session(ctx: typer.Context, server: str | None, api_key: str | None) -> Client:
    """A client with a user session: the given key, else one minted from the saved login."""
    resolved = resolve(server, api_key)
    transport = transport_of(ctx)
    if resolved.api_key is not None and resolved.source != "profile":
        return Client(resolved.server_url, resolved.api_key, transport=transport)
    where = resolved.server_url
    profile = load_profile(None, where)
    if profile is None:
        raise fail(
            f"not logged in to {where}: run `runyard login --server {where}` (an admin's email "
            "and password), or pass --api-key with a session token",
            3,
        )
    if profile.refresh_token is None:
        raise fail(
            f"this command needs a user session and the login saved for {where} keeps only a "
            "device key: run `runyard login` with your email and password once (a `--device` "
            "login keeps no session), or pass --api-key with a session token",
            3,
        )
    with Client(where, None, use_profile=False, transport=transport) as anonymous:
        try:
            tokens = anonymous.auth.refresh(profile.refresh_token)
        except AuthenticationError as exc:
            raise fail(
                f"the login saved for {where} has ended ({exc.error_message}): run "
                f"`runyard login --server {where}` again",
                3,
            ) from None
    current = load_profile() == profile
    save_profile(dataclasses.replace(profile, refresh_token=tokens.refresh_token), current=current)
    return Client(
        where,
        tokens.access_token,
        team_id=profile.team_id,
        use_profile=False,
        transport=transport,
    )
