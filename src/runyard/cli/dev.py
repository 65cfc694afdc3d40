"""``runyard dev``: the whole system on one machine, on embedded defaults.

SQLite and the embedded store under ``--data-dir``, one local agent (labels ``cpu``, capacity 2)
as a child process, the built-in workflows, and ``credentials.json`` with every key. Secrets are
generated on the first start and kept in the data directory; later starts reuse them.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import typer

from runyard.cli.errors import exits_cleanly


def _secret(data_dir: Path) -> str:
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    value = secrets.token_urlsafe(48)
    path.write_text(value)
    path.chmod(0o600)
    return value


def _write_json(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n")
    tmp.chmod(0o600)
    tmp.replace(path)


async def _ensure_credentials(settings: Any, path: Path) -> dict[str, Any]:
    from runyard.auth.repository import AuthRepository
    from runyard.bootstrap import provision
    from runyard.db.engine import Database

    db = Database(settings.db)
    try:
        if path.exists():
            saved: dict[str, Any] = json.loads(path.read_text())
            async with db.session() as session:
                if await AuthRepository(session).user_by_email(saved["email_address"]):
                    return saved
        p = await provision(db, settings)
    finally:
        await db.dispose()
    api_base = settings.public_url + "/api/v1"
    return {
        "server_url": settings.public_url,
        "api_base": api_base,
        "runtime_base": api_base + "/r",
        "team_id": p.team_id,
        "email_address": p.email_address,
        "user_password": p.user_password,
        "integration_key": p.integration_key,
        "device_key": p.device_key,
        "agent_key": p.agent_key,
    }


@exits_cleanly
def dev(
    data_dir: Path = typer.Option(Path("runyard-data"), help="Where state and files are kept."),
    host: str = typer.Option("127.0.0.1", help="Address to bind."),
    port: int = typer.Option(8000, help="Port to listen on."),
    agent: bool = typer.Option(True, help="Start the local agent (labels cpu, capacity 2)."),
    comfyui_url: str | None = typer.Option(
        None,
        "--comfyui-url",
        help="Attach this ComfyUI (e.g. http://127.0.0.1:8188) to the local agent, which then "
        "also has the label comfyui (examples/comfyui-invert.yaml runs on it).",
    ),
    comfyui_command: str | None = typer.Option(
        None,
        "--comfyui-command",
        help='Also start and supervise ComfyUI with this command (e.g. "python main.py --port '
        "{port}\"; {port} is --comfyui-url's, default http://127.0.0.1:8188).",
    ),
) -> None:
    """Start everything on one machine: server, SQLite, embedded store, a local agent."""
    from runyard.app import create_app
    from runyard.cli.serve import build_server, ensure_port_free, tunnel_defaults
    from runyard.logs import configure_logging
    from runyard.migrations import upgrade
    from runyard.settings import DatabaseSettings, Settings

    ensure_port_free(host, port)
    data_dir = data_dir.resolve()
    os.umask(0o077)  # everything this process creates (database, objects, keys) is owner-only
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    data_dir.chmod(0o700)
    public = os.environ.get("RUNYARD_PUBLIC_URL") or f"http://{host}:{port}"
    settings = Settings(
        environment="dev",
        secret_key=_secret(data_dir),
        data_dir=data_dir,
        public_url=public,
    )
    tunnel_defaults(settings, host, port, dev=True)
    if "RUNYARD_DB_URL" not in os.environ:
        settings.db = DatabaseSettings(url=f"sqlite+aiosqlite:///{data_dir / 'runyard.db'}")
    # On one's own machine a webhook receiver is http://127.0.0.1:…: allowed in dev unless
    # the environment says otherwise (`serve` keeps https and public addresses only).
    if "RUNYARD_WEBHOOK_ALLOW_HTTP" not in os.environ:
        settings.webhook.allow_http = True
    if "RUNYARD_WEBHOOK_ALLOW_PRIVATE" not in os.environ:
        settings.webhook.allow_private = True
    configure_logging(settings.log_level)
    upgrade(settings.db.url)
    creds_path = data_dir / "credentials.json"
    creds = asyncio.run(_ensure_credentials(settings, creds_path))
    creds.update(
        server_url=settings.public_url,
        api_base=settings.public_url + "/api/v1",
        runtime_base=settings.public_url + "/api/v1/r",
    )
    _write_json(creds_path, creds)
    server = build_server(
        create_app(settings),
        host,
        port,
        settings.scheduler.shutdown_grace,
        settings.http.max_header_bytes,
        settings.http.forwarded_allow_ips,
    )
    comfyui: list[str] = []
    if comfyui_url or comfyui_command:
        comfyui = ["--comfyui-url", comfyui_url or "http://127.0.0.1:8188"]
        comfyui += ["--comfyui-command", comfyui_command] if comfyui_command else []
    asyncio.run(_run(server, settings, creds, creds_path, data_dir, agent, comfyui))


def _die_with_parent() -> None:
    """Linux: the local agent gets SIGTERM (and drains) when `runyard dev` dies, however it
    dies; uvicorn re-raises SIGTERM after shutdown, which would skip our own clean-up."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


async def _run(
    server: Any,
    settings: Any,
    creds: dict[str, Any],
    creds_path: Path,
    data_dir: Path,
    with_agent: bool,
    comfyui: list[str],
) -> None:
    from rich.console import Console

    serving = asyncio.create_task(server.serve())
    while not server.started and not serving.done():
        await asyncio.sleep(0.05)
    if serving.done():
        await serving
        return
    console = Console(stderr=True)
    console.print(
        f"[bold green]Runyard is running[/bold green] at {settings.public_url}\n"
        f"  credentials: {creds_path}\n"
        f"  BASE (runtime_base): {creds['runtime_base']}\n"
        f"  API docs: {settings.public_url}/docs"
    )
    child = None
    if with_agent:
        work = data_dir / "agent-work"
        work.mkdir(exist_ok=True)
        env = dict(
            os.environ, RUNYARD_URL=settings.public_url, RUNYARD_AGENT_KEY=creds["agent_key"]
        )
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "runyard_agent",
            "--agent-id",
            "local-agent",
            "--labels",
            "cpu,comfyui" if comfyui else "cpu",
            "--capacity",
            "2",
            "--work-dir",
            str(work),
            *comfyui,
            env=env,
            preexec_fn=_die_with_parent,
        )
    try:
        await serving
    finally:
        if child is not None and child.returncode is None:
            child.terminate()
            try:
                await asyncio.wait_for(child.wait(), 15)
            except TimeoutError:
                child.kill()
