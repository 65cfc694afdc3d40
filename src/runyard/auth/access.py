"""Who is calling: the route dependencies that authenticate a request under a ``Policy``
(``authenticate.py``) and hand the route its ``Principal``, as ``Annotated`` aliases."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy, Principal
from runyard.providers import ClockDep, SessionDep, SettingsDep

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
        settings: SettingsDep,
        clock: ClockDep,
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
            secret_key=settings.token_secrets,
            clock=clock,
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
