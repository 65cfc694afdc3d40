"""The tunnels' WebSockets. ``/tunnels/{id}/connect``: one forwarded TCP connection of
``runyard tunnel open`` (binary messages both ways). ``/internal/tunnels/{id}/hop``: another
server process relaying a session to an agent connected here (signed, never hops again).

Both accept, then answer one text message ``{"ok": true}`` once the agent opened the port, or
``{"ok": false, "error_code", "error_message"}`` and close; then bytes flow. An abnormal end
(the agent disconnected) closes with 4000 and the reason as the close reason."""

from __future__ import annotations

import contextlib
import json
import logging
import time

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from starlette.websockets import WebSocketDisconnect

from runyard.auth.authenticate import authenticate
from runyard.auth.principal import Policy
from runyard.errors import RunyardError
from runyard.tunnels.credentials import HOP_HEADER, verify
from runyard.tunnels.env import TunnelEnv
from runyard.tunnels.relay import HALF_CLOSE_HEADER, ByteStream
from runyard.tunnels.repository import TunnelRepository
from runyard.tunnels.service import TunnelTarget, target_of

router = APIRouter(tags=["tunnels"])
log = logging.getLogger("runyard.tunnels")


async def _deny(websocket: WebSocket, exc: RunyardError) -> None:
    body = {"error_message": exc.message, "error_code": exc.code, "request_id": ""}
    try:
        await websocket.send_denial_response(JSONResponse(body, status_code=exc.status))
    except RuntimeError:
        await websocket.close(code=1008)


async def _target(services: TunnelEnv, team_id: str | None, tunnel_id: str) -> TunnelTarget:
    async with services.db.unit() as uow:
        repo = TunnelRepository(uow.session)
        tunnel = await (repo.get(team_id, tunnel_id) if team_id else repo.by_id(tunnel_id))
        if tunnel is None:
            raise RunyardError(
                f"No tunnel {tunnel_id!r} in this team.", code="tunnel_not_found", status=404
            )
        if tunnel.tunnel_status != "open":
            raise RunyardError(
                f"The tunnel is closed ({tunnel.close_reason or 'closed'}): open a new one.",
                code="tunnel_closed",
                status=410,
            )
        return target_of(tunnel)


async def _serve(
    websocket: WebSocket, services: TunnelEnv, target: TunnelTarget, *, local_only: bool
) -> None:
    await websocket.accept()
    half_close = websocket.headers.get(HALF_CLOSE_HEADER.lower()) == "1"
    relays = services.tunnels
    try:
        stream: ByteStream = await relays.connect(target, local_only=local_only)
    except RunyardError as exc:
        with contextlib.suppress(Exception):
            answer = {"ok": False, "error_code": exc.code, "error_message": exc.message}
            await websocket.send_text(json.dumps(answer))
            await websocket.close(4000, exc.message[:120])
        return
    if not local_only:  # counted where the user arrived, not again at the hop
        async with services.db.unit() as uow:
            await TunnelRepository(uow.session).count_session(target.id)
    async with relays.session(target.id):
        try:
            await websocket.send_text(
                json.dumps({"ok": True, "half_close": True} if half_close else {"ok": True})
            )
        except (WebSocketDisconnect, RuntimeError):
            await stream.close()
            return
        await relays.pump(websocket, stream, half_close, None if local_only else target.id)


@router.websocket("/tunnels/{tunnel_id}/connect")
async def tunnel_connect(websocket: WebSocket, tunnel_id: str) -> None:
    """One TCP connection forwarded to a `tcp` tunnel (`runyard tunnel open`):
    `Authorization` as for `POST /agents/{agent_id}/tunnels`; see docs/api.md."""
    services: TunnelEnv = websocket.app.state.services
    try:
        async with services.db.unit() as uow:
            principal = await authenticate(
                uow.session,
                authorization=websocket.headers.get("authorization"),
                team_header=websocket.headers.get("x-team-id"),
                policy=Policy.MANAGE_WRITE,
                secret_key=services.settings.token_secrets,
                clock=services.clock,
            )
        target = await _target(services, principal.team, tunnel_id)
    except RunyardError as exc:
        await _deny(websocket, exc)
        return
    await _serve(websocket, services, target, local_only=False)


@router.websocket("/internal/tunnels/{tunnel_id}/hop")
async def tunnel_hop(websocket: WebSocket, tunnel_id: str) -> None:
    """Another server process relays a session to an agent connected to this one."""
    services: TunnelEnv = websocket.app.state.services
    credential = websocket.headers.get(HOP_HEADER.lower(), "")
    if verify(services.settings.token_secrets, "hop", credential, time.time()) != tunnel_id:
        await _deny(
            websocket,
            RunyardError("Not a valid hop credential.", code="tunnel_not_authorized", status=403),
        )
        return
    try:
        target = await _target(services, None, tunnel_id)
    except RunyardError as exc:
        await _deny(websocket, exc)
        return
    await _serve(websocket, services, target, local_only=True)
