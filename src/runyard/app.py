"""The application factory: ``create_app(settings)``; the lifespan builds every resource.

Nothing is built at import time. Resources live in ``app.state``: settings, clock, db, storage,
the gateway (live agent connections), the dispatcher (scheduler loop) and the retention sweeper.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from runyard import __version__
from runyard.api import mount_routers
from runyard.clock import Clock, SystemClock
from runyard.db.engine import Database
from runyard.edge import install_edge
from runyard.errors import ErrorBody, install_error_handlers
from runyard.middleware import RequestIdMiddleware
from runyard.settings import Settings
from runyard.storage.base import Storage

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
    """Build the ASGI app. ``background=False`` skips the scheduler/sweeper loops (unit tests)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from runyard.runtime_services import start_services, stop_services

        await start_services(app, settings, storage=storage, background=background)
        try:
            yield
        finally:
            await stop_services(app)

    app = FastAPI(
        title="Runyard API",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,  # served from our own files by install_edge, never from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.clock = clock or SystemClock()
    install_edge(app, settings)
    app.add_middleware(RequestIdMiddleware)
    install_error_handlers(app)
    mount_routers(app)

    @app.get(
        "/healthz",
        tags=["health"],
        operation_id="healthz",
        responses={503: {"model": ErrorBody, "description": "Not ready."}},
    )
    async def healthz() -> Any:
        """200 when the server is ready (database and storage reachable)."""
        db: Database | None = getattr(app.state, "db", None)
        if db is None or not getattr(app.state, "ready", False):
            return JSONResponse(
                {"error_message": "starting up", "error_code": "not_ready", "request_id": ""},
                status_code=503,
            )
        return {"status": "ok", "version": __version__}

    return app
