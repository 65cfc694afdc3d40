from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from runyard.api_docs import errors
from runyard.credentials.schemas import (
    CredentialCreate,
    CredentialCreated,
    CredentialList,
    CredentialRead,
)
from runyard.credentials.service import CredentialService
from runyard.deps import ClockDep, SessionDep, TeamAdmin, UnitDep
from runyard.gateway.registry import Gateway
from runyard.pagination import PageDep
from runyard.providers import provider

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.post(
    "",
    response_model=CredentialCreated,
    status_code=201,
    operation_id="credentials_create",
    responses=errors(),
)
async def create_credential(
    body: CredentialCreate, principal: TeamAdmin, session: SessionDep, clock: ClockDep
) -> CredentialCreated:
    """Create an integration (`sk-`) or agent (`ak-`) key. The raw key is shown only here."""
    key, raw = CredentialService(session, clock).create(
        principal.team, body.kind, body.display_name, body.expires_in_days
    )
    return CredentialCreated(
        id=key.id,
        kind=key.kind,
        display_name=key.display_name,
        key_prefix=key.key_prefix,
        raw_key=raw,
        expires_at=key.expires_at,
    )


@router.get("", response_model=CredentialList, operation_id="credentials_list", responses=errors())
async def list_credentials(
    principal: TeamAdmin, session: SessionDep, clock: ClockDep, page: PageDep
) -> CredentialList:
    """The team's keys of every kind, newest first (never the secrets)."""
    keys, total = await CredentialService(session, clock).page(
        principal.team, page.offset, page.per_page
    )
    return CredentialList(
        credentials=[CredentialRead.model_validate(k, from_attributes=True) for k in keys],
        page_meta=page.meta(total),
    )


@router.delete(
    "/{credential_id}",
    status_code=204,
    operation_id="credentials_revoke",
    responses=errors(404),
)
async def revoke_credential(
    credential_id: str,
    principal: TeamAdmin,
    uow: UnitDep,
    gateway: Annotated[Gateway, Depends(provider("gateway", Gateway))],
    clock: ClockDep,
) -> Response:
    """Revoke a key: refused from the next request on; its open connections close within 10 s.
    Revoking a device key paired with a companion agent key revokes that agent key too."""
    revoked = await CredentialService(uow.session, clock).revoke(principal.team, credential_id)
    agent_keys = [k.id for k in revoked if k.kind == "agent"]

    async def disconnect() -> None:
        for key_id in agent_keys:
            await gateway.disconnect_key(key_id)

    if agent_keys:
        uow.after_commit(disconnect)
    return Response(status_code=204)
