"""The client half of the ``runyard`` command: one module per noun, all built on the SDK.

``register(app)`` adds ``login``, ``logout``, ``upload``, ``run`` and the ``tasks``,
``workflows``, ``credentials``, ``agents``, ``teams``, ``account``, ``models``,
``nodes``, ``webhooks`` and ``tunnel`` groups to the ``runyard`` typer app.
"""

from __future__ import annotations

import typer

from runyard_client.cli import (
    agents,
    credentials,
    login,
    models,
    nodes,
    run,
    tasks,
    teams,
    tunnels,
    upload,
    webhooks,
    workflows,
)


def register(app: typer.Typer) -> None:
    app.command("login")(login.login)
    app.command("logout")(login.logout)
    app.command("upload")(upload.upload)
    app.command("run")(run.run)
    app.add_typer(tasks.app, name="tasks")
    app.add_typer(workflows.app, name="workflows")
    app.add_typer(credentials.app, name="credentials")
    app.add_typer(agents.app, name="agents")
    app.add_typer(teams.app, name="teams")
    app.add_typer(teams.account, name="account")
    app.add_typer(models.app, name="models")
    app.add_typer(nodes.app, name="nodes")
    app.add_typer(webhooks.app, name="webhooks")
    app.add_typer(tunnels.app, name="tunnel")


__all__ = ["register"]
