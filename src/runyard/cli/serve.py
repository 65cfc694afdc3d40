"""``runyard serve``: one production server process (settings from the environment)."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import typer
import uvicorn
from fastapi import FastAPI

from runyard.cli.errors import exits_cleanly
from runyard.edge.protocol import HTTP_PROTOCOL
from runyard.services import Services
from runyard.settings import Settings


def ensure_port_free(host: str, port: int) -> None:
    """Fail with one clear line, before any start-up work, when the address is taken."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise OSError(
                f"cannot listen on {host}:{port} ({exc.strerror}): stop what uses it or pass --port"
            ) from None


class QuietDenials(logging.Filter):
    """uvicorn's sans-I/O WebSocket protocol logs "ASGI callable returned without completing
    handshake." at ERROR after a denial it sent correctly (the gateway's 401/403/429 answers),
    one per refused connection. The gateway always accepts, closes or denies, so the line only
    ever follows a denial: dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "ASGI callable returned without completing handshake."


def quiet_denials() -> None:
    log = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, QuietDenials) for f in log.filters):
        log.addFilter(QuietDenials())


def build_server(
    app: FastAPI,
    host: str,
    port: int,
    grace: float,
    max_header_bytes: int = 64 * 1024,
    forwarded_allow_ips: list[str] | None = None,
) -> uvicorn.Server:
    """The uvicorn server of ``runyard serve``/``dev``. X-Forwarded-For/-Proto are trusted only
    from ``forwarded_allow_ips`` (RUNYARD_HTTP_FORWARDED_ALLOW_IPS); with none, never (uvicorn
    alone would trust them from 127.0.0.1, so a local client could pick its address)."""
    services: Services = app.state.services
    quiet_denials()

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            # uvicorn stops listening, then waits up to the grace for open responses before
            # the lifespan shutdown runs. Event streams never end by themselves: tell them to
            # end now (each sends a reconnect frame) instead of being cut at the grace.
            await services.begin_shutdown()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=HTTP_PROTOCOL,  # uvicorn's, refusing in our JSON shape
        log_config=None,
        access_log=False,
        proxy_headers=bool(forwarded_allow_ips),
        forwarded_allow_ips=list(forwarded_allow_ips or []) or None,
        timeout_graceful_shutdown=max(1, int(grace)),
        ws_ping_interval=20,
        ws_ping_timeout=20,
        # httptools (the default parser) has no header limit: the app checks (RUNYARD_HTTP_*);
        # h11, when selected, refuses oversized heads itself.
        h11_max_incomplete_event_size=max_header_bytes + 16 * 1024,
    )
    return Server(config)


def tunnel_defaults(settings: Settings, host: str, port: int, *, dev: bool = False) -> None:
    """Where the other processes reach this one (the tunnels' hop), unless configured; in dev
    the tunnel origin is http://localhost:PORT (a host of its own beside 127.0.0.1)."""
    local = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    if settings.tunnel.internal_url is None:
        settings.tunnel.internal_url = f"http://{local}:{port}"
    if dev and settings.tunnel.base_url is None and local == "127.0.0.1":
        settings.tunnel.base_url = f"http://localhost:{port}"


@exits_cleanly
def serve(
    host: str = typer.Option("127.0.0.1", help="Address to bind (0.0.0.0 for all)."),
    port: int = typer.Option(8000, help="Port to listen on."),
    migrate: bool = typer.Option(False, help="Run database migrations before serving."),
) -> None:
    """Run the API server with settings from the environment (RUNYARD_DB_URL, RUNYARD_STORAGE,
    RUNYARD_SECRET_KEY, RUNYARD_PUBLIC_URL, ...). Refuses placeholder secrets."""
    from runyard.app import create_app
    from runyard.logs import configure_logging

    settings = Settings()
    ensure_port_free(host, port)
    tunnel_defaults(settings, host, port)
    os.umask(0o077)  # the database, objects and keys this process creates are owner-only
    configure_logging(settings.log_level)
    if migrate:
        from runyard.migrations import upgrade

        upgrade(settings.db.url)
    server = build_server(
        create_app(settings),
        host,
        port,
        settings.scheduler.shutdown_grace,
        settings.http.max_header_bytes,
        settings.http.forwarded_allow_ips,
    )
    asyncio.run(server.serve())
