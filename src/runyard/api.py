"""Mounts each domain's router; nothing else lives here."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from runyard.agents.endpoints import router as agents_router
from runyard.auth.endpoints import router as auth_router
from runyard.credentials.endpoints import router as credentials_router
from runyard.events.endpoints import router as events_router
from runyard.files.endpoints import router as files_router
from runyard.gateway.endpoints import router as gateway_router
from runyard.pairing.endpoints import router as pairing_router
from runyard.storage.endpoints import router as storage_router
from runyard.tasks.endpoints import router as tasks_router
from runyard.teams.endpoints import router as teams_router
from runyard.uploads.endpoints import router as uploads_router
from runyard.webhooks.endpoints import router as webhooks_router
from runyard.workflows.endpoints import manage as workflows_router
from runyard.workflows.endpoints import runtime as runtime_workflows_router


def mount_routers(app: FastAPI) -> None:
    # Routes are matched in order: the hot ones (runs, presigns, tasks and their event streams,
    # the agents' socket, the embedded store) first, the management API after.
    api = APIRouter(prefix="/api/v1")
    api.include_router(runtime_workflows_router)
    api.include_router(files_router)
    api.include_router(tasks_router)
    api.include_router(events_router)
    api.include_router(gateway_router)
    api.include_router(uploads_router)
    api.include_router(auth_router)
    api.include_router(teams_router)
    api.include_router(credentials_router)
    api.include_router(workflows_router)
    api.include_router(agents_router)
    api.include_router(webhooks_router)
    api.include_router(pairing_router)
    app.include_router(storage_router)
    app.include_router(api)
