"""Mounts each domain's router; nothing else lives here."""

from __future__ import annotations

from fastapi import FastAPI

from runyard.agents.endpoints import router as agents_router
from runyard.auth.endpoints import router as auth_router
from runyard.credentials.endpoints import router as credentials_router
from runyard.events.endpoints import router as events_router
from runyard.files.endpoints import router as files_router
from runyard.gateway.endpoints import router as gateway_router
from runyard.invitations.endpoints import router as invitations_router
from runyard.library.endpoints import router as models_router
from runyard.library.package_endpoints import router as node_packages_router
from runyard.library.uploads import router as model_uploads_router
from runyard.pairing.endpoints import router as pairing_router
from runyard.storage.endpoints import router as storage_router
from runyard.tasks.endpoints import router as tasks_router
from runyard.tasks.run_endpoints import runs as runs_router
from runyard.tasks.validate_endpoints import checks as run_checks_router
from runyard.teams.account import router as account_router
from runyard.teams.endpoints import router as teams_router
from runyard.tunnels.endpoints import router as tunnels_router
from runyard.tunnels.sockets import router as tunnel_sockets_router
from runyard.uploads.endpoints import router as uploads_router
from runyard.webhooks.endpoints import router as webhooks_router
from runyard.workflows.endpoints import manage as workflows_router
from runyard.workflows.endpoints import runtime as runtime_workflows_router


def mount_routers(app: FastAPI) -> None:
    # Routes are matched in order: the hot ones (runs, presigns, tasks and their event streams,
    # the agents' socket, the embedded store) first, the management API after. Each router is
    # included in the app directly: FastAPI 0.165 walks every route of an included router (and
    # of the routers it includes) on each request to check that nothing changed, so one
    # "/api/v1" router holding them all cost ~15% of a run's CPU.
    app.include_router(storage_router)
    for router in (
        runs_router,
        runtime_workflows_router,
        run_checks_router,
        files_router,
        tasks_router,
        events_router,
        gateway_router,
        uploads_router,
        auth_router,
        teams_router,
        invitations_router,
        account_router,
        credentials_router,
        workflows_router,
        agents_router,
        webhooks_router,
        pairing_router,
        model_uploads_router,
        models_router,
        node_packages_router,
        tunnels_router,
        tunnel_sockets_router,
    ):
        app.include_router(router, prefix="/api/v1")
