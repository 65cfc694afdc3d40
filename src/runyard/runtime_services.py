"""Start and stop the process-wide services the lifespan owns."""

from __future__ import annotations

import logging

from fastapi import FastAPI

from runyard.db.engine import Database
from runyard.gateway.registry import Gateway
from runyard.settings import Settings
from runyard.storage.base import Storage
from runyard_protocol import CloseReason

log = logging.getLogger("runyard.app")


async def start_services(
    app: FastAPI, settings: Settings, *, storage: Storage | None, background: bool
) -> None:
    from runyard.events.hub import EventHub
    from runyard.scheduler import Dispatcher, Reaper

    db = Database(settings.db)
    app.state.db = db
    if storage is None:
        from runyard.storage import build_storage

        storage = build_storage(settings)
    app.state.storage = storage
    from runyard.files.quota import DailyUsage
    from runyard.ratelimit import build_rate_limiter

    app.state.usage = DailyUsage()
    app.state.rate_limiter = build_rate_limiter(settings, db)
    gateway = Gateway()
    app.state.gateway = gateway
    hub = EventHub()
    app.state.events = hub
    dispatcher = Dispatcher(db, settings, storage, app.state.clock, gateway)
    reaper = Reaper(db, settings, app.state.clock, gateway)
    app.state.dispatcher, app.state.reaper = dispatcher, reaper

    def on_commit(changed: set[str], wake: bool) -> None:
        if changed:
            hub.publish(changed)
        if wake:
            dispatcher.wake()

    db.listeners.append(on_commit)
    app.state.background = []
    if background:
        dispatcher.start()
        reaper.start()
        from runyard.retention.sweeper import Sweeper

        sweeper = Sweeper(db, settings, storage, app.state.clock)
        sweeper.start()
        app.state.background = [dispatcher, reaper, sweeper]
    app.state.ready = True
    log.info("runyard ready: storage=%s db=%s", storage.backend, db.engine.dialect.name)


async def stop_services(app: FastAPI) -> None:
    app.state.ready = False
    gateway: Gateway | None = getattr(app.state, "gateway", None)
    if gateway is not None:
        await gateway.close_all(CloseReason.SERVER_SHUTDOWN)
    for service in getattr(app.state, "background", []):
        await service.stop()
    storage: Storage | None = getattr(app.state, "storage", None)
    if storage is not None:
        await storage.close()
    db: Database | None = getattr(app.state, "db", None)
    if db is not None:
        await db.dispose()
