"""``Annotated`` dependency aliases so route signatures read like prose.

Every route that touches the database gets the request's one ``UnitOfWork`` (``UnitDep``, or
its session as ``SessionDep``): it commits once, after the route returns and before the answer
is sent, and runs its after-commit hooks; an error rolls it back (or, for an error raised with
``commit_first=True``, commits and then refuses).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy, Principal
from runyard.clock import Clock
from runyard.db.unit import UnitOfWork
from runyard.events.hub import EventHub
from runyard.gateway.registry import Gateway
from runyard.services import Services
from runyard.settings import Settings
from runyard.storage.base import Storage


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def get_services(request: Request) -> Services:
    return services_of(request)


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_settings(services: ServicesDep) -> Settings:
    return services.settings


async def get_clock(services: ServicesDep) -> Clock:
    return services.clock


async def get_storage(services: ServicesDep) -> Storage:
    return services.storage


async def get_gateway(services: ServicesDep) -> Gateway:
    return services.gateway


async def get_events(services: ServicesDep) -> EventHub:
    return services.events


async def get_unit(services: ServicesDep) -> AsyncIterator[UnitOfWork]:
    async with services.db.unit() as uow:
        yield uow


SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Clock, Depends(get_clock)]
StorageDep = Annotated[Storage, Depends(get_storage)]
GatewayDep = Annotated[Gateway, Depends(get_gateway)]
EventsDep = Annotated[EventHub, Depends(get_events)]
# scope="function": committed when the route returns, before the response is sent.
UnitDep = Annotated[UnitOfWork, Depends(get_unit, scope="function")]


async def get_session(uow: UnitDep) -> AsyncSession:
    return uow.session


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
        services: ServicesDep,
        session: SessionDep,
        _bearer: BearerDep,
        x_team_id: Annotated[
            str | None,
            Header(description="Team to act in (session tokens in several teams)."),
        ] = None,
    ) -> Principal:
        team = x_team_id
        if team_from_path:
            team = str(request.path_params.get("team_id", "")) or x_team_id
        principal = await authenticate(
            session,
            authorization=request.headers.get("authorization"),
            team_header=team,
            policy=policy,
            secret_key=services.settings.token_secrets,
            clock=services.clock,
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
TeamPathMember = Annotated[Principal, Depends(caller(Policy.MEMBERSHIP, team_from_path=True))]
