"""``Annotated`` dependency aliases so route signatures read like prose."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy, Principal
from runyard.clock import Clock
from runyard.db.engine import Database
from runyard.settings import Settings
from runyard.storage.base import Storage


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_clock(request: Request) -> Clock:
    clock: Clock = request.app.state.clock
    return clock


async def get_storage(request: Request) -> Storage:
    storage: Storage = request.app.state.storage
    return storage


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.session() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
StorageDep = Annotated[Storage, Depends(get_storage)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]


bearer_scheme = HTTPBearer(
    auto_error=False,
    description="A session token (JWT from /auth/login) or an sk-/dk-/ak- API key.",
)
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]


def caller(
    policy: Policy, *, team_from_path: bool = False
) -> Callable[..., Coroutine[Any, Any, Principal]]:
    async def dependency(
        request: Request,
        session: SessionDep,
        _bearer: BearerDep,
        x_team_id: Annotated[
            str | None,
            Header(description="Team to act in (session tokens in several teams)."),
        ] = None,
    ) -> Principal:
        settings: Settings = request.app.state.settings
        team = x_team_id
        if team_from_path:
            team = str(request.path_params.get("team_id", "")) or x_team_id
        principal = await authenticate(
            session,
            authorization=request.headers.get("authorization"),
            team_header=team,
            policy=policy,
            secret_key=settings.token_secrets,
            clock=request.app.state.clock,
        )
        request.state.principal = principal
        return principal

    return dependency


RuntimeWriter = Annotated[Principal, Depends(caller(Policy.RUNTIME_WRITE))]
RuntimeReader = Annotated[Principal, Depends(caller(Policy.RUNTIME_READ))]
MultipartCaller = Annotated[Principal, Depends(caller(Policy.MULTIPART))]
ManageReader = Annotated[Principal, Depends(caller(Policy.MANAGE_READ))]
ManageWriter = Annotated[Principal, Depends(caller(Policy.MANAGE_WRITE))]
TeamAdmin = Annotated[Principal, Depends(caller(Policy.ADMIN))]
AccountCaller = Annotated[Principal, Depends(caller(Policy.ACCOUNT))]
MeCaller = Annotated[Principal, Depends(caller(Policy.USERS_ME))]
DeviceKeyCaller = Annotated[Principal, Depends(caller(Policy.DEVICE_KEYS))]
TeamPathAdmin = Annotated[Principal, Depends(caller(Policy.ADMIN, team_from_path=True))]
