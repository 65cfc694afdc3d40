"""The caller's own account: display name and password."""

from __future__ import annotations

from fastapi import APIRouter

from runyard.api_docs import errors
from runyard.auth.schemas import Success
from runyard.deps import AccountCaller, ClockDep, SessionDep
from runyard.teams.schemas import PasswordChange, UserUpdate
from runyard.teams.service import TeamService

router = APIRouter(tags=["teams"])


@router.put("/users/me", response_model=Success, operation_id="users_me_update", responses=errors())
async def update_me(body: UserUpdate, principal: AccountCaller, session: SessionDep) -> Success:
    """Change your display name."""
    assert principal.user_id
    await TeamService(session).update_user(principal.user_id, body.display_name.strip())
    return Success()


@router.post(
    "/users/me/password",
    response_model=Success,
    operation_id="users_me_password",
    responses=errors(),
)
async def change_password(
    body: PasswordChange, principal: AccountCaller, session: SessionDep, clock: ClockDep
) -> Success:
    """Change your password (the current one is checked: 403 `wrong_password`). Every other
    session of yours ends; this one goes on."""
    assert principal.user_id
    await TeamService(session).change_password(
        principal.user_id,
        body.current_password,
        body.new_password,
        principal.session_id,
        clock.now(),
    )
    return Success()
