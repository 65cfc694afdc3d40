"""Start and stop the process-wide services the lifespan owns."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from runyard.db.engine import Database
from runyard.settings import Settings
from runyard.storage.base import Storage

log = logging.getLogger("runyard.app")


async def start_services(
    app: FastAPI, settings: Settings, *, storage: Storage | None, background: bool
) -> None:
    app.state.db = Database(settings.db)
    if storage is None:
        from runyard.storage import build_storage

        storage = build_storage(settings)
    app.state.storage = storage
    app.state.ready = True
    log.info("runyard ready: storage=%s db=%s", storage.backend, app.state.db.engine.dialect.name)


async def stop_services(app: FastAPI) -> None:
    app.state.ready = False
    storage: Storage | None = getattr(app.state, "storage", None)
    if storage is not None:
        await storage.close()
    db: Database | None = getattr(app.state, "db", None)
    if db is not None:
        await db.dispose()
