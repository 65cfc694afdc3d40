"""Entry point of the ``runyard`` command.

One command for every install: the client commands (login, run, tasks, …) always; the agent
when the ``agent`` extra is installed; the server commands (serve, dev, db, admin, storage) when
the ``server`` extra is. Presence is decided by the extra's own dependencies
(``importlib.util.find_spec``), never by swallowing an ImportError: a broken import of our own
code fails loudly.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.util import find_spec

import typer

from runyard_client.cli import register

app = typer.Typer(
    name="runyard",
    help="Runyard: run parameterised workflows on your own machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

SERVER_EXTRA = ("fastapi", "sqlalchemy", "alembic", "uvicorn")
AGENT_EXTRA = ("websockets", "PIL")


def _has(modules: tuple[str, ...]) -> bool:
    return all(find_spec(m) is not None for m in modules)


def _mount() -> None:
    if _has(SERVER_EXTRA):
        from runyard.cli import admin, db
        from runyard.cli.dev import dev
        from runyard.cli.serve import serve
        from runyard.cli.storage import app as storage_app

        app.command("serve")(serve)
        app.command("dev")(dev)
        app.add_typer(db.app, name="db")
        app.add_typer(admin.app, name="admin")
        app.add_typer(storage_app, name="storage", help="Set up and check the object store.")
    else:
        mount_missing(app, ("serve", "dev", "db", "admin", "storage"), "server")
    if _has(AGENT_EXTRA):
        from runyard_agent.cli import agent

        app.command("agent")(agent)
    else:
        mount_missing(app, ("agent",), "agent")
    register(app)


def mount_missing(target: typer.Typer, names: tuple[str, ...], extra: str) -> None:
    """Commands of an extra that is not installed: each says how to install it (exit 2),
    instead of typer's bare "No such command"."""
    for name in names:
        target.command(
            name,
            help=f"(needs pip install 'runyard[{extra}]')",
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
            add_help_option=False,
        )(_missing(name, extra))


def _missing(command: str, extra: str) -> Callable[[typer.Context], None]:
    def missing(ctx: typer.Context) -> None:
        typer.echo(
            f"error: `runyard {command}` needs the {extra} extra, which is not installed: "
            f"pip install 'runyard[{extra}]'",
            err=True,
        )
        raise typer.Exit(2)

    return missing


_mount()


def main() -> None:
    app()
