"""The application factory: ``create_app(settings)`` builds the services container
(``app.state.services``); the lifespan starts and stops it. Nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.routing import Route

from runyard import __version__
from runyard.api import mount_routers
from runyard.clock import Clock, SystemClock
from runyard.dashboard import mount_dashboard
from runyard.edge import install_edge
from runyard.errors import ErrorBody, install_error_handlers
from runyard.mcp import McpServer
from runyard.metrics import install_metrics
from runyard.middleware import RequestIdMiddleware
from runyard.services import Services
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard.tunnels.origin import TunnelOriginMiddleware

DESCRIPTION = """
Runyard runs parameterised workflows (ComfyUI graphs, Python functions) on your own agents.
Upload inputs with a presigned PUT (`POST /api/v1/r/files/presign`), submit a run, follow it with
Server-Sent Events, and download outputs through signed links.

Authenticate with `Authorization: Bearer <token>`: a session token from `/api/v1/auth/login`,
an integration key (`sk-`), a device key (`dk-`) or, for the agent gateway only, an agent key
(`ak-`). Every error answers `{"error_message", "error_code", "request_id"}`.
"""


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    storage: Storage | None = None,
    background: bool = True,
) -> FastAPI:
    """Build the ASGI app and its services. ``background=False`` skips the scheduler and
    sweeper loops (tests drive them by hand)."""
    services = Services.build(settings, clock or SystemClock(), storage)
    mcp = McpServer(services)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await services.start(background=background)
        try:
            async with mcp.run():  # the MCP session manager's task group
                yield
        finally:
            await services.stop()

    app = FastAPI(
        title="Runyard API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served from our own files by install_edge, never from a CDN
        redoc_url=None,
    )
    app.state.services = services
    install_metrics(app, services.db)
    install_edge(app, settings)
    app.add_middleware(RequestIdMiddleware)
    # Outermost: the tunnel origin's requests are the tunnelled app's, never the API's.
    app.add_middleware(TunnelOriginMiddleware, services=services)
    install_error_handlers(app)
    mount_routers(app)
    # Streamable HTTP (MCP) at exactly /mcp, POST only: the server is stateless, so it has no
    # stream to offer on GET and no session to end on DELETE; both answer 405, as the MCP spec
    # allows (a GET stream would otherwise stay open for nothing). Not in the OpenAPI document
    # (it is JSON-RPC; see docs/mcp.md).
    app.router.routes.append(
        Route("/mcp", endpoint=mcp, methods=["POST"], include_in_schema=False),
    )
    mount_dashboard(app)

    @app.get(
        "/healthz",
        tags=["health"],
        operation_id="healthz",
        responses={503: {"model": ErrorBody, "description": "Not ready."}},
    )
    async def healthz() -> Any:
        """200 when the server is ready (database and storage reachable)."""
        if not services.ready:
            return JSONResponse(
                {"error_message": "starting up", "error_code": "not_ready", "request_id": ""},
                status_code=503,
            )
        return {"status": "ok", "version": __version__}

    return app
