"""First-start provisioning shared by ``runyard dev`` and tests: a team, its owner, one key of
each kind, and the built-in workflows. Commits, since it is its own unit of work."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from runyard.auth.service import AuthService
from runyard.clock import SystemClock
from runyard.credentials.service import CredentialService
from runyard.db.engine import Database
from runyard.settings import Settings
from runyard.teams.service import TeamService


@dataclass(frozen=True)
class Provisioned:
    team_id: str
    user_id: str
    email_address: str
    user_password: str
    integration_key: str
    device_key: str
    agent_key: str


async def provision(
    db: Database,
    settings: Settings,
    *,
    email: str = "owner@runyard.local",
    password: str | None = None,
    team_name: str = "My team",
    builtins: bool = True,
) -> Provisioned:
    password = password or secrets.token_urlsafe(18)
    clock = SystemClock()
    async with db.unit() as uow:
        session = uow.session
        teams = TeamService(session)
        user = await teams.create_user(email, password, display_name="Owner")
        team = await teams.create_team(user.id, team_name)
        creds = CredentialService(session, clock)
        _, sk = creds.create(team.id, "integration", "runyard dev")
        _, ak = creds.create(team.id, "agent", "local agent")
        _, dk = AuthService(session, settings, clock).create_device_key(
            team.id, user.id, "runyard dev"
        )
        if builtins:
            from runyard.workflows.builtins import register_builtins

            await register_builtins(session, team.id)
    return Provisioned(team.id, user.id, email, password, sk, dk, ak)
