"""A real uvicorn server (configured as ``runyard serve`` configures it) in a thread, for tests
of what only a real HTTP server shows: keep-alive, header parsing, WebSocket denials."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runyard.bootstrap import Provisioned, provision
from runyard.cli.serve import build_server
from runyard.db.engine import Database
from runyard.settings import Settings
from tests.support.s3 import free_port


def provision_team(settings: Settings, email: str = "live@example.com") -> Provisioned:
    async def run() -> Provisioned:
        db = Database(settings.db)
        try:
            return await provision(db, settings, email=email, password="live-password")
        finally:
            await db.dispose()

    return asyncio.run(run())


@contextmanager
def live_server(app: Any, port: int, settings: Settings) -> Iterator[str]:
    server: Any = build_server(
        app,
        "127.0.0.1",
        port,
        1.0,
        settings.http.max_header_bytes,
        settings.http.forwarded_allow_ips,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def live_settings(make: Any, db_url: str, data: Path, **overrides: Any) -> tuple[Settings, int]:
    port = free_port()
    settings: Settings = make(db_url, data, **overrides)
    settings.public_url = f"http://127.0.0.1:{port}"
    return settings, port
