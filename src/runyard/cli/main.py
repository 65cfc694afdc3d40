"""Entry point of the ``runyard`` command."""

from __future__ import annotations

import typer

from runyard.cli import admin, db
from runyard.cli.dev import dev
from runyard.cli.serve import serve

app = typer.Typer(
    name="runyard",
    help="Runyard: run parameterised workflows on your own machines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve)
app.command("dev")(dev)
app.add_typer(db.app, name="db")
app.add_typer(admin.app, name="admin")


def _mount_optional() -> None:
    """Sub-apps that live in other packages (storage, the agent, client commands)."""
    try:
        from runyard.cli.storage import app as storage_app

        app.add_typer(storage_app, name="storage", help="Set up and check the object store.")
    except ImportError:  # pragma: no cover - during bring-up
        pass
    try:
        from runyard_agent.cli import agent

        app.command("agent")(agent)
    except ImportError:  # pragma: no cover
        pass
    try:
        from runyard_client.cli import register

        register(app)
    except ImportError:  # pragma: no cover
        pass


_mount_optional()


def main() -> None:
    app()
