"""``/api/v1/agents/{agent_id}/tunnels`` and ``/api/v1/tunnels/{id}``: open, list, read and
close tunnels. Members and up open and close (session or ``dk-``); viewers read."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Depends

from runyard.api_docs import errors
from runyard.deps import ClockDep, ManageReader, ManageWriter, SettingsDep, UnitDep
from runyard.gateway.registry import Gateway
from runyard.providers import provider
from runyard.tunnels.relay import TunnelRelays
from runyard.tunnels.schemas import TunnelCreate, TunnelList, TunnelRead
from runyard.tunnels.service import TunnelService

router = APIRouter(tags=["tunnels"])
GatewayDep = Annotated[Gateway, Depends(provider("gateway", Gateway))]
RelaysDep = Annotated[TunnelRelays, Depends(provider("tunnels", TunnelRelays))]
log = logging.getLogger("runyard.tunnels")


@router.post(
    "/agents/{agent_id}/tunnels",
    status_code=201,
    response_model=TunnelRead,
    operation_id="tunnels_open",
    responses=errors(404, 409, 502),
)
async def open_tunnel(
    agent_id: str,
    body: TunnelCreate,
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    gateway: GatewayDep,
    clock: ClockDep,
) -> TunnelRead:
    """Open a tunnel to `port` on the agent's 127.0.0.1 (a port the agent allows). `http`:
    `url` is a one-time link that opens it in a browser at the tunnel origin; `tcp`:
    `runyard tunnel open` forwards local connections through `connect_url`. `exclusive` takes
    the agent out of dispatch (status `tunnel`) until the tunnel closes."""
    service = TunnelService(uow, settings)
    tunnel, token = await service.open(
        principal.team, principal.user_id, agent_id, body, clock.now()
    )
    log.info(
        "tunnel %s opened: agent=%s port=%d protocol=%s exclusive=%s by user=%s",
        tunnel.id,
        agent_id,
        tunnel.port,
        body.protocol,
        body.exclusive,
        principal.user_id,
    )
    if body.exclusive:
        conn = gateway.get(principal.team, agent_id)

        async def take_out_of_dispatch() -> None:
            if conn is not None:
                conn.tunnel_exclusive = True

        uow.after_commit(take_out_of_dispatch)
    return service.read(tunnel, token)


@router.get(
    "/agents/{agent_id}/tunnels",
    response_model=TunnelList,
    operation_id="tunnels_list",
    responses=errors(404),
)
async def list_tunnels(
    agent_id: str, principal: ManageReader, uow: UnitDep, settings: SettingsDep
) -> TunnelList:
    """The agent's tunnels, open ones first, then the most recent closed ones: the audit trail
    (who opened which port when, its sessions, when it was last used and the bytes relayed,
    who closed it when and why)."""
    service = TunnelService(uow, settings)
    rows = await service.of_agent(principal.team, agent_id)
    return TunnelList(tunnel_list=await service.read_all(rows))


@router.get(
    "/tunnels/{tunnel_id}",
    response_model=TunnelRead,
    operation_id="tunnels_get",
    responses=errors(404),
)
async def get_tunnel(
    tunnel_id: str, principal: ManageReader, uow: UnitDep, settings: SettingsDep
) -> TunnelRead:
    """A tunnel's status and audit trail."""
    service = TunnelService(uow, settings)
    return (await service.read_all([await service.get(principal.team, tunnel_id)]))[0]


@router.delete(
    "/tunnels/{tunnel_id}",
    response_model=TunnelRead,
    operation_id="tunnels_close",
    responses=errors(404),
)
async def close_tunnel(
    tunnel_id: str,
    principal: ManageWriter,
    uow: UnitDep,
    settings: SettingsDep,
    relays: RelaysDep,
    clock: ClockDep,
) -> TunnelRead:
    """Close the tunnel and end every session through it (on every server process; those
    relayed by another process end within RUNYARD_TUNNEL_SWEEP_INTERVAL). Closing a closed
    tunnel answers it unchanged."""
    service = TunnelService(uow, settings)
    tunnel = await service.get(principal.team, tunnel_id)
    if await service.close(tunnel, "closed by a user", clock.now(), by=principal.user_id):
        log.info("tunnel %s closed by user=%s", tunnel_id, principal.user_id)

    async def end_sessions() -> None:
        relays.end(tunnel_id)
        relays.wake()  # re-read the agents' tunnel status now

    uow.after_commit(end_sessions)
    return (await service.read_all([tunnel]))[0]
