"""``runyard admin``: provisioning from the server's side (talks to the database directly)."""

from __future__ import annotations

import asyncio
from typing import Literal

import typer

from runyard.cli.errors import exits_cleanly

app = typer.Typer(help="Create users and keys directly in the database.", no_args_is_help=True)


@app.command("create-user")
@exits_cleanly
def create_user(
    email: str = typer.Option(..., help="Email address (the login)."),
    password: str = typer.Option(..., prompt=True, hide_input=True, help="At least 8 characters."),
    team: str = typer.Option("", help="Also create a team with this name, owned by the user."),
) -> None:
    """Create a user (and optionally a team they own)."""
    from runyard.db.engine import Database
    from runyard.settings import DatabaseSettings
    from runyard.teams.service import TeamService

    async def run() -> None:
        db = Database(DatabaseSettings())
        try:
            async with db.unit() as uow:
                service = TeamService(uow.session)
                user = await service.create_user(email, password)
                line = f"user {user.id} {user.email_address}"
                if team:
                    created = await service.create_team(user.id, team)
                    line += f" owner of team {created.id}"
            typer.echo(line)
        finally:
            await db.dispose()

    asyncio.run(run())


@app.command("reset-password")
@exits_cleanly
def reset_password(
    email: str = typer.Option(..., help="Email address of the user."),
    password: str = typer.Option(
        ..., prompt=True, hide_input=True, confirmation_prompt=True, help="At least 8 characters."
    ),
) -> None:
    """Set a user's password (a forgotten one); every login of the user ends."""
    from runyard.clock import SystemClock
    from runyard.db.engine import Database
    from runyard.settings import DatabaseSettings
    from runyard.teams.service import TeamService

    async def run() -> None:
        db = Database(DatabaseSettings())
        try:
            async with db.unit() as uow:
                user = await TeamService(uow.session).reset_password(
                    email, password, SystemClock().now()
                )
            typer.echo(f"password set for user {user.id} {user.email_address}; sessions ended")
        finally:
            await db.dispose()

    asyncio.run(run())


@app.command("create-key")
@exits_cleanly
def create_key(
    team_id: str = typer.Option(..., "--team-id", help="Team the key belongs to."),
    kind: str = typer.Option("integration", help="integration (sk-) or agent (ak-)."),
    name: str = typer.Option("", help="A name to recognise the key by."),
) -> None:
    """Create an API key and print it (shown once)."""
    from runyard.clock import SystemClock
    from runyard.credentials.service import CredentialService
    from runyard.db.engine import Database
    from runyard.errors import NotFound, Unprocessable
    from runyard.settings import DatabaseSettings
    from runyard.teams.repository import TeamRepository

    if kind not in ("integration", "agent"):
        raise Unprocessable("--kind must be integration or agent.", code="invalid_kind")
    key_kind: Literal["integration", "agent"] = "integration" if kind == "integration" else "agent"

    async def run() -> None:
        db = Database(DatabaseSettings())
        try:
            async with db.unit() as uow:
                if await TeamRepository(uow.session).team(team_id) is None:
                    raise NotFound(f"No team {team_id}.", code="team_not_found")
                _, raw = CredentialService(uow.session, SystemClock()).create(
                    team_id, key_kind, name
                )
            typer.echo(raw)
        finally:
            await db.dispose()

    asyncio.run(run())


@app.command("gen-secret")
def gen_secret() -> None:
    """Print a new random RUNYARD_SECRET_KEY (48 random bytes, URL-safe base64: ~384 bits).

    To rotate, move the old value into RUNYARD_PREVIOUS_SECRET_KEYS (a JSON list) for one
    refresh-token lifetime, so sessions signed with it keep working until they refresh."""
    import secrets

    typer.echo(secrets.token_urlsafe(48))
